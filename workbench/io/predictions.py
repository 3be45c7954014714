"""User-supplied predicted probabilities: a CSV ``filepath,<class 1>,<class 2>,...`` or a sample field."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from workbench.errors import PredictionsError


def read_predictions_csv(path: str | Path, classes: Sequence[str]) -> dict[str, np.ndarray]:
    """Read a predictions CSV into ``{absolute filepath: probabilities in classes order}``.

    Relative paths are resolved against the CSV's folder. Columns must name exactly the
    dataset's classes (any order). Rows are normalised to sum to 1.

    Raises:
        PredictionsError: with the row and what to fix.

    Example:
        >>> preds = read_predictions_csv("preds.csv", ["cat", "dog"])  # doctest: +SKIP
    """
    import csv
    import io

    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise PredictionsError(f"predictions file {path} does not exist; pass a CSV 'filepath,<class 1>,...' "
                               "or the name of a sample field")
    with io.StringIO(_read_utf8(path), newline="") as fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            raise PredictionsError(f"{path} is empty; expected a header 'filepath,<class 1>,<class 2>,...'") from None
        if not header or header[0].strip().lower() != "filepath":
            raise PredictionsError(f"{path}: the first column must be 'filepath', got {header[:1]}")
        columns = [c.strip() for c in header[1:]]
        missing = sorted(set(classes) - set(columns))
        extra = sorted(set(columns) - set(classes))
        if missing or extra:
            raise PredictionsError(f"{path}: columns must be the dataset's classes; missing {missing}, "
                                   f"unknown {extra}")
        order = [columns.index(c) for c in classes]
        out: dict[str, np.ndarray] = {}
        first_line: dict[str, int] = {}
        for lineno, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(header):
                raise PredictionsError(f"{path} line {lineno}: {len(row)} values, expected {len(header)}")
            values = np.array([_probability(path, lineno, classes[j], row[1 + k]) for j, k in enumerate(order)])
            if values.sum() <= 0:
                raise PredictionsError(f"{path} line {lineno}: every probability is 0; a row needs at least one "
                                       "positive value")
            if not row[0].strip():
                raise PredictionsError(f"{path} line {lineno}: the filepath is empty")
            fp = Path(row[0].strip())
            key = str((fp if fp.is_absolute() else (path.parent / fp)).resolve())
            if key in out:
                raise PredictionsError(f"{path} line {lineno}: a second row for {row[0].strip()!r} (line "
                                       f"{first_line[key]}); keep one row per file")
            first_line[key] = lineno
            out[key] = values / values.sum()
    return out


def _read_utf8(path: Path) -> str:
    """The CSV's text (an Excel byte-order mark dropped), or a :class:`PredictionsError` naming the first bad byte.

    Example:
        >>> import tempfile; f = Path(tempfile.mkdtemp()) / "p.csv"; _ = f.write_bytes(b"filepath,cat\\ncaf\\xe9.jpg,1\\n")
        >>> _read_utf8(f)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        workbench.errors.PredictionsError: ...p.csv is not UTF-8 text: byte 0xe9 at offset 16 (line 2) ...
    """
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")  # -sig: Excel's byte-order mark is accepted
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise PredictionsError(f"{path} is not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start} "
                               f"(line {line}) is not valid UTF-8; save the CSV as UTF-8 (Excel: 'CSV UTF-8')"
                               ) from None


def _probability(path: Path, lineno: int, column: str, text: str) -> float:
    """One cell as a probability, or a :class:`PredictionsError` naming the line, column and value."""
    try:
        value = float(text)
    except ValueError:
        raise PredictionsError(f"{path} line {lineno}, column {column!r}: {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise PredictionsError(f"{path} line {lineno}, column {column!r}: {text!r} is not a probability "
                               "(finite and >= 0)")
    return value


def predictions_from_field(values: Sequence[Any], classes: Sequence[str]) -> list[np.ndarray | None]:
    """Probabilities from a sample field: a FiftyOne Classification with ``logits`` or a list of numbers."""
    out: list[np.ndarray | None] = []
    for v in values:
        if v is None:
            out.append(None)
            continue
        logits = getattr(v, "logits", None)
        if logits is not None:
            z = np.asarray(logits, dtype=np.float64)
            p = np.exp(z - z.max())
            out.append(p / p.sum())
            continue
        if isinstance(v, (list, tuple, np.ndarray)):
            p = np.asarray(v, dtype=np.float64)
            if p.shape != (len(classes),) or (p < 0).any() or p.sum() <= 0:
                raise PredictionsError(f"prediction {list(p)[:5]}... must be {len(classes)} non-negative numbers "
                                       "in the order of the dataset's classes")
            out.append(p / p.sum())
            continue
        raise PredictionsError(f"can't read a prediction from {type(v).__name__}; use a Classification with "
                               "logits or a list of class probabilities")
    return out
