"""Read Hugging Face ``datasets`` tables (Arrow from ``save_to_disk``, or Parquet) into FiftyOne samples.

Images in these tables are bytes inside the file. They are written, once, to
``$WORKBENCH_CACHE/hf-images/<sha256 of the table file>/`` (never into the dataset folder), one
file per row, named by row number and the original file name; a table already extracted is
reused, and a changed table gets a new folder. The label column is a ``ClassLabel`` (its names
become the labels) or a column called ``label``/``labels``/``class``/``category`` of class names
or ids; scalar columns (text, numbers, booleans) become sample fields, which the bias check
breaks labels down by.

Reading needs ``pyarrow`` (``pip install 'workbench[hf]'``), imported only here and only when
such a dataset is loaded: installing it changes how pandas 3 stores strings in the whole
process, so it is not a core dependency.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any, Iterator

from workbench._fo import fiftyone
from workbench.errors import SourceError
from workbench.io.sources import SourceSpec

log = logging.getLogger(__name__)

LABEL_COLUMNS = ("label", "labels", "class", "category", "fine_label", "coarse_label")
_RESERVED = {"id", "filepath", "tags", "metadata", "media_type", "created_at", "last_modified_at"}
_FIELD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_MAGIC = ((b"\x89PNG", ".png"), (b"\xff\xd8\xff", ".jpg"), (b"GIF8", ".gif"), (b"BM", ".bmp"),
          (b"II*\x00", ".tif"), (b"MM\x00*", ".tif"))
_BATCH = 256


def extraction_root() -> Path:
    """``$WORKBENCH_CACHE/hf-images`` (default ``~/.cache/workbench/hf-images``)."""
    from workbench.embeddings.cache import default_cache_root

    return default_cache_root().parent / "hf-images"


def _pyarrow() -> Any:
    try:
        import pyarrow
        import pyarrow.ipc  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError as exc:
        raise SourceError("reading a Hugging Face dataset (Arrow/Parquet files) needs pyarrow, which is not "
                          "installed: pip install 'workbench[hf]' (or pyarrow), then run again") from exc
    return pyarrow


def read_schema(path: Path) -> Any:
    """The Arrow schema of a ``.parquet`` or ``.arrow`` file."""
    pa = _pyarrow()
    if path.suffix.lower() == ".parquet":
        return pa.parquet.read_schema(str(path))
    with _open_arrow(path) as reader:
        return reader.schema


class _open_arrow:  # noqa: N801 - used as a context manager like open()
    """An Arrow IPC file as a batch reader: the stream format ``datasets`` writes, or the file format."""

    def __init__(self, path: Path) -> None:
        pa = _pyarrow()
        self._source = pa.memory_map(str(path))
        try:
            self._reader = pa.ipc.open_stream(self._source)
        except pa.ArrowInvalid:
            self._source.seek(0)
            file_reader = pa.ipc.open_file(self._source)
            self._reader = _FileBatches(file_reader)

    def __enter__(self) -> Any:
        return self._reader

    def __exit__(self, *exc: object) -> None:
        self._source.close()


class _FileBatches:
    def __init__(self, reader: Any) -> None:
        self.schema = reader.schema
        self._reader = reader

    def __iter__(self) -> Iterator[Any]:
        return (self._reader.get_batch(i) for i in range(self._reader.num_record_batches))


def _features(schema: Any, sidecar: Path | None) -> dict | None:
    meta = (schema.metadata or {}).get(b"huggingface")
    if meta:
        try:
            features = json.loads(meta).get("info", {}).get("features")
            if isinstance(features, dict):
                return features
        except ValueError:
            pass
    info = None
    if sidecar is not None and sidecar.is_file():
        try:
            info = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            info = None
    return info.get("features") if isinstance(info, dict) else None


def image_column(schema: Any, features: dict | None) -> str | None:
    """The image column: an ``Image`` feature, else a ``struct<bytes: binary, ...>`` or binary ``image`` column."""
    pa = _pyarrow()
    for name, feature in (features or {}).items():
        if isinstance(feature, dict) and feature.get("_type") == "Image" and name in schema.names:
            return name
    for field in schema:
        if pa.types.is_struct(field.type) and any(
                f.name == "bytes" and (pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type))
                for f in field.type):
            return field.name
    for field in schema:
        if field.name.lower() in ("image", "img") and (pa.types.is_binary(field.type)
                                                       or pa.types.is_large_binary(field.type)):
            return field.name
    return None


def label_column(schema: Any, features: dict | None) -> tuple[str | None, list[str] | None]:
    """The label column and its ``ClassLabel`` names (None when the column holds names or plain ids)."""
    pa = _pyarrow()
    class_labels = {n: f["names"] for n, f in (features or {}).items()
                    if isinstance(f, dict) and f.get("_type") == "ClassLabel" and isinstance(f.get("names"), list)
                    and n in schema.names}
    for name in LABEL_COLUMNS:
        if name in class_labels:
            return name, [str(x) for x in class_labels[name]]
    if class_labels:
        name = sorted(class_labels)[0]
        return name, [str(x) for x in class_labels[name]]
    for name in LABEL_COLUMNS:
        if name in schema.names:
            t = schema.field(name).type
            if pa.types.is_integer(t) or pa.types.is_string(t) or pa.types.is_large_string(t):
                return name, None
    return None, None


def _scalar_columns(schema: Any, skip: set[str]) -> list[str]:
    pa = _pyarrow()
    out = []
    for field in schema:
        t = field.type
        scalar = (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
                  or pa.types.is_string(t) or pa.types.is_large_string(t))
        if scalar and field.name not in skip and field.name not in _RESERVED and _FIELD_NAME.match(field.name) \
                and not field.name.startswith("wb_"):
            out.append(field.name)
    return out


def _suffix(data: bytes, original: str | None) -> str:
    for magic, suffix in _MAGIC:
        if data.startswith(magic):
            return suffix
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    original_suffix = Path(original or "").suffix.lower()
    return original_suffix or ".img"


def _safe_stem(original: str | None) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(original or "").stem)[:60].strip("._")
    return f"-{stem}" if stem else ""


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _tables(part: Path) -> list[tuple[Path, Path | None]]:
    """``(table file, dataset_info.json or None)`` for a part: a ``save_to_disk`` folder or one file."""
    if part.is_dir():
        state = json.loads((part / "state.json").read_text(encoding="utf-8"))
        return [(part / f["filename"], part / "dataset_info.json") for f in state.get("_data_files", [])]
    return [(part, None)]


def _batches(path: Path, columns: list[str]) -> Iterator[Any]:
    pa = _pyarrow()
    if path.suffix.lower() == ".parquet":
        yield from pa.parquet.ParquetFile(str(path)).iter_batches(batch_size=_BATCH, columns=columns)
        return
    with _open_arrow(path) as reader:
        for batch in reader:
            yield batch.select(columns)


def read_rows(table: Path, sidecar: Path | None, part_dir: Path, *, cache: Path | None = None
              ) -> tuple[list[dict], list[str] | None, list[dict]]:
    """The rows of one table file as ``{"filepath", "label", <scalar fields>}``, extracting its images.

    Returns the rows, the ``ClassLabel`` names (or None) and load problems (rows without an image).

    Example:
        >>> rows, classes, problems = read_rows(Path("ds/train/data-00000-of-00001.arrow"),
        ...                                      Path("ds/train/dataset_info.json"), Path("ds/train"))  # doctest: +SKIP
        >>> rows[0]["filepath"]  # doctest: +SKIP
        '/…/.cache/workbench/hf-images/3f2a…/0000000-cat_001.png'
    """
    schema = read_schema(table)
    features = _features(schema, sidecar)
    image_col = image_column(schema, features)
    if image_col is None:
        raise SourceError(f"{table} has no image column (a datasets Image feature, or a struct of image bytes); "
                          f"columns: {', '.join(schema.names)}")
    label_col, names = label_column(schema, features)
    scalars = _scalar_columns(schema, {image_col, label_col or ""})
    target = (cache or extraction_root()) / file_sha256(table)[:24]
    extracted = (target / "done.json").is_file()
    work = target if extracted else target.with_name(f".tmp-{target.name}-{uuid.uuid4().hex[:8]}")
    if not extracted:
        work.mkdir(parents=True, exist_ok=True)
    rows, problems, index = [], [], 0
    try:
        for batch in _batches(table, [image_col] + ([label_col] if label_col else []) + scalars):
            cols = {name: batch.column(name).to_pylist() for name in batch.schema.names}
            for i, image in enumerate(cols[image_col]):
                filepath = _image_file(image, index, work, target, part_dir, write=not extracted)
                if filepath is None:
                    problems.append({"source": str(table), "kind": "annotation", "file_name": f"row {index}",
                                     "message": f"row {index} of {table.name} has no image bytes or path; skipped"})
                else:
                    row = {"filepath": filepath, "label": _label(cols[label_col][i], names) if label_col else None}
                    row.update({c: cols[c][i] for c in scalars})
                    rows.append(row)
                index += 1
        if not extracted:
            (work / "done.json").write_text(json.dumps({"table": str(table), "rows": index}))
            try:
                os.replace(work, target)
            except OSError:  # extracted meanwhile by another process: keep theirs
                shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        if not extracted:
            shutil.rmtree(work, ignore_errors=True)
        raise
    return rows, names, problems


def _image_file(image: Any, index: int, work: Path, target: Path, part_dir: Path, *, write: bool) -> str | None:
    data, original = (image.get("bytes"), image.get("path")) if isinstance(image, dict) else (image, None)
    if data:
        name = f"{index:07d}{_safe_stem(original)}{_suffix(data, original)}"
        if write:
            (work / name).write_bytes(data)
        return str(target / name)
    if original:  # an image stored by path: absolute, or relative to the dataset folder
        path = Path(original)
        return str(path if path.is_absolute() else part_dir / path)
    return None


def _label(value: Any, names: list[str] | None) -> str | None:
    if value is None:
        return None
    if names is not None and isinstance(value, int):
        return names[value] if 0 <= value < len(names) else None  # -1: no label
    return str(value)


def import_huggingface(dataset: Any, spec: SourceSpec, split: str | None, path: Path, label_field: str,
                       tags: list[str] | None, *, allow_outside_root: bool = False) -> list[dict]:
    """Add one split of a Hugging Face dataset (a ``save_to_disk`` folder or a Parquet file) to ``dataset``."""
    from fiftyone.utils.data.importers import parse_dataset_info

    fo = fiftyone()
    problems: list[dict] = []
    classes: set[str] = set()
    part_dir = path if path.is_dir() else path.parent
    for table, sidecar in _tables(path):
        rows, names, bad = read_rows(table, sidecar, part_dir)
        problems += bad
        if names:
            classes.update(names)
        samples = []
        for row in rows:
            fields = {k: v for k, v in row.items() if k not in ("filepath", "label")}
            if row["label"] is not None:
                fields[label_field] = fo.Classification(label=row["label"])
                classes.add(row["label"])
            samples.append(fo.Sample(filepath=row["filepath"], tags=list(tags or []), **fields))
        if samples:
            dataset.add_samples(samples, progress=False)
        log.info("%s: %d images (%s)", table, len(samples), split or "no split")
    if classes:
        parse_dataset_info(dataset, {"classes": sorted(classes)})
    return problems
