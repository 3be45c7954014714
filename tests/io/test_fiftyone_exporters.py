"""Detection datasets written by FiftyOne's own exporters get the object-level audit.

A twelve-image dataset with a tiny box, a duplicated box and a negative image
(:mod:`tests.io.detection_exports`) is written with ``COCODetectionDataset``, ``YOLOv5Dataset``,
``YOLOv4Dataset``, ``VOCDetectionDataset`` and ``CVATImageDataset`` (whole, and once per split
folder), ``FiftyOneImageDetectionDataset`` and ``FiftyOneDataset``, then audited with ``workbench audit EXPORT --json``: the ``objects`` check must run and
find every instance per class, the negative, the tiny and the duplicate box; the boxes workbench
read must match the originals within 1e-3, and the split must survive where the layout holds it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.catalogue.harness import run_cli, untouched
from tests.io.detection_exports import (DUPLICATE_IMAGE, EXPORTERS, NEGATIVE_IMAGE, OBJECTS, SPLITS,
                                        TINY_IMAGE, expected_counts, export_detection, relative_box)

#: Layouts whose files say which split an image is in.
CARRIES_SPLIT = {"yolov5", "coco-split-folders", "voc-split-folders", "cvat-split-folders", "fiftyone"}
#: The ``--format`` each export must be recognised as.
DETECTED = {"coco": "coco", "yolov5": "yolo", "yolov4": "yolov4", "voc": "voc", "cvat": "cvat",
            "coco-split-folders": "coco", "voc-split-folders": "voc", "cvat-split-folders": "cvat",
            "fiftyone-detection": "fiftyone-detection", "fiftyone": "fiftyone"}


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("exports")
    return {layout: export_detection(layout, base / layout, base / "scratch") for layout in EXPORTERS}


def _audit(root: Path, name: str, out: Path) -> dict:
    with untouched(root):
        result = run_cli("audit", root, "--embedder", "none", "--no-write-back", "--quiet", "--name", name,
                         "--json", out)
    assert result.code == 0, result.text[-3000:]
    return json.loads(out.read_text())


def _read_back(name: str) -> dict[str, tuple[str | None, list[tuple[str, tuple[float, ...]]]]]:
    """Per image stem: the split and the ``(label, box)`` objects of the table workbench audited."""
    import fiftyone as fo

    from workbench.io.table import to_table

    frame = to_table(fo.load_dataset(name)).frame
    return {Path(fp).stem: (split, sorted(zip(labels, boxes)))
            for fp, split, labels, boxes in zip(frame["filepath"], frame["split"], frame["labels"], frame["boxes"])}


@pytest.mark.parametrize("layout", list(EXPORTERS))
def test_fiftyone_export_gets_the_object_level_audit(layout, exports, tmp_path, unique_name):
    doc = _audit(exports[layout], unique_name, tmp_path / "audit.json")
    assert doc["dataset"]["task"] == "detection" and doc["checks"]["objects"]["state"] == "ran"
    objects = doc["objects"]
    assert {c: v["instances"] for c, v in objects["classes"].items()} == expected_counts()
    assert objects["n_images"] == len(OBJECTS) and objects["n_negative"] == 1
    assert objects["n_objects"] == sum(map(len, OBJECTS.values())) and objects["n_masks"] == 0
    flagged = sorted((Path(i["path"]).stem, i["label"], tuple(i["kinds"])) for i in objects["issues"])
    assert flagged == [(TINY_IMAGE, "bird", ("tiny",)), (DUPLICATE_IMAGE, OBJECTS[DUPLICATE_IMAGE][-1][0],
                                                            ("duplicate",))]
    assert sorted(doc["dataset"]["splits"]) == (["train", "val"] if layout in CARRIES_SPLIT else [])

    read = _read_back(unique_name)
    assert set(read) == set(OBJECTS)
    for stem, objects_px in OBJECTS.items():
        split, found = read[stem]
        assert split == (SPLITS[stem] if layout in CARRIES_SPLIT else None), stem
        expected = sorted((label, relative_box(*px)) for label, *px in objects_px)
        assert [label for label, _ in found] == [label for label, _ in expected], stem
        for (_, box), (_, want) in zip(found, expected):
            assert box is not None and max(abs(a - b) for a, b in zip(box, want)) < 1e-3, (stem, box, want)
    assert not read[NEGATIVE_IMAGE][1]


@pytest.mark.parametrize("layout", list(EXPORTERS))
def test_fiftyone_export_is_recognised_as_its_layout(layout, exports):
    from workbench.io.formats import detect_layout

    spec = detect_layout(exports[layout])
    assert spec.format == DETECTED[layout]
    assert sorted({split for split, _ in spec.parts} - {None}) == (["train", "val"] if layout.endswith("-split-folders")
                                                                   else [])


def test_cvat_export_of_polygons_gets_the_object_level_audit(tmp_path, unique_name):
    """CVAT carries polygons too (FiftyOne ``Polylines``): each is audited by the box around its points."""
    import fiftyone as fo

    from tests.io.detection_exports import detection_dataset

    source = detection_dataset(tmp_path / "images", f"{unique_name}-src")
    try:
        for sample in source:
            sample["outlines"] = fo.Polylines(polylines=[
                fo.Polyline(label=d.label, closed=True, filled=True, points=[[(x, y), (x + w, y), (x + w, y + h), (x, y + h)]])
                for d in sample.ground_truth.detections for x, y, w, h in [d.bounding_box]])
            sample.save()
        source.export(export_dir=str(tmp_path / "cvat"), dataset_type=fo.types.CVATImageDataset, label_field="outlines")
    finally:
        source.delete()
    doc = _audit(tmp_path / "cvat", unique_name, tmp_path / "audit.json")
    objects = doc["objects"]
    assert doc["checks"]["objects"]["state"] == "ran" and "<polygon" in (tmp_path / "cvat" / "labels.xml").read_text()
    assert {c: v["instances"] for c, v in objects["classes"].items()} == expected_counts()
    assert objects["n_negative"] == 1
    assert sorted((Path(i["path"]).stem, tuple(i["kinds"])) for i in objects["issues"]) == [
        (TINY_IMAGE, ("tiny",)), (DUPLICATE_IMAGE, ("duplicate",))]
