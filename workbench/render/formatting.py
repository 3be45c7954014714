"""Plain-text helpers the HTML report and the notebook panels share.

Numbers, percentages, p-values, durations and paths as the report writes them (a dash for
a missing value), text made safe for plotly's pseudo-HTML, and JSON that can sit inside a
``<script>`` element. Nothing here imports a display library.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import PurePath
from typing import Any

_SCRIPT_JSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def script_safe_json(obj: Any) -> str:
    """JSON text that can sit inside a ``<script>`` element without ending it.

    ``<``, ``>``, ``&``, U+2028 and U+2029 are written as ``\\u`` escapes, which
    ``JSON.parse`` reads back as the same characters.

    Args:
        obj: Anything :func:`json.dumps` (with plotly's encoder for numpy values) accepts.

    Returns:
        The escaped JSON text.

    Example:
        >>> script_safe_json({"a": "</script>"})
        '{"a":"\\\\u003c/script\\\\u003e"}'
    """
    from plotly.utils import PlotlyJSONEncoder

    text = json.dumps(obj, cls=PlotlyJSONEncoder, separators=(",", ":"), ensure_ascii=False)
    return "".join(_SCRIPT_JSON_ESCAPES.get(ch, ch) for ch in text)


def plotly_text(value: Any) -> str:
    """Text plotly will show: escaped so its pseudo-HTML renders it literally.

    Example:
        >>> plotly_text("<b>cat</b>")
        '&lt;b&gt;cat&lt;/b&gt;'
    """
    return html.escape("(none)" if value is None else str(value), quote=False)


def _basename(filepath: str | None) -> str:
    if not filepath:
        return ""
    return PurePath(str(filepath)).name or str(filepath)


def relative_path(filepath: str | None, source: str) -> str:
    """``filepath`` relative to the dataset ``source`` folder when it lies inside it.

    Example:
        >>> relative_path("/data/pets/train/cat/1.png", "/data/pets")
        'train/cat/1.png'
    """
    if not filepath:
        return ""
    if source:
        root = str(source).rstrip("/\\")
        for sep in ("/", "\\"):
            if root and filepath.startswith(root + sep):
                return filepath[len(root) + 1:]
    return filepath


def _as_float(value: Any) -> float | None:
    """``value`` as a float, or None when it is missing or NaN (formatters then show a dash)."""
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(value) else value


def fmt_float(value: Any, digits: int = 3) -> str:
    v = _as_float(value)
    return "—" if v is None else f"{v:.{digits}f}"


def fmt_pct(value: Any, digits: int = 1) -> str:
    v = _as_float(value)
    return "—" if v is None else f"{v * 100:.{digits}f}%"


#: How the report names each label-error tier.
TIER_NAMES = {"likely_errors": "Likely errors (cleanlab's flagged set)", "review_queue": "Review queue",
              "rest": "The rest (in neither)"}


def fmt_pct_range(value: tuple[float, float] | None, digits: int = 1) -> str:
    """``"35.0% – 62.0%"``; one figure when both ends read the same; an em dash for ``None``."""
    if value is None:
        return fmt_pct(None, digits)
    low, high = (fmt_pct(v, digits) for v in value)
    return low if low == high else f"{low} – {high}"


def neighbor_votes_text(issue: Any) -> str:
    """``"1 of 10 nearest images labelled cat (given), 8 dog (suggested)"``; ``"—"`` without votes."""
    if getattr(issue, "neighbors", None) is None:
        return "—"
    if not issue.neighbors:
        return "no labelled nearest images"
    return (f"{issue.neighbors_given} of {issue.neighbors} nearest images labelled {issue.given_label} (given), "
            f"{issue.neighbors_suggested} {issue.suggested_label} (suggested)")


def fmt_int(value: Any) -> str:
    if value is None:
        return "—"
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


def fmt_p(value: Any) -> str:
    """A p-value: four decimals, or scientific notation below 0.0001 (never a bare 0.0000)."""
    v = _as_float(value)
    return "—" if v is None else f"{v:.1e}" if v < 1e-4 else f"{v:.4f}"

def fmt_seconds(value: Any) -> str:
    if value is None:
        return "—"
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.1f} s"
    return f"{value / 60:.1f} min"


def _fmt_signed(value: Any) -> str:
    text = fmt_float(value)
    return text if text.startswith("-") or text == "—" or not text[:1].isdigit() else "+" + text


def _fmt_plural(n: int, singular: str, plural: str) -> str:
    return f"{fmt_int(n)} {singular if n == 1 else plural}"


def _fmt_label(value: Any) -> str:
    return "—" if value is None else str(value)


def fmt_cell(value: Any) -> str:
    """One value of a findings frame as table text: whole numbers as such (``1,920``), other floats to 3
    significant digits (never in scientific notation from 1,000 up), booleans as yes/no, lists joined,
    missing as an em dash.

    Example:
        >>> [fmt_cell(v) for v in (0.123456, True, None, ["blurry", "dark"], 7, 1920.0, 2345.6)]
        ['0.123', 'yes', '—', 'blurry, dark', '7', '1,920', '2,346']
    """
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return "yes" if value else "no"
    if isinstance(value, float) or type(value).__name__.startswith("float"):
        number = float(value)
        if number.is_integer() or abs(number) >= 1000:
            return f"{number:,.0f}"
        return f"{number:.3g}"
    if isinstance(value, int) or type(value).__name__.startswith("int"):
        return f"{int(value):,}"
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


#: Columns of a findings frame a generic table shows at most (the JSON export has them all).
MAX_TABLE_COLUMNS = 8


def table_columns(records: list[dict[str, Any]], *, limit: int = MAX_TABLE_COLUMNS) -> list[str]:
    """The columns of a findings frame worth a generic table: not the id or path (shown another way), not
    a flag no row raises (``is_dark_issue`` all false), at most ``limit``, in the frame's order.

    Example:
        >>> table_columns([{"sample_id": "s", "filepath": "/a", "label": "x", "is_dark_issue": False, "z": 3.0}])
        ['label', 'z']
    """
    if not records:
        return []
    out = []
    for column in records[0]:
        values = [r.get(column) for r in records]
        if column in ("sample_id", "filepath") or (all(isinstance(v, bool) or type(v).__name__ == "bool_"
                                                       for v in values) and not any(values)):
            continue
        out.append(column)
    return out[:limit]
