"""YOLOv5 / YOLOv8: a YAML naming the classes (``names``) and the image folders of the splits.

Any ``*.yaml`` at the root counts when its content is such a mapping (``data.yaml`` and
``dataset.yaml`` are looked at first); YOLOv8's ``path:`` and ``images/train`` entries are
the importer's business. A YAML without ``names`` and a split is someone else's config file.
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
