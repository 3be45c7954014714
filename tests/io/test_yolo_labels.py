"""YOLO label parsing: one finding per bad line, negatives kept, FiftyOne's layout conventions."""

import pytest

from tests.conftest import tree_digest, write_image
from workbench.errors import SourceError
from workbench.io.yolo_labels import check_box, labels_path_for, parse_label_lines, parse_names, read_yolo_dataset

CLASSES = {0: "car", 1: "bus"}


def _parse(*lines):
    return parse_label_lines(lines, CLASSES, source="/d/labels/a.txt", file_name="/d/images/a.png",
                             display="labels/a.txt")


def test_valid_lines_become_fiftyone_boxes():
    boxes, problems = _parse("0 0.5 0.5 0.2 0.4", "", "1 0.25 0.25 0.1 0.1 0.9", "1 0.1 0.1 0.3 0.1 0.2 0.3")
    assert problems == []
    assert [b.label for b in boxes] == ["car", "bus", "bus"]
    assert boxes[0].bounding_box == pytest.approx((0.4, 0.3, 0.2, 0.4))  # top-left x, y, width, height
    assert boxes[1].confidence == 0.9 and boxes[0].confidence is None
    assert boxes[2].bounding_box == pytest.approx((0.1, 0.1, 0.2, 0.2))  # a polygon's extent


@pytest.mark.parametrize("line,needle,kept", [
    ("7 0.5 0.5 0.2 0.2", "line 2: class id 7 is out of range (data.yaml names ids 0-1); box dropped", 0),
    ("-1 0.5 0.5 0.2 0.2", "class id -1 is out of range", 0),
    ("0.5 0.5 0.5 0.2 0.2", "class id 0.5 is out of range", 0),
    ("0 320 240 50 50", "entirely outside the image; box dropped (values above 1 look like pixels", 0),
    ("0 -0.3 0.5 0.2 0.2", "entirely outside the image; box dropped", 0),
    ("0 0.5 1.2 0.2 0.2", "entirely outside", 0),
    ("0 0.5 0.5 0 0.2", "zero or negative width or height; box dropped", 0),
    ("0 0.5 0.5 0.2 -0.1", "zero or negative width or height", 0),
    ("0 0.95 0.5 0.2 0.2", "extends past the right edge; clipped to the image", 1),
    ("0 0.02 0.01 0.1 0.1", "extends past the left and top edges; clipped", 1),
    ("0 0.5 0.5 1.2 0.3", "past the left and right edges; clipped to the image (values above 1", 1),
    ("0 0.5 0.5 0.2", "'0 0.5 0.5 0.2' is not 'class x_center y_center width height' (4 fields", 0),
    ("0 0.5 0.5 0.2 0.2 0.9 0.1 0.3", "(8 fields", 0),
    ("hello world", "line 2: 'hello world' is not 'class", 0),
    ("0 abc 0.5 0.2 0.2", "is not a finite number; line skipped", 0),
    ("0 nan 0.5 0.2 0.2", "is not a finite number", 0),
    ("0 inf 0.5 0.2 0.2", "is not a finite number", 0),
])
def test_bad_line_is_reported_with_file_and_line(line, needle, kept):
    boxes, problems = _parse("1 0.5 0.5 0.2 0.2", line)
    assert len(boxes) == 1 + kept
    assert len(problems) == 1, problems
    p = problems[0]
    assert needle in p["message"] and p["message"].startswith("labels/a.txt line 2: ")
    assert p == {"source": "/d/labels/a.txt", "kind": "annotation", "message": p["message"],
                 "file_name": "/d/images/a.png"}


def test_clipped_box_stays_inside_the_image():
    (box,), _ = _parse("0 0.95 0.5 0.2 0.2")
    x, y, w, h = box.bounding_box
    assert x == pytest.approx(0.85) and x + w == pytest.approx(1.0) and h == pytest.approx(0.2)


def test_rounding_overshoot_is_clipped_silently():
    (box,), problems = _parse("0 0.9500005 0.5 0.100002 0.2")
    assert problems == [] and sum(box.bounding_box[::2]) <= 1.0


def test_check_box_keeps_an_inside_box():
    assert check_box(0.1, 0.2, 0.3, 0.4) == ((0.1, 0.2, 0.19999999999999998, 0.2), None)


