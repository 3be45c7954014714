"""Semantic segmentation: a folder of images and a folder of same-named masks (FiftyOne's
``ImageSegmentationDirectory``: ``data/`` + ``labels/``; also ``images/`` + ``masks/``, VOC's
``JPEGImages/`` + ``SegmentationClass/``).

The label folder must hold images (masks), and most of them must share a name (path without
suffix) with an image: a YOLO ``labels/`` of text files or a VOC ``labels/`` of XMLs is not this.
"""

from __future__ import annotations

from pathlib import Path

from workbench.io.formats._probe import first, iter_images, stems
from workbench.io.sources import SourceSpec

PAIRS = (("data", "labels"), ("images", "masks"), ("images", "labels"), ("images", "annotations"),
         ("JPEGImages", "SegmentationClass"), ("imgs", "masks"))
#: Share of the first masks that must pair with an image.
MIN_PAIRED = 0.5
_SAMPLE = 200


def detect(root: Path) -> SourceSpec | None:
    """An image folder and a mask folder whose files pair up by name at ``root``."""
    for data, labels in PAIRS:
        data_dir, labels_dir = root / data, root / labels
        if not (data_dir.is_dir() and labels_dir.is_dir()):
            continue
        masks = first(iter_images(labels_dir), _SAMPLE)
        if not masks:
            continue
        images = stems(data_dir, list(iter_images(data_dir)))
        paired = sum(s in images for s in stems(labels_dir, masks))
        if paired >= MIN_PAIRED * len(masks):
            return SourceSpec(root, "segmentation", ((None, root),), locations=(("data", data), ("labels", labels)))
    return None
