"""Self-contained, offline HTML report of an :class:`~workbench.results.AuditResult`.

The report is a single file: plotly's JavaScript and the thumbnails are inlined, nothing
is fetched from anywhere, and a strict Content-Security-Policy lets only the report's own
inline scripts run (allowed by their sha256 hashes). The renderer reads the result only;
it never computes findings.

Every string that comes from the dataset is escaped:

* HTML: Jinja2 with ``autoescape=True``.
* plotly: text shown by plotly (axis categories, trace names, hovers, titles) goes through
  :func:`html.escape`, because plotly renders a pseudo-HTML subset in labels.
* figure JSON sits in ``<script type="application/json">`` blocks with ``<``, ``>``, ``&``,
  U+2028 and U+2029 written as ``\\u`` escapes, so nothing in it can close the tag.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import logging
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from workbench.io.boundary import blocked_paths
from workbench.render.summary import near_duplicates_text

if TYPE_CHECKING:
    from workbench.results import (
        AttributeAssociation,
        AuditResult,
        BalanceResult,
        CheckStatus,
        ClassErrorRate,
    )

logger = logging.getLogger(__name__)

#: Rows, clusters or pairs shown per list in the HTML; the JSON export has them all.
MAX_ROWS = 200
#: Members shown per duplicate cluster.
MAX_CLUSTER_MEMBERS = 12
#: Attribute charts drawn in the bias section.
MAX_ATTRIBUTE_CHARTS = 20
#: Labels (rows) drawn per attribute heatmap.
MAX_HEATMAP_LABELS = 60

_TEMPLATE_DIR = Path(__file__).parent / "templates"
_TEMPLATE_NAME = "report.html.j2"

#: Checks in report order, with their section anchor and title.
_SECTIONS: tuple[tuple[str, str, str], ...] = (
    ("integrity", "file-problems", "File problems"),
    ("duplicates", "duplicates", "Duplicates"),
    ("leakage", "leakage", "Leakage"),
    ("label_issues", "label-issues", "Label issues"),
    ("balance", "balance", "Balance"),
    ("bias", "bias", "Bias"),
)

#: Section ids present in every report (the navigation bar links to each).
SECTION_IDS: tuple[str, ...] = ("summary", *(anchor for _, anchor, _ in _SECTIONS), "methods")

#: The one inline script besides plotly's: draws each figure from its JSON block.
_BOOT_JS = """(function () {
  "use strict";
  if (typeof Plotly === "undefined") { return; }
  var divs = document.querySelectorAll("div[data-figure]");
  for (var i = 0; i < divs.length; i++) {
    var div = divs[i];
    var block = document.getElementById(div.getAttribute("data-figure"));
    if (!block) { continue; }
    var fig = JSON.parse(block.textContent);
    Plotly.newPlot(div, fig.data, fig.layout, fig.config);
  }
})();"""

_PLOTLY_CONFIG: dict[str, Any] = {
    "displaylogo": False,
    "responsive": True,
    "showLink": False,
    "showSendToCloud": False,
    "showEditInChartStudio": False,
    "typesetMath": False,
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"],
}

_FONT = 'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif'

_SCRIPT_JSON_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


# --------------------------------------------------------------------------- helpers


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


def _csp_hash(script: str) -> str:
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


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


# --------------------------------------------------------------------------- thumbnails


@dataclass(frozen=True)
class Thumbnail:
    """One image as the report shows it: a data URI, or a placeholder note."""

    filepath: str
    name: str
    uri: str | None
    note: str = ""


class _Thumbnails:
    """Thumbnails of flagged samples: at most ``max_thumbnails`` images placed in the page in all.

    Every place an image appears counts (a file shown in a leak pair and in a duplicate
    cluster counts twice), so the limit bounds both the number of ``<img>`` elements and
    the size of the report. Each file is decoded once.
    """

    def __init__(self, max_thumbnails: int, px: int, blocked: frozenset[str] = frozenset()) -> None:
        self.max_thumbnails = max(0, int(max_thumbnails))
        self.blocked = blocked  # outside the dataset root: never opened
        self.px = max(8, int(px))
        self.n_embedded = 0
        self.n_failed = 0
        self._cache: dict[str, Thumbnail] = {}

    def allocate(self, groups: list[list[str | None]]) -> list[list[Thumbnail]]:
        """One thumbnail per file path in each group (a section), sharing the limit round-robin.

        Round-robin keeps one long section from using the whole budget. A file that can't
        be read gets a placeholder and doesn't count against the limit; once the limit is
        reached the remaining places get a placeholder too.

        Args:
            groups: File paths in display order, one list per section.

        Returns:
            Thumbnails aligned with ``groups``.
        """
        out: list[list[Thumbnail | None]] = [[None] * len(group) for group in groups]
        positions = [0] * len(groups)
        while any(pos < len(group) for pos, group in zip(positions, groups, strict=True)):
            for i, group in enumerate(groups):
                if positions[i] >= len(group):
                    continue
                filepath = group[positions[i]]
                if not filepath:
                    thumb = Thumbnail("", "", None, "no file")
                elif filepath in self.blocked:
                    thumb = Thumbnail(filepath, _basename(filepath), None, "outside the dataset folder")
                elif self.n_embedded < self.max_thumbnails:
                    thumb = self._thumbnail(filepath)
                    self.n_embedded += thumb.uri is not None
                else:
                    thumb = Thumbnail(filepath, _basename(filepath), None, "not embedded (thumbnail limit)")
                out[i][positions[i]] = thumb
                positions[i] += 1
        return out  # type: ignore[return-value]

    def _thumbnail(self, filepath: str) -> Thumbnail:
        cached = self._cache.get(filepath)
        if cached is None:
            cached = self._cache[filepath] = encode_thumbnail(filepath, self.px)
            self.n_failed += cached.uri is None
        return cached

def encode_thumbnail(filepath: str, px: int = 96) -> Thumbnail:
    """A small JPEG (PNG when the image has transparency) of ``filepath`` as a data URI.

    The pixels are the ones the model and the perceptual hash see
    (:func:`workbench.io.pixels.to_rgb`: upright, 8-bit, transparency composited on white);
    a transparent image (usually a drawing) is saved as PNG so its lines stay crisp.

    A missing or undecodable file gives a placeholder (``uri`` None, ``note`` says why);
    this never raises for a bad image.

    Args:
        filepath: The image file.
        px: Longest side of the thumbnail, in pixels.

    Returns:
        The :class:`Thumbnail`.

    Example:
        >>> encode_thumbnail("/no/such/file.png").note
        'file missing'
    """
    from PIL import Image

    from workbench.io.pixels import to_rgb

    name = _basename(filepath)
    try:
        with Image.open(filepath) as img:
            img.draft("RGB", (px, px))  # fast JPEG downscale; no-op otherwise
            has_alpha = img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info)
            img = to_rgb(img)
            img.thumbnail((px, px))
            buffer = io.BytesIO()
            if has_alpha:
                img.save(buffer, format="PNG", optimize=True)
                mime = "image/png"
            else:
                img.save(buffer, format="JPEG", quality=82, optimize=True)
                mime = "image/jpeg"
    except FileNotFoundError:
        logger.debug("thumbnail: file not found: %s", filepath)
        return Thumbnail(filepath, name, None, "file missing")
    except (OSError, ValueError, SyntaxError, EOFError, TypeError, Image.DecompressionBombError) as exc:
        # Pillow signals undecodable files with any of these; the report shows a placeholder.
        logger.debug("thumbnail: cannot read %s: %s", filepath, exc)
        return Thumbnail(filepath, name, None, "unreadable image")
    uri = f"data:{mime};base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
    return Thumbnail(filepath, name, uri)


# --------------------------------------------------------------------------- figures


@dataclass(frozen=True)
class Figure:
    """A plotly figure as the template places it: a div id and its script-safe JSON."""

    dom_id: str
    json: str
    height: int


def style_figure(fig: Any, *, height: int) -> Any:
    """Give a plotly figure the report's look (template, font, margins) and ``height``; returns it.

    Example:
        >>> fig = style_figure(label_error_figure(result.label_issues.per_class), height=380)  # doctest: +SKIP
    """
    fig.update_layout(
        height=height,
        template="plotly_white",
        font={"family": _FONT, "size": 12, "color": "#1d2330"},
        margin={"l": 60, "r": 20, "t": 40, "b": 60},
        hoverlabel={"font": {"family": _FONT}},
    )
    return fig


def attribute_figure_height(n_labels: int) -> int:
    """Height in pixels of an attribute heatmap with ``n_labels`` rows."""
    return min(900, 160 + 26 * n_labels)


class _Figures:
    def __init__(self) -> None:
        self.items: list[Figure] = []

    def add(self, fig: Any | None, *, height: int) -> Figure | None:
        if fig is None:
            return None
        style_figure(fig, height=height)
        plain = fig.to_plotly_json()
        spec = {"data": plain["data"], "layout": plain["layout"], "config": _PLOTLY_CONFIG}
        figure = Figure(f"wb-fig-{len(self.items) + 1}", script_safe_json(spec), height)
        self.items.append(figure)
        return figure


def label_error_figure(per_class: tuple[ClassErrorRate, ...]) -> Any | None:
    """Bar chart of the share of samples flagged per given label, worst first (None when empty).

    Labels are escaped with :func:`plotly_text`.

    Example:
        >>> fig = label_error_figure(result.label_issues.per_class)  # doctest: +SKIP
    """
    import plotly.graph_objects as go

    if not per_class:
        return None
    rows = sorted(per_class, key=lambda c: (-c.rate, str(c.label)))
    fig = go.Figure(go.Bar(
        x=[plotly_text(c.label) for c in rows],
        y=[c.rate for c in rows],
        customdata=[[c.n_issues, c.n_assessed] for c in rows],
        marker={"color": "#c5221f"},
        hovertemplate="%{x}<br>%{customdata[0]} of %{customdata[1]} flagged (%{y:.1%})<extra></extra>",
    ))
    fig.update_layout(title={"text": "Share of samples flagged, per given label", "font": {"size": 14}},
                      xaxis={"type": "category", "title": {"text": "given label"}, "automargin": True},
                      yaxis={"tickformat": ".0%", "title": {"text": "flagged"}, "rangemode": "tozero"})
    return fig


def balance_figure(balance: BalanceResult) -> Any | None:
    """Grouped bars of the class counts, one trace per split; classes below the ratio rule get a ⚠.

    Classes are sorted by total count; every label is escaped with :func:`plotly_text`.
    Returns None when there are no counts.

    Example:
        >>> fig = balance_figure(result.balance)  # doctest: +SKIP
    """
    import plotly.graph_objects as go

    by_split = balance.counts  # {split: {class: n}}
    if not by_split:
        return None
    labels = list(balance.totals) or sorted({lab for per in by_split.values() for lab in per})
    labels.sort(key=lambda lab: -balance.totals.get(lab, 0))
    below = set(balance.below_ratio)
    palette = ["#2f5bd3", "#e8710a", "#1e8e3e", "#9334e6", "#d01884", "#12b5cb", "#7f8c8d"]
    fig = go.Figure()
    for i, (split, per_label) in enumerate(by_split.items()):
        fig.add_bar(
            name=plotly_text(split),
            x=[plotly_text(lab) for lab in labels],
            y=[per_label.get(lab, 0) for lab in labels],
            marker={"color": palette[i % len(palette)]},
            hovertemplate="%{x}<br>" + plotly_text(split) + ": %{y:,}<extra></extra>",
        )
    tick_text = [("⚠ " if lab in below else "") + plotly_text(lab) for lab in labels]
    fig.update_layout(
        barmode="group",
        title={"text": f"{balance.unit.capitalize()} per class and split", "font": {"size": 14}},
        xaxis={"type": "category", "automargin": True, "tickmode": "array",
               "tickvals": [plotly_text(lab) for lab in labels], "ticktext": tick_text},
        yaxis={"title": {"text": balance.unit}, "rangemode": "tozero"},
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"},
    )
    return fig


def _label_by_level(assoc: AttributeAssociation) -> dict[str, dict[str, int]]:
    """``{label: {level: n}}`` from ``AttributeAssociation.table`` (``{level: {label: n}}``)."""
    by_label: dict[str, dict[str, int]] = {}
    for level, per_label in assoc.table.items():
        for label, n in per_label.items():
            by_label.setdefault(label, {})[level] = n
    return by_label


def attribute_figure(assoc: AttributeAssociation, *, max_labels: int = MAX_HEATMAP_LABELS) -> tuple[Any | None, int]:
    """Heatmap of each attribute level's label mix (share of the level, counts as text).

    Rows are labels (most frequent first, at most ``max_labels``), columns the levels;
    every label, level and the attribute name are escaped with :func:`plotly_text`.

    Returns:
        The figure (None when the table is empty) and how many labels were left out.

    Example:
        >>> fig, hidden = attribute_figure(result.bias.attributes[0])  # doctest: +SKIP
    """
    import plotly.graph_objects as go

    by_label = _label_by_level(assoc)
    if not by_label:
        return None, 0
    levels = list(dict.fromkeys(lv for per in by_label.values() for lv in per))
    labels = sorted(by_label, key=lambda lab: -sum(by_label[lab].values()))
    hidden = max(0, len(labels) - max_labels)
    labels = labels[:max_labels]
    level_totals = {lv: sum(per.get(lv, 0) for per in by_label.values()) for lv in levels}
    counts = [[by_label[lab].get(lv, 0) for lv in levels] for lab in labels]
    shares = [[(n / level_totals[lv] if level_totals[lv] else 0.0) for n, lv in zip(row, levels, strict=True)]
              for row in counts]
    show_text = len(labels) * len(levels) <= 400
    fig = go.Figure(go.Heatmap(
        x=[plotly_text(lv) for lv in levels],
        y=[plotly_text(lab) for lab in labels],
        z=shares,
        text=counts,
        texttemplate="%{text}" if show_text else None,
        colorscale="Blues",
        zmin=0,
        colorbar={"title": {"text": "share of level"}, "tickformat": ".0%"},
        hovertemplate=("label %{y}<br>" + plotly_text(assoc.attribute)
                       + " = %{x}<br>%{text} samples (%{z:.0%} of this level)<extra></extra>"),
    ))
    fig.update_layout(
        title={"text": "Label mix per " + plotly_text(assoc.attribute), "font": {"size": 14}},
        xaxis={"type": "category", "title": {"text": plotly_text(assoc.attribute)}, "automargin": True},
        yaxis={"type": "category", "autorange": "reversed", "automargin": True},
    )
    return fig, hidden


# --------------------------------------------------------------------------- view model


@dataclass(frozen=True)
class SectionState:
    """Whether a section shows content, or the reason it can't."""

    check: str
    anchor: str
    title: str
    state: str  # "ran", "skipped", "failed", "not run" or "no result"
    reason: str
    show: bool
    seconds: float | None


