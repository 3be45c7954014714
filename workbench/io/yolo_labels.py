"""Read a YOLOv5/YOLOv8 detection dataset into plain data, with one finding per bad label line.

FiftyOne's ``YOLOv5Dataset`` importer stops the whole import at the first unparsable line
(without naming the file), turns class ids beyond ``names`` into a class named after the id,
keeps boxes outside the image, and skips images that have no label file. This module reads
the same layout (FiftyOne's and Ultralytics' conventions: ``names`` as a list or an
``{id: name}`` mapping; ``train``/``val``/``test`` entries as image folders, with ``labels/``
beside ``images/``, or ``.txt`` lists of image paths; paths relative to ``path:`` and the
YAML's folder) but checks every line and keeps going:

- a line that is not ``class x_center y_center width height [confidence]`` (or a polygon
  ``class x1 y1 x2 y2 x3 y3 ...``) is skipped and reported with its file and line number;
- a class id that ``names`` doesn't list, a box with no area, or a box entirely outside
  the image is dropped and reported;
- a box that overlaps the image but extends past its edge is clipped to the image and
  reported (overshoots up to :data:`ROUNDING_TOLERANCE` are clipped silently);
- an image without a label file is kept with no objects: it is a negative, not a problem;
- a label file whose image doesn't exist is reported and ignored;
- the YAML's folder is a boundary (see :mod:`workbench.io.boundary`): a label file or image list
  that resolves outside it (a symlink, an absolute ``path:``) is never read but reported, unless
  ``allow_outside_root``; when ``path:`` points outside the folder but the split entries exist
  inside it (an export that was moved or copied), the folder's own copy is read, with a warning.

Nothing here imports FiftyOne: :func:`parse_label_lines` and :func:`check_box` are pure,
:func:`read_yolo_dataset` reads files and returns plain data, and
``workbench.io.loading`` turns it into samples. The user's files are only read.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from workbench.errors import SourceError
from workbench.io.boundary import is_within
from workbench.io.sources import IMAGE_SUFFIXES

log = logging.getLogger(__name__)

#: Overshoot past an edge (as a fraction of the image side) treated as rounding: clipped, not reported.
ROUNDING_TOLERANCE = 1e-4
SPLIT_KEYS = ("train", "val", "test")


@dataclass(frozen=True)
class YoloBox:
    """One object: its class name and FiftyOne's relative ``[x, y, width, height]`` box (top-left origin)."""

    label: str
    bounding_box: tuple[float, float, float, float]
    confidence: float | None = None


@dataclass(frozen=True)
class YoloImage:
    """One image of a split with its valid boxes; ``labels_path`` is None when it has no label file."""

    filepath: str
    split: str
    boxes: tuple[YoloBox, ...]
    labels_path: str | None


@dataclass(frozen=True)
class YoloDataset:
    """What :func:`read_yolo_dataset` found: classes in id order, images, problems, negatives."""

    classes: tuple[str, ...]
    images: tuple[YoloImage, ...]
    problems: tuple[dict, ...]
    n_without_labels: int


def _problem(source: str, message: str, file_name: str | None) -> dict:
    return {"source": source, "kind": "annotation", "message": message, "file_name": file_name}


def parse_names(names: Any, *, source: str = "data.yaml") -> dict[int, str]:
    """``names`` of a data.yaml (a list, or a mapping of class id to name) as ``{id: name}``.

    Raises:
        SourceError: ``names`` is missing, empty or neither a list nor a mapping of integer ids.

    Example:
        >>> parse_names(["car", "bus"]), parse_names({0: "car", "2": "bus"})
        ({0: 'car', 1: 'bus'}, {0: 'car', 2: 'bus'})
    """
    if isinstance(names, list):
        mapping = dict(enumerate(names))
    elif isinstance(names, dict):
        mapping = {}
        for key, value in names.items():
            try:
                cid = int(key)
            except (TypeError, ValueError):
                raise SourceError(f"{source}: names key {key!r} is not an integer class id; use "
                                  "'names: [a, b]' or 'names: {0: a, 1: b}'") from None
            if cid < 0 or str(cid) != str(key).strip():
                raise SourceError(f"{source}: names key {key!r} is not a class id (0, 1, 2, ...)")
            mapping[cid] = value
    else:
        raise SourceError(f"{source} has no 'names' list of classes; a YOLO data.yaml needs one, e.g. "
                          "'names: [car, bus]'")
    if not mapping:
        raise SourceError(f"{source}: 'names' is empty; list the classes the label files' ids refer to")
    bad = [v for v in mapping.values() if not isinstance(v, (str, int, float)) or isinstance(v, bool)]
    if bad:
        raise SourceError(f"{source}: class names must be strings, not {bad[0]!r}")
    return {cid: str(name) for cid, name in sorted(mapping.items())}