@pytest.mark.parametrize("names,expected", [
    (["car", "bus"], {0: "car", 1: "bus"}),
    ({0: "car", 1: "bus"}, {0: "car", 1: "bus"}),
    ({"0": "car", 2: "bus"}, {0: "car", 2: "bus"}),
    ({1: 7}, {1: "7"}),
])
def test_names_list_or_mapping(names, expected):
    assert parse_names(names) == expected


@pytest.mark.parametrize("names,needle", [
    (None, "no 'names'"), ("car", "no 'names'"), ([], "empty"), ({"a": "car"}, "not an integer"),
    ({-1: "car"}, "not a class id"), ([["car"]], "must be strings"),
])
def test_unusable_names_raise(names, needle):
    with pytest.raises(SourceError, match=needle):
        parse_names(names)


def test_labels_path_follows_ultralytics():
    assert labels_path_for("/d/images/train/sub/a.jpeg") == "/d/labels/train/sub/a.txt"
    assert labels_path_for("/d/images/x/images/a.png") == "/d/images/x/labels/a.txt"  # the last images/
    assert labels_path_for("/d/train/a.png") == "/d/train/a.txt"  # no images/: beside the image


def _yolo(root, *, yaml="train: images/train\nval: images/val\nnames: [car, bus]\n"):
    for split, names in (("train", ("a", "b")), ("val", ("c",))):
        for seed, name in enumerate(names):
            write_image(root / "images" / split / f"{name}.png", seed + (10 if split == "val" else 0))
            lbl = root / "labels" / split / f"{name}.txt"
            lbl.parent.mkdir(parents=True, exist_ok=True)
            lbl.write_text("0 0.5 0.5 0.2 0.2\n1 0.3 0.3 0.1 0.1\n")
    (root / "data.yaml").write_text(yaml)
    return root / "data.yaml"


def test_read_dataset_folders(tmp_path):
    yaml_path = _yolo(tmp_path)
    (tmp_path / "labels" / "train" / "b.txt").write_text("0 0.5 0.5 0.2 0.2\n5 0.5 0.5 0.2 0.2\ngarbage\n")
    (tmp_path / "labels" / "train" / "a.txt").unlink()  # a negative
    (tmp_path / "labels" / "train" / "ghost.txt").write_text("0 0.5 0.5 0.2 0.2\n")  # no image
    (tmp_path / "images" / "train" / "notes.md").write_text("not an image")
    ds = read_yolo_dataset(yaml_path)
    assert ds.classes == ("car", "bus")
    assert [(img.split, img.filepath.rsplit("/", 1)[1], len(img.boxes)) for img in ds.images] == [
        ("train", "a.png", 0), ("train", "b.png", 1), ("val", "c.png", 2)]
    assert ds.images[0].labels_path is None and ds.n_without_labels == 1
    messages = [p["message"] for p in ds.problems]
    assert messages == [
        "labels/train/b.txt line 2: class id 5 is out of range (data.yaml names ids 0-1); box dropped",
        "labels/train/b.txt line 3: 'garbage' is not 'class x_center y_center width height' (1 fields; expected 5, "
        "6 with a confidence, or a polygon's class and x y pairs); line skipped",
        "labels/train/ghost.txt has no image (expected one named ghost.<jpg|png|...> under images/); "
        "its labels were ignored"]
    assert ds.problems[0]["file_name"] == str(tmp_path / "images" / "train" / "b.png")
    assert ds.problems[2]["file_name"] is None and ds.problems[2]["source"] == str(tmp_path / "labels/train/ghost.txt")


def test_read_dataset_txt_lists_path_key_and_names_mapping(tmp_path):
    root = tmp_path / "ds"
    _yolo(root)
    (root / "train.txt").write_text("./images/train/a.png\n\nimages/train/b.png\n./images/train/a.png\n")
    (root / "val.txt").write_text(f"{root / 'images' / 'val' / 'c.png'}\nimages/val/gone.png\n")
    yaml_path = tmp_path / "data.yaml"  # outside the dataset folder, pointing at it with path:
    yaml_path.write_text("path: ds\ntrain: train.txt\nval: [val.txt]\ntest: \nnames:\n  0: car\n  2: bus\n")
    (root / "labels" / "train" / "b.txt").write_text("2 0.5 0.5 0.2 0.2\n1 0.5 0.5 0.2 0.2\n")
    ds = read_yolo_dataset(yaml_path)
    assert ds.classes == ("car", "1", "bus")  # FiftyOne's list: a gap is named by its id
    rows = [(img.split, img.filepath.rsplit("/", 1)[1], [b.label for b in img.boxes]) for img in ds.images]
    assert rows == [("train", "a.png", ["car"]), ("train", "b.png", ["bus"]),
                    ("val", "c.png", ["car"]), ("val", "gone.png", [])]  # a listed file that is missing stays
    assert [p["message"] for p in ds.problems] == [  # id 1 is the gap in names; a.png is read once
        f"ds/labels/{f} line 2: class id 1 is out of range (data.yaml names ids 0-2); box dropped"
        for f in ("train/a.txt", "train/b.txt", "val/c.txt")]
    assert ds.images[0].labels_path == str(root / "labels" / "train" / "a.txt")


