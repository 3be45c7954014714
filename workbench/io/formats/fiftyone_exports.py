"""FiftyOne's own export layouts.

- ``FiftyOneDataset``: ``samples.json`` (``{"samples": [...]}``) + ``metadata.json``;
- ``FiftyOneImageClassificationDataset``: ``data/`` + ``labels.json`` mapping each image to a class;
- ``FiftyOneImageDetectionDataset``: ``data/`` + ``labels.json`` mapping each image to a list of boxes.

The two ``labels.json`` layouts are told apart by their values: a class (name, index or
``{"label": ...}``) versus a list of objects with a ``bounding_box``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from workbench.io.formats._probe import head, json_object
from workbench.io.sources import SourceSpec

_SAMPLES_HEAD = re.compile(rb'^\s*\{\s*"samples"\s*:')


def detect_dataset(root: Path) -> SourceSpec | None:
    """A ``FiftyOneDataset`` export: ``samples.json`` starting with ``{"samples":`` and a JSON ``metadata.json``."""
    samples, metadata = root / "samples.json", root / "metadata.json"
    if samples.is_file() and json_object(metadata) is not None and _SAMPLES_HEAD.match(head(samples, 256)):
        return SourceSpec(root, "fiftyone", ((None, root),))
    return None


def labels_json_kind(path: Path) -> Literal["classification", "detection"] | None:
    """What a ``labels.json`` of FiftyOne's image classification/detection layouts holds, or None."""
    data = json_object(path)
    if data is None or not isinstance(data.get("labels"), dict):
        return None
    values = [v for v in data["labels"].values() if v is not None][:20]
    if not values:
        return None
    if all(isinstance(v, list) and all(isinstance(d, dict) and "bounding_box" in d for d in v) for v in values):
        return "detection"
    if all(isinstance(v, (str, int)) and not isinstance(v, bool)
           or isinstance(v, dict) and "label" in v and "bounding_box" not in v for v in values):
        return "classification"
    return None


def _labelled(root: Path, kind: str) -> SourceSpec | None:
    if (root / "data").is_dir() and labels_json_kind(root / "labels.json") == kind:
        return SourceSpec(root, f"fiftyone-{kind}", ((None, root),))  # type: ignore[arg-type]
    return None


def detect_classification(root: Path) -> SourceSpec | None:
    """``data/`` + a ``labels.json`` of classes."""
    return _labelled(root, "classification")


def detect_detection(root: Path) -> SourceSpec | None:
    """``data/`` + a ``labels.json`` of box lists."""
    return _labelled(root, "detection")