def class_list(classes: Mapping[int, str]) -> list[str]:
    """Classes in id order, gaps named by their id (FiftyOne's ``default_classes`` convention)."""
    return [classes.get(i, str(i)) for i in range(max(classes, default=-1) + 1)]


def check_box(x0: float, y0: float, x1: float, y1: float, *, tolerance: float = ROUNDING_TOLERANCE
              ) -> tuple[tuple[float, float, float, float] | None, str | None]:
    """Judge a box given by its corners in image fractions: ``(clipped box or None, reason or None)``.

    Returns the box as ``(x, y, width, height)`` clipped to ``[0, 1]``, or None when it has
    no area or lies entirely outside the image (then the reason says which). The reason is
    also set when a kept box was clipped by more than ``tolerance``.

    Example:
        >>> check_box(0.9, 0.4, 1.1, 0.6)
        ((0.9, 0.4, 0.09999999999999998, 0.19999999999999996), 'extends past the right edge; clipped to the image')
        >>> check_box(1.2, 0.4, 1.4, 0.6)[1]
        'lies entirely outside the image; box dropped'
    """
    if x1 - x0 <= 0 or y1 - y0 <= 0:
        return None, "has zero or negative width or height; box dropped"
    cx0, cy0, cx1, cy1 = max(x0, 0.0), max(y0, 0.0), min(x1, 1.0), min(y1, 1.0)
    if cx1 <= cx0 or cy1 <= cy0:
        return None, "lies entirely outside the image; box dropped"
    edges = [name for name, over in (("left", -x0), ("top", -y0), ("right", x1 - 1), ("bottom", y1 - 1))
             if over > tolerance]
    box = (cx0, cy0, cx1 - cx0, cy1 - cy0)
    if edges:
        return box, f"extends past the {' and '.join(edges)} edge{'s' if len(edges) > 1 else ''}; clipped to the image"
    return box, None


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def parse_label_lines(lines: Iterable[str], classes: Mapping[int, str], *, source: str,
                      file_name: str | None = None, display: str | None = None, names_from: str = "data.yaml"
                      ) -> tuple[list[YoloBox], list[dict]]:
    """Parse the lines of one YOLO label file into valid boxes and one problem per bad line.

    Args:
        lines: the file's lines; blank ones are skipped, numbering counts every line from 1.
        classes: ``{class id: name}`` from :func:`parse_names`.
        source: the label file's path, recorded as the problem's ``source``.
        file_name: the image the labels belong to, recorded as the problem's ``file_name``.
        display: how messages name the label file (default ``source``).
        names_from: how messages name the YAML that lists the classes.

    Example:
        >>> boxes, problems = parse_label_lines(["0 0.5 0.5 0.2 0.2", "7 0.5 0.5 0.2 0.2", "oops"],
        ...                                     {0: "car"}, source="a.txt")
        >>> [b.label for b in boxes], [p["message"][:40] for p in problems]
        (['car'], ['a.txt line 2: class id 7 is out of range', "a.txt line 3: 'oops' is not 'class x_cen"])
    """
    name = display or source
    boxes: list[YoloBox] = []
    problems: list[dict] = []
    ids = f"{min(classes)}-{max(classes)}" if classes else "none"
    for number, raw in enumerate(lines, start=1):
        fields = raw.split()
        if not fields:
            continue
        where = f"{name} line {number}: "
        shown = " ".join(fields)
        shown = repr(shown if len(shown) <= 60 else shown[:57] + "...")
        n = len(fields)
        if n not in (5, 6) and (n < 7 or (n - 1) % 2):
            problems.append(_problem(source, f"{where}{shown} is not 'class x_center y_center width height' "
                                             f"({n} fields; expected 5, 6 with a confidence, or a polygon's "
                                             "class and x y pairs); line skipped", file_name))
            continue
        values = [_number(f) for f in fields]
        if any(v is None for v in values):
            problems.append(_problem(source, f"{where}{shown} has a value that is not a finite number; "
                                             "line skipped", file_name))
            continue
        cid = values[0]
        if cid != int(cid) or int(cid) not in classes:
            problems.append(_problem(source, f"{where}class id {fields[0]} is out of range ({names_from} names ids "
                                             f"{ids}); box dropped", file_name))
            continue
        confidence = None
        if n in (5, 6):
            xc, yc, w, h = values[1:5]
            corners = (xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2)
            confidence = values[5] if n == 6 else None
            looks_pixel = max(abs(xc), abs(yc), w, h) > 1
        else:
            xs, ys = values[1::2], values[2::2]
            corners = (min(xs), min(ys), max(xs), max(ys))
            looks_pixel = max(map(abs, values[1:])) > 1
        box, reason = check_box(*corners)
        if reason:
            hint = " (values above 1 look like pixels: YOLO wants fractions of the image size)" if looks_pixel else ""
            problems.append(_problem(source, f"{where}box {shown} {reason}{hint}", file_name))
        if box is not None:
            boxes.append(YoloBox(label=classes[int(cid)], bounding_box=box, confidence=confidence))
    return boxes, problems


