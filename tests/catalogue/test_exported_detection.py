"""Damaged copies of detection datasets FiftyOne's exporters wrote: each is audited or refused as stated.

The source is :mod:`tests.io.detection_exports`' twelve-image dataset (29 boxes, 3 classes) written
by ``YOLOv4Dataset``, ``YOLOv5Dataset``, ``VOCDetectionDataset``, ``CVATImageDataset`` or
``COCODetectionDataset`` (once per split folder), then one file is damaged the way files get
damaged: a truncated XML or JSON, a label line missing a value, a box past the image's edge, an
empty class list; COCO instance segmentations that are empty, misplaced (in a corner of the box,
outside it, past its edge) or unreadable, and mask grids written by hand. Each case states the exit code and phrases of the output, and that no file of
the dataset changed (:func:`untouched`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable

import pytest

from tests.catalogue.harness import Case, run_cli, untouched
from tests.conftest import write_image
from tests.io.detection_exports import export_detection


def _export(layout: str, damage: Callable[[Path], None] | None = None) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        root = export_detection(layout, tmp / "dataset", tmp / "scratch")
        if damage is not None:
            damage(root)
        return root
    return build


def _truncate(relative: str, keep: float = 0.5) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        path = root / relative
        text = path.read_bytes()
        path.write_bytes(text[:int(len(text) * keep)])
    return damage


def _first_label_line_short(relative: str) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        path = root / relative
        lines = path.read_text().splitlines()
        lines[0] = " ".join(lines[0].split()[:4])  # class x y w: no height
        path.write_text("\n".join(lines) + "\n")
    return damage


def _cvat_box_past_the_edge(root: Path) -> None:
    path = root / "labels.xml"
    text = path.read_text()
    path.write_text(re.sub(r'xbr="\d+"', 'xbr="400"', text, count=1))  # the images are 128 wide


def _empty(relative: str) -> Callable[[Path], None]:
    def damage(root: Path) -> None:
        (root / relative).write_text("\n")
    return damage


def _coco_segmentations(*segmentations: object) -> Callable[[Path], Path]:
    """A COCO JSON of 64x64 images, each with one ``cat`` box (16, 16, 32, 32) and the given ``segmentation``
    (after a first image whose polygon fills its box, so the file holds instance masks)."""
    def build(tmp: Path) -> Path:
        root = tmp / "dataset"
        images, annotations = [], []
        for n, seg in enumerate(([[16, 16, 48, 16, 48, 48, 16, 48]], *segmentations)):
            write_image(root / "data" / f"{n}.png", 70 + n, size=64)
            images.append({"id": n + 1, "file_name": f"{n}.png", "width": 64, "height": 64})
            annotations.append({"id": n + 1, "image_id": n + 1, "category_id": 1, "bbox": [16, 16, 32, 32],
                                "area": 1024, "iscrowd": 0, "segmentation": seg})
        (root / "labels.json").write_text(json.dumps({"images": images, "annotations": annotations,
                                                      "categories": [{"id": 1, "name": "cat"}]}))
        return root
    return build


def _coco_mask_attributes(grid: object) -> Callable[[Path], Path]:
    """A COCO JSON of two 64x64 images whose ``cat`` boxes carry workbench's own mask attributes as a user could
    write them: a mask summary in a corner of the box (``wb_mask``) and the given ``wb_mask_grid``."""
    def build(tmp: Path) -> Path:
        root = tmp / "dataset"
        images, annotations = [], []
        for n, summary in enumerate(([0.25, 0.25, 0.5, 0.5, 1.0], [0.6, 0.6, 0.1, 0.1, 0.04])):
            write_image(root / "data" / f"{n}.png", 80 + n, size=64)
            images.append({"id": n + 1, "file_name": f"{n}.png", "width": 64, "height": 64})
            annotations.append({"id": n + 1, "image_id": n + 1, "category_id": 1, "bbox": [16, 16, 32, 32],
                                "area": 1024, "iscrowd": 0, "wb_mask": summary, "wb_mask_grid": grid})
        (root / "labels.json").write_text(json.dumps({"images": images, "annotations": annotations,
                                                      "categories": [{"id": 1, "name": "cat"}]}))
        return root
    return build


CASES = {
    "yolov4-export-is-audited-as-detection": Case(_export("yolov4"), 0, (
        "(detection, 12 samples, 3 classes, splits: none)", "2 of 29 objects flagged: 1 tiny, 1 duplicate")),
    "yolov4-label-line-with-4-values-is-named-and-skipped": Case(
        _export("yolov4", _first_label_line_short("data/img00.txt")), 0, ("data/img00.txt line 1", "(4 fields; expected 5", "2 of 28 objects flagged")),
    "yolov4-empty-obj-names-is-refused": Case(_export("yolov4", _empty("obj.names")), 2, ("lists no class",)),
    "yolov5-label-line-with-4-values-is-named-and-skipped": Case(
        _export("yolov5", _first_label_line_short("labels/train/img00.txt")), 0, (
            "labels/train/img00.txt line 1", "(4 fields; expected 5", "splits: train, val")),
    "voc-export-truncated-xml-is-reported-with-its-image": Case(
        _export("voc", _truncate("labels/img00.xml")), 0, ("img00.xml is not readable XML",
                                                                  "(detection, 11 samples")),
    "cvat-export-box-past-the-image-edge-is-clipped-and-reported": Case(_export("cvat", _cvat_box_past_the_edge), 0, (
        "img00.png: box of 'bird' extends past the right edge of the 128x64 image", "clipped to the image")),
    "cvat-export-truncated-xml-is-an-input-error": Case(_export("cvat", _truncate("labels.xml")), 2, (
        "is not readable XML",)),
    "coco-split-folders-truncated-json-is-an-input-error": Case(
        _export("coco-split-folders", _truncate("val/labels.json")), 2, (
            "val/labels.json", "train/ looks like a dataset (coco)")),
    "coco-forced-on-split-folders-is-read-per-split": Case(_export("coco-split-folders"), 0, (
        "(detection, 12 samples, 3 classes, splits: train, val)",), ("--format", "coco")),
    "yolov4-forced-on-a-coco-export-says-what-is-missing": Case(_export("coco"), 2, (
        "--format yolov4:", "obj.names"), ("--format", "yolov4")),
    # Instance segmentations: each mask is compared with its box, or left unchecked when it can't be read.
    "coco-segmentation-empty-polygon-list-is-an-empty-mask": Case(_coco_segmentations([]), 0, (
        "1 of 2 objects flagged: 1 empty_mask",)),
    "coco-segmentation-polygon-in-a-corner-of-its-box-is-a-mismatch": Case(
        _coco_segmentations([[36, 36, 48, 36, 48, 48, 36, 48]]), 0, ("1 of 2 objects flagged: 1 mask_box_mismatch",)),
    # COCO draws segmentations in image pixels: a mask is judged on all of it, not on the part inside its box.
    "coco-segmentation-polygon-outside-its-box-is-a-mismatch-not-an-empty-mask": Case(
        _coco_segmentations([[48, 16, 64, 16, 64, 48, 48, 48]]), 0, ("1 of 2 objects flagged: 1 mask_box_mismatch",)),
    "coco-segmentation-polygon-past-its-box-edge-is-a-mismatch": Case(
        _coco_segmentations([[16, 16, 64, 16, 64, 48, 16, 48]]), 0, ("1 of 2 objects flagged: 1 mask_box_mismatch",)),
    "coco-segmentation-malformed-polygon-is-left-unchecked": Case(_coco_segmentations([["x", "y", "z"]]), 0, (
        "no object flagged among 2",)),
    "coco-segmentation-compressed-rle-is-left-unchecked": Case(_coco_segmentations({"counts": "PPYo0", "size": [64, 64]}),
                                                               0, ("no object flagged among 2",)),
    "coco-segmentation-rle-of-the-wrong-size-is-left-unchecked": Case(
        _coco_segmentations({"counts": [10, 5], "size": [64, 64]}), 0, ("no object flagged among 2",)),
    # Mask grids (drawn over thumbnails) stored on the objects by hand: anything malformed is no grid, never a crash.
    "coco-mask-grid-attribute-with-markup-is-ignored": Case(_coco_mask_attributes("<script>alert(1)</script>"), 0, (
        "1 of 2 objects flagged: 1 mask_box_mismatch",)),
    "coco-mask-grid-attribute-with-runs-past-its-cells-is-ignored": Case(
        _coco_mask_attributes([2, 2, 1, 99, -4]), 0, ("1 of 2 objects flagged: 1 mask_box_mismatch",)),
    "objects-mask-iou-above-1-is-refused": Case(_coco_segmentations([]), 2, ("mask_iou must be between 0 and 1",),
                                                ("--check-option", "objects.mask_iou=1.5")),
    "objects-mask-threshold-relaxed-by-option": Case(
        _coco_segmentations([[36, 36, 48, 36, 48, 48, 36, 48]]), 0, ("no object flagged among 2",),
        ("--check-option", "objects.mask_iou=0.1", "--check-option", "objects.min_mask_fill=0")),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_exported_detection_case(case: Case, tmp_path: Path, unique_name: str):
    src = case.build(tmp_path / "in")
    with untouched(src):
        result = run_cli("audit", src, "--embedder", "none", "--no-write-back", "--quiet", "--name", unique_name,
                         *case.args)
    assert result.code == case.code, result.text[-3000:]
    flowing = " ".join(result.text.split())  # the summary wraps long lines
    for phrase in case.phrases:
        assert phrase in result.text or phrase in flowing, (phrase, result.text[-3000:])
