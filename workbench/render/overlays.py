"""Boxes and masks drawn over thumbnails: which objects a result flags on which image, and the SVG that draws them.

A renderer reads the overlays from the result only. :func:`overlays_for` collects them from any
finding whose records carry ``sample_id`` and a ``box`` and/or a ``mask`` (a
:class:`~workbench.results.mask_grid.MaskGrid`: the objects check's ``ObjectIssue`` with its instance
mask, the object label issues' ``ObjectLabelIssue``, a segmentation region or a ``MaskProblem``'s
unknown values) and from records holding ``objects`` (each with ``sample_id``, ``label`` and ``box``:
the boxes of duplicates or leaks whose boxes disagree), so a new result type with boxes or masks is
drawn without touching a renderer. Objects that name an ``annotator`` (the agreement check's worst
images) are evidence of one check, not flags: :func:`annotator_overlays` draws them, one colour and
dash per annotator, and :func:`legend_html` names the annotators.

:func:`overlay_svg` draws them as an ``<svg>`` laid over a thumbnail shown with ``object-fit:
contain``: its ``viewBox`` is the thumbnail's pixel size and its default ``preserveAspectRatio``
(``xMidYMid meet``) letterboxes exactly as ``contain`` does, so the rectangles sit on the objects
whatever the box's shape, and a mask's cells (a semi-transparent ``<path>`` in the finding's colour)
on its pixels. Class and annotator names are escaped (they come from the dataset).
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.results.mask_grid import MaskGrid

#: Stroke colour per kind of finding; any other kind gets :data:`DEFAULT_COLOUR`.
KIND_COLOURS: dict[str, str] = {
    "degenerate": "#c5221f", "outside": "#d01884", "tiny": "#e8710a", "duplicate": "#9334e6",
    "swapped": "#c5221f", "badly_located": "#e8710a", "overlooked": "#1e8e3e", "conflict": "#2f5bd3",
}
DEFAULT_COLOUR = "#c5221f"
#: Boxes drawn per image at most (the rest are counted in the SVG's title).
MAX_OVERLAYS = 30
#: Masks drawn per image at most (the rest are counted in the SVG's label; their boxes are still drawn).
MAX_MASKS = 10
#: Annotators' colours and dash styles, in the order of the result's ``annotators``.
ANNOTATOR_COLOURS = ("#1a73e8", "#e8710a", "#1e8e3e", "#a142f4", "#d01884", "#12b5cb", "#5f6368", "#b06000")
ANNOTATOR_STYLES = ("solid", "dashed", "dotted", "dashdot")
_DASHES = {"dashed": "3 2", "dotted": "1 1.5", "dashdot": "5 2 1 2"}


@dataclass(frozen=True)
class Overlay:
    """One box and/or mask to draw: relative ``(x, y, w, h)`` (FiftyOne's; ``None``: a mask alone), its class,
    what is wrong, how to draw the box (``solid`` for a flagged annotation, ``dashed`` for a box the annotation
    lacks or a copy's box; ``dotted`` / ``dashdot`` tell annotators apart), the mask's cells, and for an
    annotator's box its name and colour (``stroke``)."""

    box: tuple[float, float, float, float] | None
    label: str | None
    kind: str
    style: str = "solid"
    mask: MaskGrid | None = None
    annotator: str | None = None
    stroke: str = ""

    @property
    def colour(self) -> str:
        return self.stroke or KIND_COLOURS.get(self.kind.split(",")[0], DEFAULT_COLOUR)


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
    """``{sample id: [Overlay]}`` of every box and mask a result's findings carry (annotators' boxes aside).

    Args:
        result: An :class:`~workbench.results.AuditResult` (every finding) or one check's result.

    Returns:
        The overlays per image, in the findings' order, each drawn once; records without a box or mask are left out.

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
            box, mask = _box(getattr(record, "box", None)), getattr(record, "mask", None)
            mask = mask if isinstance(mask, MaskGrid) else None
            if getattr(record, "sample_id", None) and (box is not None or mask is not None):
                kind = _kind(record)
                _add(out, record.sample_id, Overlay(box, _label(record, box is None), kind,
                                                    "dashed" if kind == "overlooked" else "solid", mask))
            for obj in getattr(record, "objects", None) or ():
                box = _box(getattr(obj, "box", None))
                if box is not None and getattr(obj, "sample_id", None) and getattr(obj, "annotator", None) is None:
                    _add(out, obj.sample_id, Overlay(box, getattr(obj, "label", None), "conflict", "dashed"))
    return out


def _label(record: Any, region: bool) -> str | None:
    """The class shown for a record: a box the annotation lacks has none of its own, so it shows the class
    suggested for it; a region (a mask without a box) shows ``given → suggested``, or what is wrong with it."""
    label, suggested = getattr(record, "label", None), getattr(record, "suggested_label", None)
    if region and label is not None and suggested is not None:
        return f"{label} → {suggested}"
    return label or suggested or (getattr(record, "detail", None) if region else None)


def _add(out: dict[str, list[Overlay]], sample_id: Any, overlay: Overlay) -> None:
    """Append ``overlay`` to the sample's list unless the same box is there already (a leak pair repeats
    its cluster's boxes)."""
    boxes = out.setdefault(str(sample_id), [])
    if overlay not in boxes:
        boxes.append(overlay)


def _num(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _mask_path(o: Overlay, width: int, height: int, title: str) -> str:
    """A mask's on cells as one ``<path>`` of rectangles (absolute edges, so neighbouring rows share them)."""
    grid = o.mask
    assert grid is not None
    bx, by, bw, bh = grid.box
    xs = [_num((bx + bw * c / grid.columns) * width) for c in range(grid.columns + 1)]
    ys = [_num((by + bh * r / grid.rows) * height) for r in range(grid.rows + 1)]
    d = "".join(f"M{xs[c0]} {ys[r]}H{xs[c1]}V{ys[r + 1]}H{xs[c0]}Z" for r, c0, c1 in grid.spans())
    return (f'<path class="mask" d="{d}" fill="{o.colour}" fill-opacity="0.4" stroke="none">'
            f"<title>{title}</title></path>") if d else ""


def overlay_svg(overlays: Sequence[Overlay], width: int, height: int, *, css_class: str = "overlay",
                style: str = "") -> str:
    """An ``<svg>`` drawing ``overlays`` over a ``width`` × ``height`` px thumbnail ("" when none or no size).

    Place it over the ``<img>`` (same box, absolutely positioned). Masks come first (at most
    :data:`MAX_MASKS`), as semi-transparent cells in the finding's colour, then each box; every shape has a
    ``<title>`` (class and kind; an annotator's name) and, when there is room, a flagged box or a region
    its class name above it. All text is escaped.

    Example:
        >>> svg = overlay_svg([Overlay((0.25, 0.5, 0.5, 0.25), "<b>", "tiny")], 80, 40)
        >>> 'x="20" y="20" width="40" height="10"' in svg, "&lt;b&gt;" in svg, "<b>" in svg
        (True, True, False)
        >>> region = Overlay(None, "road → car", "swapped", mask=MaskGrid((0.5, 0.0, 0.5, 0.5), 1, 1, (0, 1)))
        >>> '<path class="mask" d="M40 0H80V20H40Z"' in overlay_svg([region], 80, 40)
        True
    """
    if not overlays or width <= 0 or height <= 0:
        return ""
    font = max(7.0, round(max(width, height) / 9, 1))
    shown = overlays[:MAX_OVERLAYS]
    masked = [o for o in shown if o.mask is not None]
    parts = []
    for o in masked[:MAX_MASKS]:
        parts.append(_mask_path(o, width, height, _title(o)))
    for o in shown:
        name = "(no class)" if o.label is None else str(o.label)
        if o.box is not None:
            x, y, w, h = (o.box[0] * width, o.box[1] * height, max(o.box[2] * width, 0.5),
                          max(o.box[3] * height, 0.5))
            dash = f' stroke-dasharray="{_DASHES[o.style]}"' if o.style in _DASHES else ""
            parts.append(f'<rect x="{_num(x)}" y="{_num(y)}" width="{_num(w)}" height="{_num(h)}" fill="none" '
                         f'stroke="{o.colour}" stroke-width="1.5" vector-effect="non-scaling-stroke" '
                         f'pointer-events="visibleStroke"{dash}><title>{_title(o)}</title></rect>')
        elif o.mask is not None and o in masked[:MAX_MASKS]:
            x, y, w, h = (o.mask.box[0] * width, o.mask.box[1] * height, o.mask.box[2] * width, o.mask.box[3] * height)
        else:
            continue
        if o.annotator is not None:
            continue  # the legend names the annotators; each box's title says whose it is
        ty = y - 1 if y > font else y + h + font
        parts.append(f'<text x="{_num(max(x, 0))}" y="{_num(min(ty, height - 1))}" font-size="{_num(font)}" '
                     f'fill="{o.colour}" stroke="#fff" stroke-width="0.25em" paint-order="stroke" '
                     f'font-family="system-ui, sans-serif">{html.escape(name[:24], quote=True)}</text>')
    n_boxes = sum(o.box is not None for o in overlays)
    hidden = sum(o.box is not None for o in overlays[MAX_OVERLAYS:])
    label = f"{n_boxes} flagged box{'es' if n_boxes != 1 else ''}" + (f" ({hidden} not drawn)" if hidden > 0 else "")
    n_masks = sum(o.mask is not None for o in overlays)
    if n_masks:
        label += f", {n_masks} mask{'s' if n_masks != 1 else ''}" + (
            f" ({n_masks - min(len(masked), MAX_MASKS)} not drawn)" if n_masks > min(len(masked), MAX_MASKS) else "")
    return (f'<svg class="{html.escape(css_class)}" viewBox="0 0 {int(width)} {int(height)}" role="img" '
            f'aria-label="{label}" style="position:absolute;left:0;top:0;width:100%;height:100%;'
            f'pointer-events:none;overflow:hidden;{html.escape(style)}">' + "".join(parts) + "</svg>")


def _title(o: Overlay) -> str:
    """``class: kind`` (or ``annotator: class``), escaped."""
    name = "(no class)" if o.label is None else str(o.label)
    if o.annotator is not None:
        text = f"{o.annotator}: {name}"
    else:
        text = name if o.kind and name.startswith(o.kind + ":") else f"{name}: {o.kind.replace(',', ', ')}"
    return html.escape(text, quote=True)


def annotator_legend(finding: Any) -> list[tuple[str, str, str]]:
    """``[(annotator, colour, style)]`` of a finding whose records' objects name annotators, in its
    ``annotators`` order (else first seen); empty when none do.

    Example:
        >>> from workbench.checks.agreement_result import AgreementResult, AnnotatorObject, ImageAgreement
        >>> img = ImageAgreement("s", "/s.png", 0.2, ("1 car", "—"), objects=(
        ...     AnnotatorObject("s", "b", "car", (0.1, 0.1, 0.2, 0.2)),))
        >>> annotator_legend(AgreementResult("detection", ("a", "b"), 1, images=(img,)))
        [('a', '#1a73e8', 'solid'), ('b', '#e8710a', 'dashed')]
    """
    seen: list[str] = []
    for record in _records(finding):
        for obj in getattr(record, "objects", None) or ():
            who = getattr(obj, "annotator", None)
            if who is not None and str(who) not in seen:
                seen.append(str(who))
    if not seen:
        return []
    names = [str(a) for a in getattr(finding, "annotators", ()) or ()]
    names += [n for n in seen if n not in names]
    return [(n, ANNOTATOR_COLOURS[k % len(ANNOTATOR_COLOURS)], ANNOTATOR_STYLES[k % len(ANNOTATOR_STYLES)])
            for k, n in enumerate(names)]


def annotator_overlays(finding: Any) -> dict[str, list[Overlay]]:
    """``{sample id: [Overlay]}`` of the boxes each annotator drew on a finding's images, styled per annotator
    (:func:`annotator_legend`); empty when its records carry none.

    Example:
        >>> from workbench.checks.agreement_result import AgreementResult, AnnotatorObject, ImageAgreement
        >>> img = ImageAgreement("s", "/s.png", 0.2, ("1 car", "—"), objects=(
        ...     AnnotatorObject("s", "b", "car", (0.1, 0.1, 0.2, 0.2)),))
        >>> annotator_overlays(AgreementResult("detection", ("a", "b"), 1, images=(img,)))["s"][0].style
        'dashed'
    """
    styles = {name: (colour, style) for name, colour, style in annotator_legend(finding)}
    out: dict[str, list[Overlay]] = {}
    for record in _records(finding):
        for obj in getattr(record, "objects", None) or ():
            who, box = getattr(obj, "annotator", None), _box(getattr(obj, "box", None))
            if who is None or box is None or not getattr(obj, "sample_id", None):
                continue
            colour, style = styles[str(who)]
            out.setdefault(str(obj.sample_id), []).append(
                Overlay(box, getattr(obj, "label", None), "annotator", style, annotator=str(who), stroke=colour))
    return out


def legend_html(legend: Sequence[tuple[str, str, str]]) -> str:
    """A one-line legend: a line in each annotator's colour and dash, then its (escaped) name; "" when empty.

    Example:
        >>> "&lt;i&gt;" in legend_html([("<i>", "#1a73e8", "dotted")]), "<i>" in legend_html([("<i>", "#000", "")])
        (True, False)
    """
    if not legend:
        return ""
    items = []
    for name, colour, style in legend:
        dash = f' stroke-dasharray="{_DASHES[style]}"' if style in _DASHES else ""
        items.append(f'<span style="display:inline-flex;align-items:center;gap:4px;margin-right:12px">'
                     f'<svg width="24" height="10" aria-hidden="true"><line x1="1" y1="5" x2="23" y2="5" '
                     f'stroke="{html.escape(colour, quote=True)}" stroke-width="2"{dash}/></svg>'
                     f"{html.escape(name, quote=True)}</span>")
    return '<div class="wb-legend" style="margin:4px 0">Boxes by annotator: ' + "".join(items) + "</div>"


def sample_overlays(overlays: dict[str, list[Overlay]], sample_ids: Iterable[Any]) -> list[list[Overlay]]:
    """The overlays of each of ``sample_ids`` (an empty list for none), aligned with them.

    Example:
        >>> sample_overlays({"a": [Overlay((0, 0, 1, 1), "cat", "tiny")]}, ["b", "a"])[0]
        []
    """
    return [overlays.get(str(s), []) if s else [] for s in sample_ids]