def test_missing_split_entry_is_reported_and_the_rest_read(tmp_path):
    yaml_path = _yolo(tmp_path, yaml="train: images/train\nval: images/nowhere\nnames: [car, bus]\n")
    ds = read_yolo_dataset(yaml_path)
    assert {img.split for img in ds.images} == {"train"}
    assert ["data.yaml val: images/nowhere does not exist" in p["message"] for p in ds.problems] == [True]


def test_labels_beside_images_are_read_and_other_txt_files_left_alone(tmp_path):
    write_image(tmp_path / "train" / "a.png", 1)
    (tmp_path / "train" / "a.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (tmp_path / "train" / "README.txt").write_text("hello\n")
    (tmp_path / "data.yaml").write_text("train: train\nnames: [car]\n")
    ds = read_yolo_dataset(tmp_path / "data.yaml")
    assert [len(img.boxes) for img in ds.images] == [1] and ds.problems == ()


def test_byte_order_mark_and_windows_line_ends_are_read(tmp_path):
    yaml_path = _yolo(tmp_path)
    (tmp_path / "labels" / "val" / "c.txt").write_bytes(b"\xef\xbb\xbf0 0.5 0.5 0.2 0.2\r\n1 0.5 0.5 0.2 0.2\r\n")
    ds = read_yolo_dataset(yaml_path)
    assert [b.label for b in ds.images[2].boxes] == ["car", "bus"] and ds.problems == ()


def test_non_utf8_label_file_is_reported(tmp_path):
    yaml_path = _yolo(tmp_path)
    (tmp_path / "labels" / "val" / "c.txt").write_bytes(b"\xff\xfe\x00garbage")
    ds = read_yolo_dataset(yaml_path)
    assert len(ds.images) == 3 and ds.images[2].boxes == ()
    assert "labels/val/c.txt can't be read as text" in ds.problems[0]["message"]


@pytest.mark.parametrize("yaml,needle", [
    ("train: [unclosed\n", "not valid YAML"),
    ("train: images/train\n", "no 'names'"),
    ("names: [car]\n", "names no train/val/test"),
    ("train: images/none\nnames: [car]\n", "no images found"),
])
def test_unusable_yaml_raises(tmp_path, yaml, needle):
    (tmp_path / "data.yaml").write_text(yaml)
    with pytest.raises(SourceError, match=needle):
        read_yolo_dataset(tmp_path / "data.yaml")


def test_load_keeps_negatives_and_reports_bad_lines(tmp_path, unique_name):
    from workbench.io.loading import load
    from workbench.io.table import to_table

    yaml_path = _yolo(tmp_path)
    (tmp_path / "labels" / "train" / "a.txt").unlink()
    (tmp_path / "labels" / "val" / "c.txt").write_text("0 0.5 0.5 0.2 0.2\n9 0.5 0.5 0.2 0.2\n0 0.5 0.5 0.2\n")
    before = tree_digest(tmp_path)
    ds = load(yaml_path, name=unique_name)
    assert tree_digest(tmp_path) == before  # the user's files are only read
    assert len(ds) == 3 and ds.count_sample_tags() == {"train": 2, "val": 1}
    assert ds.default_classes == ["car", "bus"]
    negative = ds[str(tmp_path / "images" / "train" / "a.png")]
    assert negative.ground_truth is not None and negative.ground_truth.detections == []
    table = to_table(ds)
    assert table.task == "detection"
    assert sorted(sum(table.frame["labels"], [])) == ["bus", "car", "car"]  # dropped boxes are not counted
    problems = ds.info["workbench"]["load_problems"]
    assert [p["message"].split(":")[0] for p in problems] == ["labels/val/c.txt line 2", "labels/val/c.txt line 3"]
    again = load(yaml_path, name=unique_name)  # a reload merges by file path, no duplicates
    assert len(again) == 3 and len(again.info["workbench"]["load_problems"]) == 2