def _section_state(result: AuditResult, check: str, anchor: str, title: str, payload: Any) -> SectionState:
    status: CheckStatus | None = result.check(check)
    seconds = status.seconds if status else None
    if status is not None and status.state in ("skipped", "failed"):
        reason = status.reason or f"The check {status.state} without giving a reason."
        return SectionState(check, anchor, title, status.state, reason, False, seconds)
    if payload is None:
        if status is not None:
            reason = status.reason or "The check ran, but its result is not in this AuditResult."
            return SectionState(check, anchor, title, "no result", reason, False, seconds)
        reason = "This check did not run in this audit and recorded no result."
        return SectionState(check, anchor, title, "not run", reason, False, seconds)
    return SectionState(check, anchor, title, "ran", status.reason if status else "", True, seconds)


def section_states(result: AuditResult) -> dict[str, SectionState]:
    """``{check: SectionState}`` for every check the report has a section for.

    A section shows content only when its check ran and left a result; otherwise the
    state says why (``skipped``, ``failed``, ``not run``, ``no result``) with the reason.

    Example:
        >>> section_states(result)["label_issues"].reason  # doctest: +SKIP
        'no class labels: ...'
    """
    return {check: _section_state(result, check, anchor, title, getattr(result, check))
            for check, anchor, title in _SECTIONS}


