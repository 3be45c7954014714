import numpy as np
import pytest

from workbench.errors import PredictionsError
from workbench.io.predictions import predictions_from_field, read_predictions_csv


def test_csv_reorders_columns_and_resolves_relative_paths(tmp_path):
    csv = tmp_path / "preds.csv"
    csv.write_text("filepath,dog,cat\nimgs/a.png,0.2,0.6\n/abs/b.png,1,0\n")
    preds = read_predictions_csv(csv, ["cat", "dog"])
    np.testing.assert_allclose(preds[str(tmp_path / "imgs" / "a.png")], [0.75, 0.25])
    np.testing.assert_allclose(preds["/abs/b.png"], [0.0, 1.0])


@pytest.mark.parametrize("text,needle", [
    ("path,cat,dog\n", "first column must be 'filepath'"),
    ("filepath,cat\n", "missing \\['dog'\\]"),
    ("filepath,cat,dog,cow\n", "unknown \\['cow'\\]"),
    ("filepath,cat,dog\na.png,0.5\n", "line 2: 2 values"),
    ("filepath,cat,dog\na.png,x,0.5\n", "line 2, column 'cat': 'x' is not a number"),
    ("filepath,cat,dog\na.png,-1,0.5\n", "line 2, column 'cat': '-1' is not a probability"),
    ("filepath,cat,dog\na.png,0.5,nan\n", "line 2, column 'dog': 'nan' is not a probability"),
    ("filepath,cat,dog\na.png,0.5,inf\n", "column 'dog': 'inf' is not a probability"),
    ("filepath,cat,dog\na.png,0,0\n", "line 2: every probability is 0"),
    ("filepath,cat,dog\n,0.5,0.5\n", "line 2: the filepath is empty"),
    ("filepath,cat,dog\na.png,0.5,0.5\nb.png,1,0\n./a.png,0.2,0.8\n", "line 4: a second row for './a.png' \\(line 2\\)"),
    ("", "is empty"),
])
def test_csv_errors_say_what_to_fix(tmp_path, text, needle):
    csv = tmp_path / "p.csv"
    csv.write_text(text)
    with pytest.raises(PredictionsError, match=needle):
        read_predictions_csv(csv, ["cat", "dog"])


def test_csv_accepts_an_excel_byte_order_mark(tmp_path):
    csv = tmp_path / "excel.csv"
    csv.write_bytes("filepath,cat,dog\r\na.png,0.9,0.1\r\n".encode("utf-8-sig"))
    preds = read_predictions_csv(csv, ["cat", "dog"])
    np.testing.assert_allclose(preds[str(tmp_path / "a.png")], [0.9, 0.1])


def test_field_values():
    class Cls:
        logits = [0.0, np.log(3.0)]

    out = predictions_from_field([None, [1, 3], Cls()], ["a", "b"])
    assert out[0] is None
    np.testing.assert_allclose(out[1], [0.25, 0.75])
    np.testing.assert_allclose(out[2], [0.25, 0.75])
    with pytest.raises(PredictionsError, match="2 non-negative numbers"):
        predictions_from_field([[1, 2, 3]], ["a", "b"])


def test_detector_category_ids_index_the_class_list_of_a_dataset_not_loaded_from_coco(tmp_path, monkeypatch):
    """VOC, YOLO, folders: no COCO categories, so ``category_id`` is the index in the sorted class list (what the
    report lists); a ``category_name`` must be one of the classes."""
    import json

    from workbench.errors import PredictionsError
    from workbench.io.object_predictions import read_object_predictions

    image = tmp_path / "a.png"
    preds = tmp_path / "preds.json"
    preds.write_text(json.dumps([{"file_name": "a.png", "category_id": 1, "bbox": [10, 10, 20, 20], "score": 0.9},
                                 {"file_name": "a.png", "category_name": "cat", "bbox": [0, 0, 5, 5], "score": 0.8}]))
    got = read_object_predictions(str(preds), filepaths=[str(image)], sizes=[(100, 100)], dataset=None, info={},
                                  roots=[str(tmp_path)], classes=["dog", "cat", "dog"])
    assert got.labels == (("dog", "cat"),) and got.boxes[0][0] == (0.1, 0.1, 0.2, 0.2)
    monkeypatch.chdir(tmp_path)  # a relative path is exported as the file's absolute path
    again = read_object_predictions("preds.json", filepaths=[str(image)], sizes=[(100, 100)], dataset=None, info={},
                                    roots=[str(tmp_path)], classes=["dog", "cat", "dog"])
    assert again.source == str(preds) and got.source == str(preds)
    preds.write_text(json.dumps([{"file_name": "a.png", "category_name": "giraffe", "bbox": [1, 1, 5, 5],
                                  "score": 0.8}]))
    with pytest.raises(PredictionsError, match="unknown category_name 'giraffe'"):
        read_object_predictions(str(preds), filepaths=[str(image)], sizes=[(100, 100)], dataset=None, info={},
                                roots=[str(tmp_path)], classes=["cat", "dog"])
