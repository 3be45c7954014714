import json
from pathlib import Path

import pytest

from tests.conftest import write_image
from workbench.errors import SourceError
from workbench.io.sources import find_image_files, resolve_source, split_of_name


def test_imagefolder_with_splits(imagefolder):
    spec = resolve_source(imagefolder)
    assert spec.format == "imagefolder"
    assert [s for s, _ in spec.parts] == ["test", "train"]


def test_imagefolder_without_splits(tmp_path):
    write_image(tmp_path / "a" / "x.png", 1)
    write_image(tmp_path / "b" / "y.png", 2)
    spec = resolve_source(tmp_path)
    assert spec.format == "imagefolder" and spec.parts == ((None, tmp_path.resolve()),)


def test_coco_file_and_split_from_name(tmp_path):
    ann = tmp_path / "annotations" / "instances_val2017.json"
    ann.parent.mkdir()
    ann.write_text(json.dumps({"images": [], "annotations": [], "categories": []}))
    (tmp_path / "val2017").mkdir()
    spec = resolve_source(ann)
    assert spec.format == "coco" and spec.parts[0][0] == "val"
    assert spec.images_dir == (tmp_path / "val2017").resolve()


def test_yolo_yaml(tmp_path):
    (tmp_path / "data.yaml").write_text("names: [a]\ntrain: images/train\n")
    assert resolve_source(tmp_path).format == "yolo"


@pytest.mark.parametrize("name,split", [("train", "train"), ("Validation", "val"), ("instances_test2017", "test"),
                                        ("images", None)])
def test_split_of_name(name, split):
    assert split_of_name(name) == split


def test_missing_path_says_what_to_pass(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        resolve_source(tmp_path / "nope")


def test_malformed_json_names_line(tmp_path, unique_name):
    from workbench.io.loading import load

    bad = tmp_path / "labels.json"
    bad.write_text('{"images": [1,}')
    with pytest.raises(SourceError, match="not valid JSON .line 1"):
        resolve_source(bad)
    with pytest.raises(SourceError, match="not valid JSON .line 1"):
        load(bad, "coco", name=unique_name)


def test_unrecognised_folder(tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(SourceError, match="can't tell"):
        resolve_source(tmp_path)


def test_unknown_format(tmp_path):
    with pytest.raises(SourceError, match="unknown format"):
        resolve_source(tmp_path, "pascal")


def test_find_image_files_walks_folders_and_keeps_named_files(tmp_path):
    for rel in ("b/2.PNG", "b/1.jpg", "a.webp", "notes.txt", ".hidden/x.png", "b/.y.png"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    named = tmp_path / "notes.txt"
    found = find_image_files([tmp_path, named, tmp_path / "a.webp"])
    assert found == [str(tmp_path / "a.webp"), str(tmp_path / "b" / "1.jpg"), str(tmp_path / "b" / "2.PNG"),
                     str(named)]
    with pytest.raises(SourceError, match="does not exist"):
        find_image_files([tmp_path / "gone"])
