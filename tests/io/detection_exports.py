"""A small real detection dataset with known flaws, written by FiftyOne's own exporters.

:func:`detection_dataset` builds twelve 128x64 generated images (8 ``train``, 4 ``val``) with
two or three boxes each, one of them *tiny* (3x2 pixels), one *duplicated* (the same box
twice on one image: a ``bird``) and one image with no object (a negative). Boxes sit on whole pixels of
images whose sides are powers of two, so every exporter (VOC truncates to pixels, CVAT rounds,
YOLO writes six decimals) writes them exactly: read back, they must match within 1e-3.
:func:`export_detection` writes it in one of :data:`EXPORTERS`' layouts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.conftest import write_image

WIDTH, HEIGHT = 128, 64
CLASSES = ("bird", "cat", "dog")
#: The image holding the tiny box, the one holding the duplicated box, and the negative.
TINY_IMAGE, DUPLICATE_IMAGE, NEGATIVE_IMAGE = "img03", "img05", "img11"
#: Pixel boxes ``(label, x, y, w, h)`` per image (file stem).
OBJECTS: dict[str, list[tuple[str, int, int, int, int]]] = {}
for _i in range(12):
    _stem = f"img{_i:02d}"
    OBJECTS[_stem] = [(CLASSES[_i % 3], 4 + 2 * _i, 4, 24, 20 + _i),
                      (CLASSES[(_i + 1) % 3], 64, 8 + _i, 40 - _i, 16)]
    if _i % 2:
        OBJECTS[_stem].append(("cat", 40, 30, 30, 24))
OBJECTS[TINY_IMAGE].append(("bird", 110, 50, 3, 2))
OBJECTS[DUPLICATE_IMAGE].append(OBJECTS[DUPLICATE_IMAGE][1])
OBJECTS[NEGATIVE_IMAGE] = []
SPLITS = {stem: "train" if int(stem[3:]) < 8 else "val" for stem in OBJECTS}

#: Layout name -> (FiftyOne dataset type, exported per split).
EXPORTERS = {
    "coco": ("COCODetectionDataset", False),
    "yolov5": ("YOLOv5Dataset", True),
    "yolov4": ("YOLOv4Dataset", False),
    "voc": ("VOCDetectionDataset", False),
    "cvat": ("CVATImageDataset", False),
    "coco-split-folders": ("COCODetectionDataset", True),
    "voc-split-folders": ("VOCDetectionDataset", True),
    "cvat-split-folders": ("CVATImageDataset", True),
    "fiftyone-detection": ("FiftyOneImageDetectionDataset", False),
    "fiftyone": ("FiftyOneDataset", False),
}


def relative_box(x: int, y: int, w: int, h: int) -> tuple[float, float, float, float]:
    return (x / WIDTH, y / HEIGHT, w / WIDTH, h / HEIGHT)


def expected_counts() -> dict[str, int]:
    """Instances per class."""
    counts = dict.fromkeys(CLASSES, 0)
    for objects in OBJECTS.values():
        for label, *_ in objects:
            counts[label] += 1
    return counts


def detection_dataset(images: Path, name: str) -> Any:
    """The FiftyOne dataset of :data:`OBJECTS` (images written under ``images``), field ``ground_truth``."""
    import fiftyone as fo
    from PIL import Image

    samples = []
    for n, (stem, objects) in enumerate(OBJECTS.items()):
        path = write_image(images / f"{stem}.png", 500 + n)
        Image.open(path).resize((WIDTH, HEIGHT)).save(path)
        detections = [fo.Detection(label=label, bounding_box=list(relative_box(*px))) for label, *px in objects]
        samples.append(fo.Sample(filepath=str(path), tags=[SPLITS[stem]],
                                 ground_truth=fo.Detections(detections=detections)))
    dataset = fo.Dataset(name)
    dataset.add_samples(samples, progress=False)
    dataset.compute_metadata()
    return dataset


def export_detection(layout: str, export_dir: Path, scratch: Path) -> Path:
    """Write :func:`detection_dataset` to ``export_dir`` with FiftyOne's exporter for ``layout``."""
    import fiftyone as fo

    type_name, per_split = EXPORTERS[layout]
    dataset_type = getattr(fo.types, type_name)
    name = f"export-{layout}-{os.getpid()}-{abs(hash(str(export_dir))) % 10**8}"
    dataset = detection_dataset(scratch / f"src-{layout}", name)
    options: dict[str, Any] = {"label_field": "ground_truth"}
    if type_name.startswith("YOLO"):
        options["classes"] = list(CLASSES)
    try:
        if not per_split:
            dataset.export(export_dir=str(export_dir), dataset_type=dataset_type, **options)
        elif type_name == "YOLOv5Dataset":
            for split in ("train", "val"):
                dataset.match_tags(split).export(export_dir=str(export_dir), dataset_type=dataset_type, split=split,
                                                 **options)
        else:
            for split in ("train", "val"):
                dataset.match_tags(split).export(export_dir=str(export_dir / split), dataset_type=dataset_type,
                                                 **options)
    finally:
        fo.delete_dataset(name)
    return export_dir
