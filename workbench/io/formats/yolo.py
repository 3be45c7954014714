"""YOLOv5 / YOLOv8: a YAML naming the classes (``names``) and the image folders of the splits.

Any ``*.yaml`` at the root counts when its content is such a mapping (``data.yaml`` and
``dataset.yaml`` are looked at first); YOLOv8's ``path:`` and ``images/train`` entries are
the importer's business. A YAML without ``names`` and a split is someone else's config file.

YOLOv4 (Darknet, FiftyOne's ``YOLOv4Dataset``): ``obj.names`` (one class per line) with
``images.txt`` listing the images (or a ``data/`` folder of them), each image's labels in a
``.txt`` beside it. The layout carries no split.
"""

from __future__ import annotations

from pathlib import Path

from workbench.errors import SourceError
from workbench.io.sources import SourceSpec

_PREFERRED = ("data.yaml", "dataset.yaml", "data.yml", "dataset.yml")
_MAX_YAML = 1 << 20


def _yamls(root: Path) -> list[Path]:
    found = [p for p in sorted(root.glob("*.y*ml")) if p.suffix.lower() in (".yaml", ".yml")
             and not p.name.startswith(".") and p.is_file()]
    return sorted(found, key=lambda p: (p.name.lower() not in _PREFERRED, p.name))


def _read(path: Path) -> tuple[object, str | None]:
    import yaml

    try:
        if path.stat().st_size > _MAX_YAML:
            return None, None
        return yaml.safe_load(path.read_text(encoding="utf-8")), None
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"{path} can't be read as text ({exc})"
    except yaml.YAMLError as exc:
        return None, f"{path} is not valid YAML ({exc}); fix it"


def is_yolo_yaml(path: Path) -> bool:
    """Whether ``path`` holds a YOLO dataset mapping: ``names`` plus a ``train``/``val``/``test`` entry."""
    cfg, _ = _read(path)
    return isinstance(cfg, dict) and "names" in cfg and any(cfg.get(k) for k in ("train", "val", "test"))


def detect(root: Path) -> SourceSpec | None:
    """The first YAML at ``root`` that is a YOLO dataset description."""
    for path in _yamls(root):
        if is_yolo_yaml(path):
            return SourceSpec(root, "yolo", ((None, path),))
    return None


def force(root: Path) -> SourceSpec:
    """``--format yolo``: ``data.yaml`` (or ``dataset.yaml``) is read even if it looks wrong; the importer says why.

    Raises:
        SourceError: there is no such file.
    """
    for name in _PREFERRED:
        if (root / name).is_file():
            return SourceSpec(root, "yolo", ((None, root / name),))
    spec = detect(root)
    if spec is None:
        raise SourceError(f"{root} has no data.yaml; a YOLOv5 dataset needs one naming its splits and classes")
    return spec


def detect_file(path: Path) -> SourceSpec | None:
    """A YAML named directly is taken as the YOLO dataset description (the importer checks it)."""
    if path.suffix.lower() in (".yaml", ".yml"):
        return SourceSpec(path.parent, "yolo", ((None, path),))
    return None


def diagnose(root: Path) -> list[str]:
    """Why ``data.yaml``-like files were not read, for the refusal message."""
    notes = []
    for path in _yamls(root):
        cfg, error = _read(path)
        if error:
            notes.append(error)
        elif path.name.lower() in _PREFERRED and not is_yolo_yaml(path):
            notes.append(f"{path.name} has no 'names' list of classes and no train/val/test entry, so it is not "
                         "a YOLO dataset description")
    return notes


#: YOLOv4's class list, and where its images are listed (or kept).
DARKNET_NAMES, DARKNET_LISTS = "obj.names", ("images.txt", "data")


def darknet_config(names: Path) -> dict:
    """A YOLOv4 export as the mapping :func:`workbench.io.yolo_labels.read_yolo_dataset` reads:
    the classes of ``obj.names`` and its image list (``images.txt``, else ``data/``) as ``train``.

    Example:
        >>> darknet_config(Path("export/obj.names"))  # doctest: +SKIP
        {'names': ['cat', 'dog'], 'train': 'images.txt'}
    """
    try:
        classes = [line.strip() for line in names.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"{names} can't be read as text ({exc})") from exc
    if not classes:
        raise SourceError(f"{names} lists no class; a YOLOv4 obj.names has one class name per line")
    listing = next((n for n in DARKNET_LISTS if (names.parent / n).exists()), DARKNET_LISTS[0])
    return {"names": classes, "train": listing}


def detect_darknet(root: Path) -> SourceSpec | None:
    """``obj.names`` beside ``images.txt`` or a ``data/`` folder: a YOLOv4 export."""
    names = root / DARKNET_NAMES
    if names.is_file() and ((root / DARKNET_LISTS[0]).is_file() or (root / DARKNET_LISTS[1]).is_dir()):
        return SourceSpec(root, "yolov4", ((None, names),))
    return None
