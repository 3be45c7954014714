"""Loading into the real FiftyOne database with FiftyOne's own importers."""

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import tree_digest, write_image
from tests.io.format_fixtures import EXPORTS, export_layout, hf_env, write_hf
from workbench.errors import SourceError
from workbench.io.loading import load
from workbench.io.table import resolve_label_field, to_table


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


def test_coco_reload_replaces_the_boxes_and_keeps_the_tags(tmp_path, unique_name):
    """Loading a COCO source again gives its boxes once (not the old ones beside the new), follows an edited
    box, and keeps the sample tags, and the label tags and attributes of unchanged boxes, that a reviewer
    added in between; the user's files are unchanged by the loads."""
    labels = _coco_tree(tmp_path)
    ds = load(labels, name=unique_name)
    assert ds.count("ground_truth.detections") == 3
    ds.match({"filepath": {"$regex": "img1"}}).tag_samples("wb:reviewed:not_error")
    kept = ds.match({"filepath": {"$regex": "img1"}}).first()  # an object the reload leaves as it was
    kept.ground_truth.detections[0].tags.append("checked")
    kept.ground_truth.detections[0]["note"] = "occluded"
    kept.save()
    kept_id = kept.ground_truth.detections[0].id
    coco = json.loads(labels.read_text())
    coco["annotations"][0]["bbox"] = [4, 4, 12, 12]
    labels.write_text(json.dumps(coco))
    before = tree_digest(tmp_path)
    for _ in range(2):
        ds = load(labels, name=unique_name)
    assert ds.count("ground_truth.detections") == 3
    assert sorted(round(b[0] * 40) for boxes in ds.values("ground_truth.detections.bounding_box")
                  for b in boxes or []) == [1, 4, 5]
    assert ds.count_sample_tags() == {"wb:reviewed:not_error": 1}
    assert ds.count_label_tags() == {"checked": 1}  # the unchanged box keeps its id, label tag and attribute
    (det,) = [d for ds_dets in ds.values("ground_truth.detections") for d in ds_dets or [] if d.id == kept_id]
    assert det.tags == ["checked"] and det["note"] == "occluded"
    assert tree_digest(tmp_path) == before


def test_coco_images_carry_their_own_split(tmp_path, unique_name):
    """One JSON for every split: an image's ``split`` key, else its file_name's first folder, is its split;
    other folders and values that name no split leave the image unsplit."""
    images = tmp_path / "coco" / "data"
    names = ["train/a.png", "val/b.png", "other/c.png", "d.png", "train/e.png"]
    for i, name in enumerate(names):
        write_image(images / name, i, size=40)
    imgs = [{"id": i + 1, "file_name": n, "width": 40, "height": 40} for i, n in enumerate(names)]
    imgs[3]["split"], imgs[4]["split"] = "Validation", "holdout"  # a key wins over the folder; junk is ignored
    labels = tmp_path / "coco" / "labels.json"
    labels.write_text(json.dumps({"images": imgs, "annotations": [], "categories": [{"id": 1, "name": "cat"}]}))
    before = tree_digest(tmp_path)
    frame = to_table(load(labels, name=unique_name)).frame
    splits = {Path(p).name: s if isinstance(s, str) else None for p, s in zip(frame["filepath"], frame["split"])}
    assert splits == {"a.png": "train", "b.png": "val", "c.png": None, "d.png": "val", "e.png": "train"}
    assert tree_digest(tmp_path) == before


def test_coco_malformed_annotation_is_reported_not_fatal(tmp_path, unique_name):
    labels = _coco_tree(tmp_path, bad=True)
    original = labels.read_text()
    ds = load(labels, name=unique_name)
    assert len(ds) == 4  # the image whose file is missing is still a sample (integrity reports it)
    problems = ds.info["workbench"]["load_problems"]
    assert len(problems) == 1 and "non-positive" in problems[0]["message"]
    assert labels.read_text() == original  # a cleaned copy was imported; the user's file is unchanged


def test_an_annotation_problem_reaches_its_sample_in_the_app(tmp_path, unique_name):
    """The dropped box of img2 is that sample's file problem: field, tag and the saved view, not only the JSON."""
    import workbench

    ds = load(_coco_tree(tmp_path, bad=True), name=unique_name)
    result = workbench.audit(ds, workbench.AuditConfig(embedder="none"), progress=False)
    annotation = [p for p in result.integrity.problems if p.kind == "annotation"]
    assert len(annotation) == 1 and Path(annotation[0].filepath).name == "img2.png" and annotation[0].sample_id
    view = ds.load_saved_view("wb-file-problems")
    assert sorted(Path(p).name for p in view.values("filepath")) == ["img2.png", "missing.png"]
    assert "non-positive" in ds[annotation[0].sample_id]["wb_file_problem"]


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


# --- Every layout FiftyOne exports, loaded back -----------------------------------------------

