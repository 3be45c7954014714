"""Loading into the real FiftyOne database with FiftyOne's own importers."""

import json
import os

import pytest

from tests.conftest import tree_digest, write_image
from workbench.errors import SourceError
from workbench.io.loading import load
from workbench.io.table import to_table


def test_imagefolder_splits_become_tags(imagefolder, unique_name):
    before = tree_digest(imagefolder)
    ds = load(imagefolder, name=unique_name)
    assert ds.persistent and len(ds) == 19
    assert ds.count_sample_tags() == {"train": 12, "test": 7}
    table = to_table(ds)
    assert table.task == "classification"
    assert set(table.frame["label"]) == {"cat", "dog"}
    assert set(table.frame["split"]) == {"train", "test"}
    assert tree_digest(imagefolder) == before  # the user's files are untouched


def test_reload_reuses_and_updates_without_duplicating(imagefolder, unique_name):
    ds = load(imagefolder, name=unique_name)
    first = ds.first()
    first.tags.append("wb:reviewed:not_error")
    first.save()
    again = load(imagefolder, name=unique_name)
    assert len(again) == 19
    assert "wb:reviewed:not_error" in again[first.id].tags  # review marks survive a reload
    write_image(imagefolder / "train" / "dog" / "new.png", 999)
    os.remove(imagefolder / "test" / "dog" / "test-dog-15.png")
    third = load(imagefolder, name=unique_name)
    paths = set(third.values("filepath"))
    assert len(third) == 19
    assert str(imagefolder / "train" / "dog" / "new.png") in paths
    assert str(imagefolder / "test" / "dog" / "test-dog-15.png") not in paths


def _rows(ds):
    return sorted(zip(ds.values("filepath"), ds.values("ground_truth.label"), map(tuple, ds.values("tags"))))


def test_imagefolder_refresh_adds_only_new_files_and_equals_a_fresh_load(imagefolder, unique_name):
    ds = load(imagefolder, name=unique_name)
    ids_before = dict(zip(ds.values("filepath"), ds.values("id")))
    write_image(imagefolder / "test" / "bird" / "b1.png", 123)  # a new class folder
    write_image(imagefolder / "train" / "cat" / "extra.png", 124)
    write_image(imagefolder / "train" / "_unlabeled" / "u.png", 125)  # no label
    write_image(imagefolder / "train" / ".cache" / "h.png", 126)  # hidden folder: not a class
    write_image(imagefolder / "train" / "cat" / ".hidden.png", 127)  # hidden file: skipped
    os.remove(imagefolder / "train" / "dog" / "train-dog-6.png")
    refreshed = load(imagefolder, name=unique_name)
    fresh = load(imagefolder, name=unique_name + "-fresh")
    try:
        assert _rows(refreshed) == _rows(fresh) and refreshed.default_classes == fresh.default_classes
        assert ("test",) == tuple(refreshed[str(imagefolder / "test" / "bird" / "b1.png")].tags)
        kept = dict(zip(refreshed.values("filepath"), refreshed.values("id")))
        assert all(kept[fp] == sid for fp, sid in ids_before.items() if fp in kept)  # untouched, not re-created
        assert len(kept) == len(ids_before) + 2
        assert refreshed[str(imagefolder / "train" / "_unlabeled" / "u.png")].ground_truth is None
    finally:
        fresh.delete()


def _coco_tree(tmp_path, *, bad=False):
    images = tmp_path / "coco" / "data"
    for i in range(3):
        write_image(images / f"img{i}.png", i, size=40)
    anns = [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 2, 10, 10], "area": 100, "iscrowd": 0},
            {"id": 2, "image_id": 2, "category_id": 2, "bbox": [5, 5, 8, 8], "area": 64, "iscrowd": 0},
            {"id": 3, "image_id": 2, "category_id": 1, "bbox": [1, 1, 5, 5], "area": 25, "iscrowd": 0}]
    imgs = [{"id": i + 1, "file_name": f"img{i}.png", "width": 40, "height": 40} for i in range(3)]
    if bad:
        anns.append({"id": 4, "image_id": 3, "category_id": 1, "bbox": [0, 0, -3, 4]})
        imgs.append({"id": 4, "file_name": "missing.png", "width": 40, "height": 40})
    labels = tmp_path / "coco" / "labels.json"
    labels.write_text(json.dumps({"images": imgs, "annotations": anns,
                                  "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]}))
    return labels


def test_coco_detection(tmp_path, unique_name):
    labels = _coco_tree(tmp_path)
    ds = load(labels, name=unique_name)
    assert len(ds) == 3
    table = to_table(ds)
    assert table.task == "detection"
    assert sorted(sum(table.frame["labels"], [])) == ["cat", "cat", "dog"]


def test_coco_malformed_annotation_is_reported_not_fatal(tmp_path, unique_name):
    labels = _coco_tree(tmp_path, bad=True)
    original = labels.read_text()
    ds = load(labels, name=unique_name)
    assert len(ds) == 4  # the image whose file is missing is still a sample (integrity reports it)
    problems = ds.info["workbench"]["load_problems"]
    assert len(problems) == 1 and "non-positive" in problems[0]["message"]
    assert labels.read_text() == original  # a cleaned copy was imported; the user's file is unchanged


def test_yolo(tmp_path, unique_name):
    root = tmp_path / "yolo"
    for split in ("train", "val"):
        for i in range(2):
            write_image(root / "images" / split / f"{split}{i}.png", i + (10 if split == "val" else 0), size=40)
            lbl = root / "labels" / split / f"{split}{i}.txt"
            lbl.parent.mkdir(parents=True, exist_ok=True)
            lbl.write_text("0 0.5 0.5 0.2 0.2\n1 0.3 0.3 0.1 0.1\n")
    (root / "data.yaml").write_text("path: .\ntrain: ./images/train/\nval: ./images/val/\nnames:\n  0: car\n  1: bus\n")
    ds = load(root, name=unique_name)
    assert ds.count_sample_tags() == {"train": 2, "val": 2}
    table = to_table(ds)
    assert table.task == "detection" and sorted(set(sum(table.frame["labels"], []))) == ["bus", "car"]


def test_fiftyone_export_round_trip(imagefolder, unique_name, tmp_path):
    import fiftyone as fo

    ds = load(imagefolder, name=unique_name)
    export = tmp_path / "export"
    ds.export(export_dir=str(export), dataset_type=fo.types.FiftyOneDataset)
    again = load(export, name=unique_name + "-x")
    try:
        assert len(again) == len(ds)
        assert again.count_sample_tags() == ds.count_sample_tags()
    finally:
        again.delete()


def test_existing_dataset_by_name(imagefolder, unique_name):
    ds = load(imagefolder, name=unique_name)
    assert load(unique_name).name == ds.name


def test_bad_yaml_message(tmp_path, unique_name):
    (tmp_path / "data.yaml").write_text("train: [unclosed\n")
    with pytest.raises(SourceError, match="not valid YAML"):
        load(tmp_path, name=unique_name)
