"""Hugging Face ``datasets`` on disk: ``save_to_disk`` output or Parquet files, with an image column.

- ``DatasetDict.save_to_disk``: ``dataset_dict.json`` (``{"splits": [...]}``) + one folder per
  split holding ``state.json``, ``dataset_info.json`` and ``data-*.arrow``;
- ``Dataset.save_to_disk``: ``state.json`` + ``dataset_info.json`` + ``data-*.arrow`` at the root;
- Parquet (``to_parquet``, a Hub repository): ``*.parquet`` at the root, in ``data/`` or in
  ``<config>/<split>/``; the split comes from the file or folder name.

Detection reads only the JSON sidecars and the Parquet footer's ``huggingface`` metadata (it
needs no pyarrow): the dataset must have an ``Image`` feature. Parquet files without that
metadata are checked with pyarrow when it is installed.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

from workbench.io.formats._probe import json_object
from workbench.io.sources import SPLIT_NAMES, SourceSpec, split_of_name

_MAX_PARQUET_FILES = 10_000


def has_image_feature(features: object) -> bool:
    """Whether a ``datasets`` features mapping has a column of ``_type`` ``Image``."""
    return isinstance(features, dict) and any(isinstance(f, dict) and f.get("_type") == "Image"
                                              for f in features.values())


def _saved_split(folder: Path) -> bool:
    state, info = json_object(folder / "state.json"), json_object(folder / "dataset_info.json")
    if state is None or info is None or not isinstance(state.get("_data_files"), list):
        return False
    files = [folder / str(f.get("filename", "")) for f in state["_data_files"] if isinstance(f, dict)]
    return bool(files) and all(f.is_file() for f in files) and has_image_feature(info.get("features"))


def split_tag(name: str) -> str:
    """A Hugging Face split name as a tag: ``validation`` -> ``val``; other names are kept."""
    return SPLIT_NAMES.get(name.lower(), name)


def parquet_features(path: Path) -> dict | None:
    """The ``datasets`` features stored in a Parquet file's footer metadata, read without pyarrow."""
    try:
        with path.open("rb") as fh:
            fh.seek(-8, 2)
            tail = fh.read(8)
            if tail[4:] != b"PAR1":
                return None
            size = int.from_bytes(tail[:4], "little")
            fh.seek(-8 - size, 2)
            footer = fh.read(size)
    except OSError:
        return None
    match = re.search(rb'\{"info":\s*\{"features":', footer)
    if not match:
        return None
    try:
        data, _ = json.JSONDecoder().raw_decode(footer[match.start():].decode("utf-8", "replace"))
    except ValueError:
        return None
    return data.get("info", {}).get("features") if isinstance(data, dict) else None


def parquet_has_images(path: Path) -> bool:
    """Whether a Parquet file has an image column (by its ``datasets`` metadata, else its schema)."""
    features = parquet_features(path)
    if features is not None:
        return has_image_feature(features)
    if importlib.util.find_spec("pyarrow") is None:
        return False
    from workbench.io.hf_tables import image_column, read_schema

    try:
        return image_column(read_schema(path), None) is not None
    except Exception:  # noqa: BLE001 - any unreadable file is simply not this layout
        return False


def parquet_files(root: Path) -> list[Path]:
    """``*.parquet`` at ``root``, in ``root/data`` and up to two folders down (``<config>/<split>/``)."""
    found = []
    for pattern in ("*.parquet", "*/*.parquet", "*/*/*.parquet"):
        found += [p for p in root.glob(pattern) if not any(part.startswith(".") for part in p.parts[-3:])]
        if len(found) > _MAX_PARQUET_FILES:
            break
    return sorted(found)


def _parquet_split(root: Path, path: Path) -> str | None:
    for name in [path.stem] + [p.name for p in path.relative_to(root).parents if p.name]:
        split = split_of_name(name)
        if split:
            return split
    return None


def _spec(root: Path, parts: list[tuple[str | None, Path]]) -> SourceSpec:
    from workbench.io.hf_tables import extraction_root

    # The images are extracted to the cache, which is therefore a root the audit may read.
    return SourceSpec(root, "huggingface", tuple(parts), images_dir=extraction_root())


def detect(root: Path) -> SourceSpec | None:
    """A ``save_to_disk`` folder or Parquet files with an image column."""
    listing = json_object(root / "dataset_dict.json")
    if listing is not None and isinstance(listing.get("splits"), list):
        parts = [(split_tag(str(s)), root / str(s)) for s in listing["splits"] if _saved_split(root / str(s))]
        if parts:
            return _spec(root, parts)
    if _saved_split(root):
        state = json_object(root / "state.json") or {}
        split = state.get("_split")
        return _spec(root, [(split_tag(split) if isinstance(split, str) else None, root)])
    files = parquet_files(root)
    if files and parquet_has_images(files[0]):
        return _spec(root, [(_parquet_split(root, p), p) for p in files])
    return None


def force(root: Path) -> SourceSpec | None:
    """``--format huggingface``: any Parquet files, image column or not (the reader says what is missing)."""
    files = parquet_files(root)
    return _spec(root, [(_parquet_split(root, p), p) for p in files]) if files else None