#: kind -> (task, classes seen in the table, sample tags after loading)
LOADED = {
    "imagefolder": ("classification", {"cat", "dog"}, {}),
    "coco": ("detection", {"cat", "dog"}, {}),
    "yolo": ("detection", {"cat", "dog"}, {"train": 4, "val": 2}),
    "voc": ("detection", {"cat", "dog"}, {}),
    "cvat": ("detection", {"cat", "dog"}, {}),
    "segmentation": ("segmentation", {"1", "2"}, {}),
    "fiftyone": ("classification", {"cat", "dog"}, {"train": 4, "val": 2}),
    "fiftyone-classification": ("classification", {"cat", "dog"}, {}),
    "fiftyone-detection": ("detection", {"cat", "dog"}, {}),
    "imagedir": ("classification", set(), {}),
}


@pytest.mark.parametrize("kind", list(EXPORTS))
def test_each_fiftyone_export_loads_with_its_labels(kind, tmp_path, unique_name):
    root = export_layout(kind, tmp_path / kind, tmp_path / "scratch")
    (root / "truth.json").write_text('{"a": 1}')
    before = tree_digest(root)
    ds = load(root, name=unique_name)
    task, classes, tags = LOADED[kind]
    table = to_table(ds)
    assert len(ds) == 6 and ds.info["workbench"]["format"] == EXPORTS[kind][2]
    assert table.task == task
    seen = set(table.frame["label"].dropna()) | {c for labels in table.frame["labels"] for c in labels}
    assert seen == classes
    assert ds.count_sample_tags() == tags
    assert tree_digest(root) == before


def _voc(root: Path, *, missing: str | None = None, broken: str | None = None) -> Path:
    for i in range(4):
        stem = f"2008_{i:06d}"
        if stem != missing:
            write_image(root / "JPEGImages" / f"{stem}.jpg", i, size=40, fmt="JPEG")
        ann = ET.Element("annotation")
        ET.SubElement(ann, "filename").text = f"{stem}.jpg"
        size = ET.SubElement(ann, "size")
        for tag, value in (("width", 40), ("height", 40), ("depth", 3)):
            ET.SubElement(size, tag).text = str(value)
        obj = ET.SubElement(ann, "object")
        ET.SubElement(obj, "name").text = "cat" if i % 2 else "dog"
        box = ET.SubElement(obj, "bndbox")
        for tag, value in (("xmin", 2), ("ymin", 2), ("xmax", 20), ("ymax", 30)):
            ET.SubElement(box, tag).text = str(value)
        (root / "Annotations").mkdir(parents=True, exist_ok=True)
        ET.ElementTree(ann).write(root / "Annotations" / f"{stem}.xml")
    if broken:
        (root / "Annotations" / f"{broken}.xml").write_text("<annotation><object><name>cat</name></object>")
    main = root / "ImageSets" / "Main"
    main.mkdir(parents=True)
    (main / "train.txt").write_text("2008_000000\n2008_000001\n")
    (main / "val.txt").write_text("2008_000002\n")
    (main / "trainval.txt").write_text("2008_000000\n2008_000001\n2008_000002\n")
    return root


def test_voc_splits_from_imagesets_missing_image_kept_broken_xml_reported(tmp_path, unique_name):
    root = _voc(tmp_path / "VOC2012", missing="2008_000001", broken="2008_000003")
    before = tree_digest(root)
    ds = load(root, name=unique_name)
    assert ds.count_sample_tags() == {"train": 2, "val": 1}  # 2008_000003 (in no list) is broken: skipped
    assert str(root / "JPEGImages" / "2008_000001.jpg") in ds.values("filepath")  # missing: integrity reports it
    problems = ds.info["workbench"]["load_problems"]
    assert len(problems) == 1 and problems[0]["message"].startswith("2008_000003.xml is not readable XML")
    assert sorted(sum(to_table(ds).frame["labels"], [])) == ["cat", "dog", "dog"]
    assert tree_digest(root) == before


def test_cvat_annotations_xml_with_images_folder_and_subsets(tmp_path, unique_name):
    root = tmp_path / "cvat"
    images = ET.Element("annotations")
    ET.SubElement(images, "version").text = "1.1"
    for i, subset in enumerate(("Train", "Train", "Validation")):
        write_image(root / "images" / f"f{i}.png", i, size=40)
        img = ET.SubElement(images, "image", id=str(i), name=f"f{i}.png", subset=subset, width="40", height="40")
        ET.SubElement(img, "box", label="car", occluded="0", xtl="1", ytl="1", xbr="20", ybr="20")
        ET.SubElement(img, "polygon", label="road", occluded="0", points="0,0;10,0;10,10")
    ET.ElementTree(images).write(root / "annotations.xml")
    ds = load(root, name=unique_name)
    assert ds.info["workbench"]["format"] == "cvat"
    assert ds.count_sample_tags() == {"train": 2, "val": 1}
    table = to_table(ds)
    assert table.task == "detection" and resolve_label_field(ds)[0] == "ground_truth"
    assert sum(table.frame["labels"], []) == ["car"] * 3
    assert ds.has_field("ground_truth_polylines")


