"""Recognise what kind of dataset a path holds. Pure filesystem inspection, no FiftyOne."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Literal

from workbench.errors import SourceError

SourceFormat = Literal["imagefolder", "coco", "yolo", "fiftyone"]
FORMATS: tuple[str, ...] = ("auto", "imagefolder", "coco", "yolo", "fiftyone")

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
#: Folder names and tags understood as splits, mapped to the name workbench reports.
SPLIT_NAMES: dict[str, str] = {
    "train": "train", "training": "train",
    "val": "val", "valid": "val", "validation": "val", "dev": "val",
    "test": "test", "testing": "test",
}


@dataclass(frozen=True)
class SourceSpec:
    """A resolved source: its format and, per split, the path FiftyOne's importer reads."""

    root: Path
    format: SourceFormat
    parts: tuple[tuple[str | None, Path], ...]
    images_dir: Path | None = None


def split_of_name(name: str) -> str | None:
    """Map a folder or file name to a split: ``instances_val2017.json`` -> ``val``."""
    low = name.lower()
    if low in SPLIT_NAMES:
        return SPLIT_NAMES[low]
    for token in re.split(r"[^a-z]+", low):
        if token in SPLIT_NAMES:
            return SPLIT_NAMES[token]
    return None


def _has_images(path: Path) -> bool:
    return any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir() if p.is_file())


def _is_class_tree(path: Path) -> bool:
    subdirs = [d for d in path.iterdir() if d.is_dir() and not d.name.startswith(".")]
    return bool(subdirs) and any(_has_images(d) for d in subdirs)


def find_image_files(inputs: Iterable[str | os.PathLike[str]]) -> list[str]:
    """Absolute paths of the files named in ``inputs`` and the image files under its folders.

    Folders are walked recursively, in sorted order, for files with an image suffix
    (:data:`IMAGE_SUFFIXES`, any case), skipping hidden files and folders; files named
    directly are kept whatever their suffix. A path met twice is listed once.

    Raises:
        SourceError: an input does not exist.

    Example:
        >>> find_image_files(["data/demo/fashion-mnist"])[:1]  # doctest: +SKIP
        ['/…/data/demo/fashion-mnist/test/Ankle_boot/test-000012.png']
    """
    found: dict[str, None] = {}
    for item in inputs:
        path = Path(item).expanduser().absolute()
        if path.is_file():
            found[str(path)] = None
        elif path.is_dir():
            for folder, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found.update((os.path.join(folder, n), None) for n in sorted(names)
                             if not n.startswith(".") and Path(n).suffix.lower() in IMAGE_SUFFIXES)
        else:
            raise SourceError(f"{item} does not exist; pass image files or folders holding them")
    return list(found)


def read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SourceError(f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
                          "fix the file or re-export the annotations") from exc
    except UnicodeDecodeError as exc:
        raise SourceError(f"{path} is not UTF-8 text; re-export the annotations as UTF-8 JSON") from exc


def _looks_like_coco(path: Path) -> bool:
    if path.suffix.lower() != ".json":
        return False
    data = read_json(path)
    return isinstance(data, dict) and "images" in data and "annotations" in data


def coco_images_dir(labels: Path, split: str | None) -> Path:
    """Guess where a COCO file's images live: ``<root>/<split>2017``, ``images/``, ``data/`` or beside it."""
    bases = [labels.parent, labels.parent.parent]
    stem_tail = labels.stem.split("_")[-1]
    names = [stem_tail, split or "", "images", "data", "img"]
    for base in bases:
        for name in names:
            if name and (base / name).is_dir():
                return base / name
    return labels.parent


def resolve_source(source: str | Path, format: str = "auto", *, images: str | Path | None = None) -> SourceSpec:
    """Work out the format of ``source`` and the pieces FiftyOne's importers need.

    Args:
        source: a folder (image-classification tree, YOLOv5 dataset, FiftyOne export,
            COCO export) or a file (COCO JSON, YOLO ``data.yaml``).
        format: ``auto`` or one of :data:`FORMATS`.
        images: for COCO, the folder its ``file_name`` entries are relative to.

    Raises:
        SourceError: the path is missing or holds nothing workbench can read.

    Example:
        >>> spec = resolve_source("data/demo/fashion-mnist")  # doctest: +SKIP
        >>> spec.format, [s for s, _ in spec.parts]  # doctest: +SKIP
        ('imagefolder', ['test', 'train'])
    """
    if format not in FORMATS:
        raise SourceError(f"unknown format {format!r}; choose one of {', '.join(FORMATS)}")
    root = Path(source).expanduser().resolve()
    if not root.exists():
        raise SourceError(f"{root} does not exist; pass a dataset folder, a COCO JSON or a YOLO data.yaml")
    images_dir = Path(images).expanduser().resolve() if images else None

    if root.is_file():
        if format in ("auto", "yolo") and root.suffix.lower() in (".yaml", ".yml"):
            return SourceSpec(root.parent, "yolo", ((None, root),))
        if format in ("auto", "coco") and (format == "coco" or _looks_like_coco(root)):
            split = split_of_name(root.stem)
            return SourceSpec(root.parent, "coco", ((split, root),), images_dir or coco_images_dir(root, split))
        raise SourceError(f"{root} is neither a COCO JSON (with 'images' and 'annotations') nor a YOLO data.yaml")

    children = {p.name: p for p in root.iterdir()}
    yamls = [children[n] for n in ("data.yaml", "dataset.yaml", "data.yml") if n in children]
    if format == "yolo" or (format == "auto" and yamls):
        if not yamls:
            raise SourceError(f"{root} has no data.yaml; a YOLOv5 dataset needs one naming its splits and classes")
        return SourceSpec(root, "yolo", ((None, yamls[0]),))
    if format == "fiftyone" or (format == "auto" and "samples.json" in children and "metadata.json" in children):
        return SourceSpec(root, "fiftyone", ((None, root),))

    coco_files: list[Path] = []
    for folder in (root / "annotations", root):
        if folder.is_dir():
            coco_files += sorted(p for p in folder.glob("*.json") if p.name != "metadata.json")
    if format == "coco" or (format == "auto" and coco_files and not _is_class_tree(root)):
        coco_files = [p for p in coco_files if _looks_like_coco(p)]
        if not coco_files:
            raise SourceError(f"no COCO annotation JSON (with 'images' and 'annotations') found in {root}")
        parts = tuple((split_of_name(p.stem), p) for p in coco_files)
        return SourceSpec(root, "coco", parts, images_dir)

    # Image-classification directory tree, optionally under split folders.
    split_dirs = sorted((SPLIT_NAMES[d.name.lower()], d) for d in root.iterdir()
                        if d.is_dir() and d.name.lower() in SPLIT_NAMES)
    if split_dirs:
        return SourceSpec(root, "imagefolder", tuple(split_dirs))
    if _is_class_tree(root):
        return SourceSpec(root, "imagefolder", ((None, root),))
    raise SourceError(f"can't tell what {root} holds: expected class folders of images (optionally under "
                      "train/ val/ test/), a COCO JSON, a YOLO data.yaml or a FiftyOne export; "
                      "pass --format to say which")