def labels_path_for(image_path: str) -> str:
    """The label file of an image: the last ``/images/`` becomes ``/labels/`` and the suffix ``.txt``.

    Without an ``images`` folder in the path the labels sit beside the image (Ultralytics' rule).

    Example:
        >>> labels_path_for("/d/images/train/a.jpg")
        '/d/labels/train/a.txt'
    """
    old, new = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    chunks = image_path.rsplit(old, 1)
    path = new.join(chunks) if len(chunks) > 1 else image_path
    return os.path.splitext(path)[0] + ".txt"


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith(".")


def _list_images(folder: Path) -> list[str]:
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found += [os.path.join(root, n) for n in sorted(names) if _is_image(Path(n))]
    return found


def _split_entries(cfg: dict, key: str, base: Path) -> list[Path]:
    entries = cfg[key] if isinstance(cfg[key], list) else [cfg[key]]
    return [Path(os.path.normpath(base / str(e))) for e in entries]


def _entries_base(cfg: dict, split_keys: list[str], yaml_path: Path, roots: list[str]) -> Path:
    """The folder split entries are relative to: ``path:``, unless it lies outside and the folder has its own copy.

    FiftyOne's YOLOv5 export writes an absolute ``path:``; once the export is moved or copied, that
    still names the old folder. Its images would be outside the dataset root (never read) and its
    label files would be someone else's, so when the split entries exist inside the YAML's own
    folder, those are read instead, with a warning.
    """
    own = yaml_path.parent
    base = own / str(cfg.get("path") or "")
    if not roots or is_within(str(base), roots):
        return base
    inside = [e for k in split_keys for e in _split_entries(cfg, k, own) if e.exists()]
    if inside:
        log.warning("%s: 'path: %s' lies outside the dataset folder %s, which holds the splits itself (a moved or "
                    "copied export?): reading the folder's own %s", yaml_path, cfg.get("path"), own,
                    ", ".join(sorted({os.path.relpath(e, own) for e in inside})))
        return own
    return base