def summary_cards(result: AuditResult) -> list[dict[str, str]]:
    """The report's summary cards: ``title``, ``value``, ``detail``, ``tone`` and the section ``href``.

    Example:
        >>> [c["title"] for c in summary_cards(result)][:3]  # doctest: +SKIP
        ['Samples', 'Classes', 'Splits']
    """
    return _summary_cards(result, section_states(result))


def _card(title: str, value: str, detail: str, tone: str, href: str) -> dict[str, str]:
    return {"title": title, "value": value, "detail": detail, "tone": tone, "href": href}


def _summary_cards(result: AuditResult, states: dict[str, SectionState]) -> list[dict[str, str]]:
    counts = result.counts()
    split_names = ", ".join(result.splits) if result.splits else "no split field"
    cards = [
        _card("Samples", fmt_int(result.n_samples), result.task, "neutral", "#methods"),
        _card("Classes", fmt_int(len(result.classes)), "", "neutral", "#balance"),
        _card("Splits", fmt_int(len(result.splits)), split_names, "neutral", "#leakage"),
    ]

    def finding(check: str, title: str, n: int, detail: str, tone_if_any: str) -> dict[str, str]:
        st = states[check]
        if not st.show:
            return _card(title, "—", st.state, "muted", "#" + st.anchor)
        return _card(title, fmt_int(n), detail, tone_if_any if n else "ok", "#" + st.anchor)

    dup, leak, lab = result.duplicates, result.leakage, result.label_issues
    cards.append(finding("integrity", "File problems", counts["file_problems"],
                         "missing, empty or undecodable", "bad"))
    cards.append(finding("duplicates", "Duplicate clusters", counts["duplicates"],
                         f"{fmt_int(dup.n_redundant)} redundant samples" if dup else "", "warn"))
    cards.append(finding("leakage", "Leak pairs", counts["leaks"],
                         f"{fmt_int(leak.n_label_conflicts)} with conflicting labels" if leak else "", "bad"))
    cards.append(finding("label_issues", "Label issues", counts["label_issues"],
                         f"{fmt_pct(lab.issue_rate)} of assessed samples" if lab else "", "warn"))
    st = states["balance"]
    bal = result.balance
    if not st.show or bal is None:
        cards.append(_card("Imbalance ratio", "—", st.state, "muted", "#balance"))
    else:
        rule = f"rule: ≥ {fmt_pct(bal.min_ratio, 0)}"
        if bal.below_ratio:
            detail = f"{rule}; {_fmt_plural(len(bal.below_ratio), 'class', 'classes')} below"
        else:
            detail = f"{rule}; met"
        cards.append(_card("Imbalance ratio", fmt_pct(bal.imbalance_ratio), detail,
                           "bad" if bal.below_ratio else "ok", "#balance"))
    return cards


