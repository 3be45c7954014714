"""Bad-input catalogue: a detector's predictions (``--predictions``) on a COCO detection dataset.

Each case states its expected exit code and a phrase of the message, and runs inside ``untouched``:
neither the dataset nor a predictions file outside it may change. A bad file is an input error (exit 2)
naming the entry and what to fix; it never falls back to anything.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.catalogue.harness import run_cli, untouched
from tests.checks.detection_fixtures import planted_coco

FAST = ("--embedder", "none", "--no-write-back", "--quiet")


def _entry(**changes) -> dict:
    return {"image_id": 1, "category_id": 1, "bbox": [10, 10, 30, 30], "score": 0.9, **changes}


# (case, file content: bytes, a JSON value, or None for no file; expected exit; phrase)
CASES = [
    ("missing file", None, 2, "does not exist"),
    ("empty file", b"", 2, "is empty"),
    ("not JSON", b"image_id,bbox\n1,2\n", 2, "is not JSON (line 1, column 1"),
    ("not UTF-8", b'[{"file_name": "caf\xe9.png"}]', 2, "is not UTF-8 text (byte 0xe9"),
    ("an object, not a list", {"predictions": []}, 2, "holds a JSON dict; expected a JSON list"),
    ("a COCO dataset, not results", "labels.json", 2, "is a COCO dataset (images, annotations), not detector"),
    ("entry not an object", [[1, 1, 10, 10, 30, 30, 0.9]], 2, "entry 0: list is not an object"),
    ("bbox of three numbers", [_entry(bbox=[1, 2, 3])], 2, "bbox [1, 2, 3] is not [x, y, w, h]"),
    ("bbox with text", [_entry(bbox=[1, 2, "w", 4])], 2, "holds a value that is not a number"),
    ("negative box", [_entry(bbox=[-5, 10, 30, 30])], 2, "must be finite, non-negative"),
    ("zero width", [_entry(bbox=[5, 10, 0, 30])], 2, "with a width and height above 0"),
    ("NaN box", b'[{"image_id": 1, "category_id": 1, "bbox": [NaN, 1, 2, 3], "score": 0.5}]', 2,
     "must be finite, non-negative"),
    ("NaN score", b'[{"image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 3], "score": NaN}]', 2,
     "score nan is not a confidence in [0, 1]"),
    ("score above 1", [_entry(score=1.5)], 2, "score 1.5 is not a confidence in [0, 1]"),
    ("no score", [{k: v for k, v in _entry().items() if k != "score"}], 2, "score None is not a number"),
    ("unknown category", [_entry(category_id=9)], 2, "unknown category_id 9; the dataset's categories are 1=cat"),
    ("unknown category name", [_entry(category_id=None) | {"category_name": "giraffe"}], 2,
     "unknown category_name 'giraffe'; the dataset's classes are"),
    ("no image key", [{k: v for k, v in _entry().items() if k != "image_id"}], 2, "no 'image_id' or 'file_name'"),
    ("image ids that match nothing", [_entry(image_id=700), _entry(image_id=701)], 2,
     "match no image of the dataset (2 entries name images it does not hold)"),
    ("file names that match nothing", [_entry(image_id=None) | {"file_name": "elsewhere/x.png"}], 2,
     "match no image"),
    ("some ids match nothing", [_entry(), _entry(image_id=700)], 0, ""),
    ("a classification CSV", "csv", 2, "a CSV of class probabilities is for classification"),
    ("field that does not exist", "field:detector", 2, "is neither a file nor a field of the dataset"),
    ("field without confidences", "field:ground_truth", 2, "score None is not a number"),
]


@pytest.mark.parametrize("case, content, code, phrase", CASES, ids=[c[0] for c in CASES])
def test_bad_object_predictions_are_input_errors(tmp_path: Path, unique_name: str, case, content, code, phrase):
    root = tmp_path / "coco"
    planted_coco(root)
    preds = root / "predictions.json"
    if isinstance(content, bytes):
        preds.write_bytes(content)
    elif isinstance(content, str) and content.startswith("field:"):
        preds = content.removeprefix("field:")  # type: ignore[assignment]
    elif content == "csv":
        preds = root / "predictions.csv"
        preds.write_text("filepath,cat,dog\n")
    elif content == "labels.json":
        preds = root / "labels.json"
    elif content is not None:
        if isinstance(content, list):  # a key set to None is left out
            content = [{k: v for k, v in e.items() if v is not None} if isinstance(e, dict) else e for e in content]
        preds.write_text(json.dumps(content))
    out_json = tmp_path / "a.json"
    with untouched(root):
        out = run_cli("audit", root, "--name", unique_name, *FAST, "--predictions", preds, "--json", out_json)
    assert out.code == code, out.text[-2000:]
    if code == 2:
        assert phrase in out.stderr and "Traceback" not in out.text, out.stderr[-2000:]
        assert not out_json.exists()
    else:
        doc = json.loads(out_json.read_text())
        assert doc["checks"]["object_labels"]["state"] == "ran"
        assert doc["object_label_issues"]["facts"]["unmatched_predictions"] == 1


def test_a_predictions_file_outside_the_dataset_folder_is_refused_unless_allowed(tmp_path: Path,
                                                                                 unique_name: str):
    """The dataset root bounds what is read: a results file outside it (or a symlink inside it that leads
    out) is an input error; ``--allow-outside-root`` reads it, and the planted errors are found."""
    root = tmp_path / "coco"
    planted = planted_coco(root)
    outside = tmp_path / "elsewhere" / "predictions.json"
    outside.parent.mkdir()
    outside.write_text(json.dumps(planted.results))
    link = root / "linked.json"
    link.symlink_to(outside)
    out_json = tmp_path / "a.json"
    for preds in (outside, link):
        with untouched(root, outside.parent):
            out = run_cli("audit", root, "--name", unique_name, *FAST, "--predictions", preds, "--json", out_json)
        assert out.code == 2 and "resolves outside the dataset folder" in out.stderr, out.text[-2000:]
        assert "--allow-outside-root" in out.stderr and not out_json.exists()
    import fiftyone as fo

    fo.delete_dataset(unique_name)  # loaded afresh: re-loading a COCO folder under one name adds its boxes again
    with untouched(root, outside.parent):
        out = run_cli("audit", root, "--name", unique_name, *FAST, "--predictions", outside, "--allow-outside-root",
                      "--json", out_json, "--fail-on", "object-label-issues>2")
    assert out.code == 1, out.text[-2000:]  # three planted errors: the gate fails
    doc = json.loads(out_json.read_text())
    assert doc["object_label_issues"]["counts"] == {"swapped": 1, "badly_located": 1, "overlooked": 1}
    assert "object-label-issues>2: 3" in out.stderr
