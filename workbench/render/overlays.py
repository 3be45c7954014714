"""Boxes drawn over thumbnails: which objects a result flags on which image, and the SVG that draws them.

A renderer reads the boxes from the result only. :func:`overlays_for` collects them from any
finding whose records carry ``sample_id`` and ``box`` (the objects check's ``ObjectIssue``, the
object label issues' ``ObjectLabelIssue``, ...) and from records holding ``objects`` (each with
``sample_id``, ``label`` and ``box``: the boxes of duplicates or leaks whose boxes disagree), so a new
result type with boxes is drawn without touching a renderer.

:func:`overlay_svg` draws them as an ``<svg>`` laid over a thumbnail shown with ``object-fit:
contain``: its ``viewBox`` is the thumbnail's pixel size and its default ``preserveAspectRatio``
(``xMidYMid meet``) letterboxes exactly as ``contain`` does, so the rectangles sit on the objects
whatever the box's shape. Class names are escaped (they come from the dataset).
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

#: Stroke colour per kind of finding; any other kind gets :data:`DEFAULT_COLOUR`.
KIND_COLOURS: dict[str, str] = {
    "degenerate": "#c5221f", "outside": "#d01884", "tiny": "#e8710a", "duplicate": "#9334e6",
    "swapped": "#c5221f", "badly_located": "#e8710a", "overlooked": "#1e8e3e", "conflict": "#2f5bd3",
}
DEFAULT_COLOUR = "#c5221f"
#: Boxes drawn per image at most (the rest are counted in the SVG's title).
MAX_OVERLAYS = 30


@dataclass(frozen=True)
class Overlay:
    """One box to draw: relative ``(x, y, w, h)`` (FiftyOne's), its class, what is wrong, and how to draw it
    (``solid`` for a flagged annotation, ``dashed`` for a box the annotation lacks or a copy's box)."""

    box: tuple[float, float, float, float]
    label: str | None
    kind: str
    style: str = "solid"

    @property
    def colour(self) -> str:
        return KIND_COLOURS.get(self.kind.split(",")[0], DEFAULT_COLOUR)


def _records(finding: Any) -> Iterator[Any]:
    """Every dataclass record in the tuple fields of ``finding`` (issues, clusters, pairs...)."""
    if not dataclasses.is_dataclass(finding):
        return
    for f in dataclasses.fields(finding):
        value = getattr(finding, f.name, None)
        if isinstance(value, tuple):
            yield from (v for v in value if dataclasses.is_dataclass(v) and not isinstance(v, type))


def _box(value: Any) -> tuple[float, float, float, float] | None:
    if value is None or len(value) != 4:
        return None
    try:
        box = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return box if all(math.isfinite(v) for v in box) else None  # type: ignore[return-value]


def _kind(record: Any) -> str:
    kinds = getattr(record, "kinds", None)
    if kinds:
        return ",".join(str(k) for k in kinds)
    return str(getattr(record, "kind", "") or "flagged")


def overlays_for(result: Any) -> dict[str, list[Overlay]]:
    """``{sample id: [Overlay]}`` of every box a result's findings carry.

    Args:
        result: An :class:`~workbench.results.AuditResult` (every finding) or one check's result.

    Returns:
        The boxes per image, in the findings' order, each drawn once; records without a box are left out.

    Example:
        >>> from workbench.checks.objects import find_object_issues
        >>> r = find_object_issues(["s"], ["/a.png"], [["cat"]], [[(0.5, 0.5, 0.01, 0.2)]], [(100, 100)])
        >>> overlays_for(r)["s"][0].kind, overlays_for(r)["s"][0].box
        ('tiny', (0.5, 0.5, 0.01, 0.2))
    """
    findings = getattr(result, "findings", None)
    out: dict[str, list[Overlay]] = {}
    for finding in (findings.values() if isinstance(findings, dict) else (result,)):
        for record in _records(finding):
            if hasattr(record, "box") and getattr(record, "sample_id", None):
                box = _box(record.box)
                if box is not None:
                    kind = _kind(record)
                    _add(out, record.sample_id, Overlay(box, getattr(record, "label", None), kind,
                                                        "dashed" if kind == "overlooked" else "solid"))
            for obj in getattr(record, "objects", None) or ():
                box = _box(getattr(obj, "box", None))
                if box is not None and getattr(obj, "sample_id", None):
                    _add(out, obj.sample_id, Overlay(box, getattr(obj, "label", None), "conflict", "dashed"))
    return out


def _add(out: dict[str, list[Overlay]], sample_id: Any, overlay: Overlay) -> None:
    """Append ``overlay`` to the sample's list unless the same box is there already (a leak pair repeats
    its cluster's boxes)."""
    boxes = out.setdefault(str(sample_id), [])
    if overlay not in boxes:
        boxes.append(overlay)


def _num(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def overlay_svg(overlays: Sequence[Overlay], width: int, height: int, *, css_class: str = "overlay",
                style: str = "") -> str:
    """An ``<svg>`` drawing ``overlays`` over a ``width`` × ``height`` px thumbnail ("" when none or no size).

    Place it over the ``<img>`` (same box, absolutely positioned); each rectangle has a ``<title>``
    (class and kind) and, when there is room, the class name above it. All text is escaped.

    Example:
        >>> svg = overlay_svg([Overlay((0.25, 0.5, 0.5, 0.25), "<b>", "tiny")], 80, 40)
        >>> 'x="20" y="20" width="40" height="10"' in svg, "&lt;b&gt;" in svg, "<b>" in svg
        (True, True, False)
    """
    if not overlays or width <= 0 or height <= 0:
        return ""
    font = max(7.0, round(max(width, height) / 9, 1))
    parts = []
    for o in overlays[:MAX_OVERLAYS]:
        x, y, w, h = (o.box[0] * width, o.box[1] * height, max(o.box[2] * width, 0.5), max(o.box[3] * height, 0.5))
        name = "(no class)" if o.label is None else str(o.label)
        title = html.escape(f"{name}: {o.kind.replace(',', ', ')}", quote=True)
        dash = ' stroke-dasharray="3 2"' if o.style == "dashed" else ""
        parts.append(f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(w)}" height="{_num(h)}" fill="none" '
                     f'stroke="{o.colour}" stroke-width="1.5" vector-effect="non-scaling-stroke" pointer-events="visibleStroke"{dash}>'
                     f"<title>{title}</title></rect>")
        ty = y - 1 if y > font else y + h + font
        parts.append(f'<text x="{_num(max(x, 0))}" y="{_num(min(ty, height - 1))}" font-size="{_num(font)}" '
                     f'fill="{o.colour}" stroke="#fff" stroke-width="0.25em" paint-order="stroke" '
                     f'font-family="system-ui, sans-serif">{html.escape(name[:24], quote=True)}</text>')
    hidden = len(overlays) - MAX_OVERLAYS
    label = f"{len(overlays)} flagged box{'es' if len(overlays) != 1 else ''}" + (
        f" ({hidden} not drawn)" if hidden > 0 else "")
    return (f'<svg class="{html.escape(css_class)}" viewBox="0 0 {int(width)} {int(height)}" role="img" '
            f'aria-label="{label}" style="position:absolute;left:0;top:0;width:100%;height:100%;'
            f'pointer-events:none;overflow:hidden;{html.escape(style)}">' + "".join(parts) + "</svg>")


def sample_overlays(overlays: dict[str, list[Overlay]], sample_ids: Iterable[Any]) -> list[list[Overlay]]:
    """The overlays of each of ``sample_ids`` (an empty list for none), aligned with them.

    Example:
        >>> sample_overlays({"a": [Overlay((0, 0, 1, 1), "cat", "tiny")]}, ["b", "a"])[0]
        []
    """
    return [overlays.get(str(s), []) if s else [] for s in sample_ids]