def read_yolo_dataset(yaml_path: str | Path, *, allow_outside_root: bool = False,
                      config: dict | None = None) -> YoloDataset:
    """Read a YOLO detection dataset described by ``yaml_path`` (or by ``config``, a mapping of the same
    keys read from another file: YOLOv4's ``obj.names``, named by ``yaml_path``) into plain data.

    Every image of every split named in the YAML becomes a :class:`YoloImage` (an image
    listed in two splits appears in both); bad label lines, orphan label files and split
    entries that don't exist are returned as problems
    (``{"source", "kind": "annotation", "message", "file_name"}``).

    Label files and image lists that resolve outside the YAML's folder are not read (each is a
    problem) unless ``allow_outside_root``; see the module docstring for ``path:``.

    Raises:
        SourceError: the YAML can't be read, has no usable ``names``, names no split, or no
            split holds any image.

    Example:
        >>> ds = read_yolo_dataset("data/yolo/data.yaml")  # doctest: +SKIP
        >>> ds.classes, len(ds.images), ds.problems[0]["message"]  # doctest: +SKIP
        (('car', 'bus'), 4, 'labels/train/a.txt line 3: class id 7 is out of range ...')
    """
    import yaml

    yaml_path = Path(yaml_path)
    try:
        cfg = config if config is not None else yaml.safe_load(yaml_path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise SourceError(f"{yaml_path} is not valid YAML ({exc}); fix it") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"{yaml_path} can't be read as text ({exc})") from exc
    if not isinstance(cfg, dict) or "names" not in cfg:
        raise SourceError(f"{yaml_path} has no 'names' list of classes; a YOLOv5 data.yaml needs one")
    classes = parse_names(cfg["names"], source=str(yaml_path))
    split_keys = [k for k in SPLIT_KEYS if cfg.get(k)]
    if not split_keys:
        raise SourceError(f"{yaml_path} names no train/val/test image folders")

    root = yaml_path.parent
    roots = [] if allow_outside_root else [os.path.realpath(root)]
    base = _entries_base(cfg, split_keys, yaml_path, roots)

    def shown(path: str | Path) -> str:
        rel = os.path.relpath(path, root)
        return str(path) if rel.startswith("..") else rel

    problems: list[dict] = []
    per_split: list[tuple[str, list[str]]] = []
    label_dirs: set[str] = set()  # folders whose label files should all belong to some image
    for key in split_keys:
        images: dict[str, None] = {}
        for entry in _split_entries(cfg, key, base):
            if entry.suffix.lower() == ".txt" and entry.is_file() and roots and not is_within(str(entry), roots):
                problems.append(_problem(str(yaml_path), f"{yaml_path.name} {key}: the image list {shown(entry)} "
                                         f"resolves outside the dataset folder {root}; it was not read (move it "
                                         "inside, or pass --allow-outside-root)", None))
            elif entry.suffix.lower() == ".txt" and entry.is_file():
                try:
                    lines = entry.read_text(encoding="utf-8").splitlines()
                except (OSError, UnicodeDecodeError) as exc:
                    problems.append(_problem(str(yaml_path), f"{yaml_path.name} {key}: the image list "
                                             f"{shown(entry)} can't be read ({exc}); skipped", None))
                    continue
                for line in lines:
                    if line.strip():
                        p = Path(line.strip())
                        images[os.path.normpath(p if p.is_absolute() else entry.parent / p)] = None
            elif entry.is_dir():
                images.update(dict.fromkeys(_list_images(entry)))
                labels_dir = os.path.dirname(labels_path_for(str(entry / "x")))
                if labels_dir != str(entry):  # labels beside the images: other .txt files may live there
                    label_dirs.add(labels_dir)
            else:
                problems.append(_problem(str(yaml_path), f"{yaml_path.name} {key}: {shown(entry)} does not exist "
                                         "(expected an image folder or a .txt list of images); skipped", None))
        per_split.append((key, list(images)))
    if not any(paths for _, paths in per_split):
        raise SourceError(f"{yaml_path}: no images found in its {'/'.join(split_keys)} entries; check the paths "
                          "(relative to the YAML's folder and its 'path:')")

    parsed: dict[str, tuple[tuple[YoloBox, ...], str | None]] = {}
    out: list[YoloImage] = []
    n_without = 0
    expected: set[str] = set()
    for key, paths in per_split:
        for image in paths:
            if image not in parsed:
                parsed[image] = _read_labels(image, classes, shown, problems, roots=roots,
                                             names_from=yaml_path.name)
            boxes, labels = parsed[image]
            expected.add(os.path.normpath(labels_path_for(image)))
            n_without += labels is None
            out.append(YoloImage(filepath=image, split=key, boxes=boxes, labels_path=labels))
    problems += _orphan_labels({d for d in label_dirs if not roots or is_within(d, roots)}, expected, shown)
    return YoloDataset(classes=tuple(class_list(classes)), images=tuple(out), problems=tuple(problems),
                       n_without_labels=n_without)


def _read_labels(image: str, classes: Mapping[int, str], shown: Callable[[str], str], problems: list[dict], *,
                 roots: list[str], names_from: str) -> tuple[tuple[YoloBox, ...], str | None]:
    path = labels_path_for(image)
    if not os.path.isfile(path):
        return (), None
    if roots and not is_within(path, roots):  # the dataset root is a boundary: never read what lies outside
        if is_within(image, roots):  # (an image outside is reported as outside_root; its labels go with it)
            problems.append(_problem(path, f"{shown(path)} resolves outside the dataset folder (to "
                                           f"{os.path.realpath(path)}); it was not read, the image is kept without "
                                           "labels (move it inside, or pass --allow-outside-root)", image))
        return (), None
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # a BOM is not part of the first line
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(_problem(path, f"{shown(path)} can't be read as text ({type(exc).__name__}); "
                                       "the image is kept without its labels", image))
        return (), path
    boxes, found = parse_label_lines(text.splitlines(), classes, source=path, file_name=image, display=shown(path),
                                     names_from=names_from)
    problems += found
    return tuple(boxes), path


def _orphan_labels(label_dirs: set[str], expected: set[str], shown: Callable[[str], str]) -> list[dict]:
    problems = []
    for folder in sorted(label_dirs):
        for root, dirs, names in os.walk(folder):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for n in sorted(names):
                path = os.path.normpath(os.path.join(root, n))
                if n.endswith(".txt") and n != "classes.txt" and not n.startswith(".") and path not in expected:
                    problems.append(_problem(path, f"{shown(path)} has no image (expected one named "
                                                   f"{os.path.splitext(n)[0]}.<jpg|png|...> under images/); "
                                                   "its labels were ignored", None))
    return problems