def _item(values: tuple[Any, ...], index: int) -> Any:
    return values[index] if index < len(values) else None


def _capped(items: tuple[Any, ...] | list[Any], limit: int = MAX_ROWS) -> tuple[list[Any], int]:
    items = list(items)
    return items[:limit], max(0, len(items) - limit)


def build_context(result: AuditResult, *, max_thumbnails: int = 300, thumbnail_px: int = 96) -> dict[str, Any]:
    """Everything the template needs, read from ``result`` (no findings are computed here).

    Args:
        result: The audit to show.
        max_thumbnails: Most images embedded in the report, over all sections.
        thumbnail_px: Longest side of a thumbnail, in pixels.

    Returns:
        The template context (plain data, figures as script-safe JSON).

    Example:
        >>> ctx = build_context(result, max_thumbnails=50)  # doctest: +SKIP
        >>> ctx["thumbnails"]["embedded"] <= 50  # doctest: +SKIP
        True
    """
    states = section_states(result)
    figures = _Figures()
    thumbs = _Thumbnails(max_thumbnails, thumbnail_px, blocked_paths(result))

    dup = result.duplicates if states["duplicates"].show else None
    leak = result.leakage if states["leakage"].show else None
    lab = result.label_issues if states["label_issues"].show else None
    clusters, clusters_more = _capped(dup.clusters if dup else ())
    pairs, pairs_more = _capped(leak.pairs if leak else ())
    issues, issues_more = _capped(lab.issues if lab else ())

    # Thumbnails only for what is shown, shared fairly between the three image sections.
    pair_thumbs, cluster_thumbs, issue_thumbs = (iter(group) for group in thumbs.allocate([
        [fp for p in pairs for fp in (p.filepath_a, p.filepath_b)],
        [fp for c in clusters for fp in c.filepaths[:MAX_CLUSTER_MEMBERS]],
        [i.filepath for i in issues],
    ]))

    integrity_view = None
    if states["integrity"].show and result.integrity is not None:
        rows, more = _capped(result.integrity.problems)
        integrity_view = {"rows": rows, "more": more, "total": len(result.integrity.problems),
                          "by_kind": sorted(Counter(p.kind for p in result.integrity.problems).items())}

    duplicates_view = None
    if dup is not None:
        duplicates_view = {
            "result": dup,
            "clusters": [{
                "cluster": c,
                "members": [{"thumb": next(cluster_thumbs), "split": _item(c.splits, k), "label": _item(c.labels, k)}
                            for k in range(min(len(c.filepaths), MAX_CLUSTER_MEMBERS))],
                "hidden": max(0, len(c.filepaths) - MAX_CLUSTER_MEMBERS),
            } for c in clusters],
            "more": clusters_more,
            "n_exact": sum(c.kind == "exact" for c in dup.clusters),
            "n_near": sum(c.kind == "near" for c in dup.clusters),
            "n_conflicts": sum(c.label_conflict for c in dup.clusters),
            "n_spanning": sum(c.spans_splits for c in dup.clusters),
            "how": near_duplicates_text(dup),
        }

    leakage_view = None
    if leak is not None:
        leakage_view = {
            "result": leak,
            "pairs": [{"pair": p, "a": next(pair_thumbs), "b": next(pair_thumbs)} for p in pairs],
            "more": pairs_more,
            "by_splits": sorted(Counter(f"{p.split_a} ↔ {p.split_b}" for p in leak.pairs).items()),
        }

    label_view = None
    if lab is not None:
        label_view = {
            "result": lab,
            "rows": [{"rank": n + 1, "issue": i, "thumb": next(issue_thumbs)} for n, i in enumerate(issues)],
            "more": issues_more,
            "figure": figures.add(label_error_figure(lab.per_class), height=380),
            "n_assessed": len(lab.sample_ids),
            "n_confirmed": sum(result.reviews.get(i.sample_id) == "confirmed" for i in lab.issues),
            "n_not_error": sum(result.reviews.get(i.sample_id) == "not_error" for i in lab.issues),
            "tiers": [{"name": TIER_NAMES.get(t.tier, t.tier), "tier": t} for t in lab.tiers],
            "queue": [{"rank": n + 1, "issue": i} for n, i in enumerate(_capped(lab.review_queue)[0])],
            "queue_more": _capped(lab.review_queue)[1],
        }

    balance_view = None
    if states["balance"].show and result.balance is not None:
        bal = result.balance
        readiness, readiness_more = _capped(bal.readiness)
        balance_view = {
            "result": bal,
            "figure": figures.add(balance_figure(bal), height=420),
            "readiness": readiness,
            "readiness_more": readiness_more,
        }

    bias_view = None
    if states["bias"].show and result.bias is not None:
        bias = result.bias
        shifts, shifts_more = _capped(bias.split_shifts)
        attributes = []
        for n, assoc in enumerate(bias.attributes):
            fig, hidden = attribute_figure(assoc) if n < MAX_ATTRIBUTE_CHARTS else (None, 0)
            height = attribute_figure_height(len(fig.data[0].y)) if fig is not None else 0
            attributes.append({"assoc": assoc, "figure": figures.add(fig, height=height), "hidden_labels": hidden})
        bias_view = {
            "result": bias,
            "shifts": shifts,
            "shifts_more": shifts_more,
            "attributes": attributes,
            "charts_more": max(0, len(bias.attributes) - MAX_ATTRIBUTE_CHARTS),
        }

    check_names = [c for c, _, _ in _SECTIONS]
    checks = sorted(result.checks, key=lambda c: (check_names.index(c.name) if c.name in check_names
                                                   else len(check_names), c.name))
    from workbench.render.json_export import EXPORT_SCHEMA_VERSION

    return {
        "r": result,
        "export_schema": EXPORT_SCHEMA_VERSION,
        "embedding": result.embedding,
        "states": states,
        "sections": [states[c] for c, _, _ in _SECTIONS],
        "counts": result.counts(),
        "cards": _summary_cards(result, states),
        "integrity": integrity_view,
        "duplicates": duplicates_view,
        "leakage": leakage_view,
        "label_issues": label_view,
        "balance": balance_view,
        "bias": bias_view,
        "checks": checks,
        "reviews": result.reviews,
        "config_text": json.dumps(result.config, indent=2, ensure_ascii=False, default=str),
        "figures": figures.items,
        "thumbnails": {"embedded": thumbs.n_embedded, "failed": thumbs.n_failed,
                       "limit": thumbs.max_thumbnails, "px": thumbs.px},
        "max_rows": MAX_ROWS,
    }