def test_segmentation_classes_come_from_the_masks(tmp_path, unique_name):
    import numpy as np
    from PIL import Image

    root = tmp_path / "seg"
    for i in range(3):
        write_image(root / "images" / f"s{i}.png", i)
        mask = np.zeros((32, 32), np.uint8)
        mask[:4, :4] = 255  # VOC's void border is not a class
        mask[8:16, 8:16] = i + 1
        (root / "masks").mkdir(parents=True, exist_ok=True)
        Image.fromarray(mask).save(root / "masks" / f"s{i}.png")
    write_image(root / "images" / "unlabelled.png", 9)
    ds = load(root, name=unique_name)
    ds.default_mask_targets = {1: "road", 2: "car"}
    ds.save()
    table = to_table(ds)
    assert table.task == "segmentation" and len(ds) == 4
    labels = dict(zip(table.frame["filepath"].map(lambda p: Path(p).name), table.frame["labels"]))
    assert labels == {"s0.png": ["road"], "s1.png": ["car"], "s2.png": ["3"], "unlabelled.png": []}


def test_mask_classes_rgb_and_named_background():
    import numpy as np

    from workbench.io.table import mask_classes

    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[0, 0] = (255, 0, 0)
    assert mask_classes(rgb, {"#ff0000": "car"}) == ["car"]
    assert mask_classes(np.array([[0, 1]]), {0: "background", 1: "sky"}) == ["sky"]
    assert mask_classes(np.array([[0, 1]]), {0: "water"}) == ["1", "water"]


def test_flat_folder_loads_without_labels(tmp_path, unique_name):
    for i in range(3):
        write_image(tmp_path / "flat" / f"{i}.png", i)
    ds = load(tmp_path / "flat", name=unique_name)
    table = to_table(ds)
    assert len(ds) == 3 and resolve_label_field(ds)[0] is None and table.frame["label"].isna().all()


_HF_LOAD = r'''
import json, sys
from workbench.io.loading import load
from workbench.io.table import to_table

ds = load(sys.argv[1], name=sys.argv[2])
t = to_table(ds)
print(json.dumps({"format": ds.info["workbench"]["format"], "tags": ds.count_sample_tags(),
                  "labels": sorted(map(str, t.frame["label"])), "paths": sorted(ds.values("filepath")),
                  "notes": sorted(map(str, ds.values("note"))), "classes": ds.default_classes,
                  "roots": ds.info["workbench"].get("roots")}))
'''


def _load_hf(deps: str, root: Path, name: str) -> dict:
    # The subprocess inherits this session's private database (FIFTYONE_DATABASE_URI) and cache.
    done = subprocess.run([sys.executable, "-c", _HF_LOAD, str(root), name], env=hf_env(deps), capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("kind", ["dict", "single", "parquet"])
def test_hugging_face_images_are_extracted_to_the_cache_and_labelled_by_classlabel(kind, pyarrow_deps, tmp_path,
                                                                                    unique_name):
    root = write_hf(kind, tmp_path / "hf", pyarrow_deps)
    before = tree_digest(root)
    got = _load_hf(pyarrow_deps, root, unique_name)
    cache = Path(os.environ["WORKBENCH_CACHE"]) / "hf-images"
    assert got["format"] == "huggingface"
    assert all(Path(p).is_file() and Path(p).is_relative_to(cache) for p in got["paths"])
    assert str(cache) in got["roots"]  # the audit may read the extracted images
    expected = {"dict": ({"train": 4, "val": 2}, 6), "single": ({}, 4), "parquet": ({"train": 4, "val": 2}, 6)}
    tags, n = expected[kind]
    assert got["tags"] == tags and len(got["paths"]) == n
    assert set(got["labels"]) == {"cat", "dog"} and got["classes"] == ["cat", "dog"]
    assert set(got["notes"]) == {"n0", "n1"}  # scalar columns become fields (for the bias check)
    assert tree_digest(root) == before  # nothing written into the dataset folder

    again = _load_hf(pyarrow_deps, root, unique_name)  # a reload reuses the extracted files
    assert again["paths"] == got["paths"]


def test_hugging_face_without_pyarrow_says_how_to_install_it(pyarrow_deps, tmp_path, unique_name):
    import importlib.util

    if importlib.util.find_spec("pyarrow") is not None:
        pytest.skip("pyarrow is importable in this environment")
    root = write_hf("dict", tmp_path / "hf", pyarrow_deps)
    with pytest.raises(SourceError, match=r"needs pyarrow.*pip install 'workbench\[hf\]'"):
        load(root, name=unique_name)
    shutil.rmtree(root)
