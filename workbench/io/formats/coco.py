"""COCO detection: one JSON, or the COCO 2017 layout (``annotations/instances_<split>2017.json``).

A JSON counts as COCO detection when it is an object holding ``images`` and ``annotations``
whose annotations carry boxes (captions and panoptic files are not detection). The JSON is
only sniffed through a memory map (the 2017 train file is 450 MB). When several files cover
one split (``instances_``, ``person_keypoints_`` ...), only ``instances_`` is read, so the same
image is not loaded twice. Detection also requires the images of at least one JSON to be found
(:func:`workbench.io.sources.coco_images_dir`); a COCO JSON whose images are all missing is
only taken when nothing else fits (they are then reported missing). Split folders that each hold
a COCO export (``train/labels.json`` + ``train/data/``: FiftyOne's exporter run once per split)
are read as one source with a split per folder.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

from workbench.errors import SourceError
from workbench.io.formats._probe import head
from workbench.io.sources import (SPLIT_NAMES, SourceSpec, coco_file_names, coco_images_dir, file_contains,
                                  read_json, split_of_name)

_EMPTY_ANNOTATIONS = re.compile(rb'"annotations"\s*:\s*\[\s*\]')


def is_coco_detection(path: Path) -> bool:
    """Whether ``path`` looks like a COCO detection JSON, judged without parsing it."""
    if path.suffix.lower() != ".json" or not path.is_file() or not head(path, 64).lstrip().startswith(b"{"):
        return False
    images, annotations, bbox, panoptic = file_contains(path, b'"images"', b'"annotations"', b'"bbox"',
                                                        b'"segments_info"')
    if not (images and annotations) or panoptic:
        return False
    return bbox or _EMPTY_ANNOTATIONS.search(head(path, 1 << 20)) is not None or not file_contains(
        path, b'"caption"')[0]


def images_found(path: Path, split: str | None) -> bool:
    """Whether one of the JSON's first images exists where :func:`coco_images_dir` looks (or it lists none)."""
    names = coco_file_names(path, limit=5)
    if not names:
        return True
    folder = coco_images_dir(path, split)
    return any((folder / n).is_file() for n in names)


def _candidates(root: Path) -> list[Path]:
    files: list[Path] = []
    for folder in (root, root / "annotations"):
        if folder.is_dir():
            files += sorted(p for p in folder.glob("*.json") if not p.name.startswith(".") and is_coco_detection(p))
    by_split: dict[str | None, list[Path]] = defaultdict(list)
    for p in files:
        by_split[split_of_name(p.stem)].append(p)
    chosen = []
    for group in by_split.values():
        instances = [p for p in group if p.name.startswith("instances_")]
        chosen += instances or group
    return sorted(chosen)


def _spec(root: Path, files: list[Path]) -> SourceSpec:
    return SourceSpec(root, "coco", tuple((split_of_name(p.stem), p) for p in files))


def detect(root: Path) -> SourceSpec | None:
    """COCO JSONs at ``root`` or in ``root/annotations`` whose images are found."""
    files = _candidates(root)
    if files and any(images_found(p, split_of_name(p.stem)) for p in files):
        return _spec(root, files)
    return None


def force(root: Path, *, quiet: bool = False) -> SourceSpec | None:
    """COCO JSONs at ``root`` or in ``root/annotations``, found images or not.

    Returns None when there is none but split folders hold some (``train/labels.json``, one
    FiftyOne export per split): those are read per split.

    Raises:
        SourceError: there is none (unless ``quiet``, which returns None).
    """
    files = _candidates(root)
    if files:
        return _spec(root, files)
    if quiet or any(_candidates(d) for d in root.iterdir() if d.is_dir() and d.name.lower() in SPLIT_NAMES):
        return None
    raise SourceError(f"no COCO annotation JSON (with 'images' and 'annotations') found in {root} or "
                      f"{root / 'annotations'}")


def detect_file(path: Path) -> SourceSpec | None:
    """A COCO JSON named directly; an invalid JSON says where it breaks."""
    if path.suffix.lower() != ".json":
        return None
    if not is_coco_detection(path):
        data = read_json(path)  # raises with the line and column of a syntax error
        if not (isinstance(data, dict) and "images" in data and "annotations" in data):
            return None
    return _file_spec(path)


def force_file(path: Path) -> SourceSpec:
    """``--format coco`` on a file: it must parse and hold ``images`` and ``annotations``."""
    if not is_coco_detection(path):
        data = read_json(path)
        if not (isinstance(data, dict) and "images" in data and "annotations" in data):
            raise SourceError(f"{path} is not a COCO detection JSON: it needs 'images' and 'annotations' lists")
    return _file_spec(path)


def _file_spec(path: Path) -> SourceSpec:
    split = split_of_name(path.stem)
    return SourceSpec(path.parent, "coco", ((split, path),), coco_images_dir(path, split))


def diagnose(root: Path) -> list[str]:
    """Why JSONs in the COCO places (and in split folders) were not read, for the refusal message."""
    notes = []
    splits = sorted(d for d in root.iterdir() if d.is_dir() and d.name.lower() in SPLIT_NAMES)
    for folder in (root, root / "annotations", *splits):
        for p in sorted(folder.glob("*.json")) if folder.is_dir() else ():
            if p.name.startswith(".") or is_coco_detection(p):
                continue
            try:
                read_json(p)
            except SourceError as exc:
                notes.append(str(exc))
    return notes