# --------------------------------------------------------------------------- public API


def _environment(source: str = "") -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_TEMPLATE_DIR)),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    env.filters.update({
        "f3": fmt_float,
        "f2": lambda v: fmt_float(v, 2),
        "pct": fmt_pct,
        "pct_range": fmt_pct_range,
        "num": fmt_int,
        "pval": fmt_p,
        "secs": fmt_seconds,
        "label": _fmt_label,
        "signed": _fmt_signed,
        "plural": _fmt_plural,
        "basename": _basename,
        "relpath": lambda fp: relative_path(fp, source),
        "votes": neighbor_votes_text,
    })
    return env


def render_html(result: AuditResult, path: str | Path | None = None, *, max_thumbnails: int = 300,
                thumbnail_px: int = 96) -> str:
    """Render ``result`` as one self-contained, offline HTML file.

    plotly's JavaScript and the thumbnails (of flagged samples only) are inlined; the
    page loads nothing from the network and a Content-Security-Policy allows only its
    own inline scripts, by hash. Missing or unreadable images show a placeholder.

    Args:
        result: The audit to show.
        path: Where to write the HTML (UTF-8). ``None`` only returns it.
        max_thumbnails: Most images embedded, over all sections; the rest get a placeholder.
        thumbnail_px: Longest side of a thumbnail, in pixels.

    Returns:
        The HTML text.

    Example:
        >>> from workbench.render.html_report import render_html
        >>> html_text = render_html(result, "audit.html", max_thumbnails=100)  # doctest: +SKIP
    """
    from markupsafe import Markup
    from plotly.offline import get_plotlyjs

    context = build_context(result, max_thumbnails=max_thumbnails, thumbnail_px=thumbnail_px)
    plotly_js = get_plotlyjs() if context["figures"] else ""
    # The scripts are hashed exactly as they are written into the page.
    scripts = [s for s in (plotly_js, _BOOT_JS if plotly_js else "") if s]
    for script in scripts:
        if "</script" in script.lower():  # would end the element early; never true for plotly.js
            raise ValueError("an inline script contains '</script'; it can't be embedded safely")
    csp = "; ".join([
        "default-src 'none'",
        "img-src data:",
        "style-src 'unsafe-inline'",
        "script-src " + (" ".join(_csp_hash(s) for s in scripts) if scripts else "'none'"),
        "base-uri 'none'",
        "form-action 'none'",
    ])
    context.update({
        "csp": csp,
        "plotly_js": Markup(plotly_js),
        "boot_js": Markup(_BOOT_JS) if plotly_js else "",
        "script_json": lambda fig: Markup(fig.json),
    })
    text = _environment(result.source).get_template(_TEMPLATE_NAME).render(**context)
    if path is not None:
        from workbench.io.outputs import write_text_atomic

        out = write_text_atomic(path, text)
        logger.info("wrote HTML report %s (%.1f MB, %d thumbnails)", out, len(text.encode("utf-8")) / 1e6,
                    context["thumbnails"]["embedded"])
    return text
