"""Recognise what kind of dataset a path holds. Pure filesystem inspection, no FiftyOne.

Formats are recognised by content, never by a file name alone: a JSON counts as COCO only
when it holds COCO detection annotations whose images are found, a YAML as YOLO only when
it names classes and splits, and so on (the detectors live in :mod:`workbench.io.formats`).
A stray ``truth.json``, ``notes.txt`` or ``config.yaml`` never decides the format.
"""

from __future__ import annotations

import json
import mmap
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from workbench.errors import SourceError

#: A format registered in :mod:`workbench.io.formats.registry` (``imagefolder``, ``coco``, ...). The
#: ``--format`` values, ``auto`` plus every registered layout, are :data:`FORMATS`.
SourceFormat = str

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
#: Folder names and tags understood as splits, mapped to the name workbench reports.
SPLIT_NAMES: dict[str, str] = {
    "train": "train", "training": "train",
    "val": "val", "valid": "val", "validation": "val", "dev": "val",
    "test": "test", "testing": "test",
}


@dataclass(frozen=True)
class SourceSpec:
    """A resolved source: its format and, per split, the path FiftyOne's importer reads.

    ``locations`` names, relative to each part's folder, where a layout keeps its media and
    labels when they are not FiftyOne's defaults (VOC's ``JPEGImages``/``Annotations``, CVAT's
    ``images``/``annotations.xml``, a segmentation set's ``images``/``masks``).
    """

    root: Path
    format: SourceFormat
    parts: tuple[tuple[str | None, Path], ...]
    images_dir: Path | None = None
    locations: tuple[tuple[str, str], ...] = ()

    def location(self, name: str, default: str) -> str:
        """The relative path this source keeps ``name`` (``data``, ``labels``) at, else ``default``."""
        return dict(self.locations).get(name, default)


def split_of_name(name: str) -> str | None:
    """Map a folder or file name to a split: ``instances_val2017.json`` -> ``val``."""
    low = name.lower()
    if low in SPLIT_NAMES:
        return SPLIT_NAMES[low]
    for token in re.split(r"[^a-z]+", low):
        if token in SPLIT_NAMES:
            return SPLIT_NAMES[token]
    return None


def is_image(path: Path) -> bool:
    """Whether ``path`` has an image suffix (:data:`IMAGE_SUFFIXES`, any case) and is not hidden."""
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


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


_FILE_NAME = re.compile(rb'"file_name"\s*:\s*"((?:[^"\\]|\\.)*)"')


def coco_file_names(labels: Path, *, limit: int = 20, head_bytes: int = 1 << 20) -> list[str]:
    """The first ``file_name`` entries of a COCO JSON, read from its first MiB (no full parse)."""
    try:
        with labels.open("rb") as fh:
            head = fh.read(head_bytes)
    except OSError:
        return []
    names = []
    for match in _FILE_NAME.finditer(head):
        try:
            names.append(json.loads(b'"' + match.group(1) + b'"'))
        except ValueError:
            continue
        if len(names) >= limit:
            break
    return names


def coco_images_dir(labels: Path, split: str | None) -> Path:
    """Where a COCO file's images live: ``<root>/<split>2017``, ``images/``, ``data/`` or beside it.

    The candidates (beside the JSON and one folder up: ``<split>2017/``, ``<split>/``,
    ``images/<split>2017/``, ``images/<split>/``, ``images/``, ``data/``, ``img/``, the folder
    itself) are checked against the JSON's first ``file_name`` entries; the first folder that
    holds one of them wins, else the first that exists.

    Example:
        >>> coco_images_dir(Path("coco/annotations/instances_val2017.json"), "val")  # doctest: +SKIP
        PosixPath('coco/val2017')
    """
    stem_tail = labels.stem.split("_")[-1]
    subs = [stem_tail, split or "", f"images/{stem_tail}", f"images/{split or ''}", "images", "data", "img", "."]
    candidates = []
    for base in (labels.parent, labels.parent.parent):
        candidates += [base / s for s in subs if s and not s.endswith("/") and (base / s).is_dir()]
    names = coco_file_names(labels, limit=5)
    for folder in candidates:
        if any((folder / n).is_file() for n in names):
            return folder
    named = [c for c in candidates if c not in (labels.parent, labels.parent.parent)]
    return named[0] if named else labels.parent


def file_contains(path: Path, *needles: bytes) -> list[bool]:
    """Whether each of ``needles`` occurs in the file, read through a memory map (no parse, any size)."""
    try:
        with path.open("rb") as fh:
            if os.fstat(fh.fileno()).st_size == 0:
                return [False] * len(needles)
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                return [mm.find(n) >= 0 for n in needles]
    except OSError:
        return [False] * len(needles)


def resolve_source(source: str | Path, format: str = "auto", *, images: str | Path | None = None) -> SourceSpec:
    """Work out the format of ``source`` and the pieces FiftyOne's importers need.

    Args:
        source: a dataset folder (any registered layout) or a file (COCO JSON,
            YOLO ``data.yaml``, CVAT ``annotations.xml``).
        format: ``auto`` (recognise by content) or one of :data:`FORMATS` to force it.
        images: for COCO, the folder its ``file_name`` entries are relative to.

    Raises:
        SourceError: the path is missing, holds no layout workbench reads (the message lists
            them with the ``--format`` value of each), or is not the forced layout.

    Example:
        >>> spec = resolve_source("data/demo/fashion-mnist")  # doctest: +SKIP
        >>> spec.format, [s for s, _ in spec.parts]  # doctest: +SKIP
        ('imagefolder', ['test', 'train'])
    """
    from workbench.io.formats import detect_layout, force_layout
    from workbench.io.formats.registry import format_choices

    if format not in format_choices():
        raise SourceError(f"unknown format {format!r}; choose one of {', '.join(format_choices())}")
    root = Path(source).expanduser().resolve()
    if not root.exists():
        raise SourceError(f"{root} does not exist and is not the name of a FiftyOne dataset; pass a dataset folder, an "
                          "annotation file (a COCO JSON, a YOLO data.yaml, a CVAT XML) or an existing FiftyOne "
                          "dataset's name ('workbench list' shows them)")
    images_dir = Path(images).expanduser().resolve() if images else None
    spec = detect_layout(root) if format == "auto" else force_layout(root, format)
    if images_dir is not None and spec.format == "coco":
        spec = SourceSpec(spec.root, spec.format, spec.parts, images_dir, spec.locations)
    return spec


def __getattr__(name: str) -> Any:
    """``FORMATS``: the ``--format`` values, ``auto`` plus every registered layout, read from the
    format registry when asked for (a format registered after this module was imported is among them)."""
    if name == "FORMATS":
        from workbench.io.formats.registry import format_choices

        return format_choices()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
