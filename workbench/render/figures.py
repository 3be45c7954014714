"""The report's plotly figures: label-error rates, class balance, attribute heatmaps and box shapes.

Every label drawn is escaped with :func:`~workbench.render.formatting.plotly_text`; the
notebook panels show the same figures as ``FigureWidget``\\ s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.render.formatting import plotly_text, script_safe_json

if TYPE_CHECKING:
    from workbench.checks.objects import ObjectsResult
    from workbench.results import AttributeAssociation, BalanceResult, ClassErrorRate

#: Labels (rows) drawn per attribute heatmap.
MAX_HEATMAP_LABELS = 60

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


#: Classes drawn per box-shape histogram (the most frequent); the JSON export has them all.
MAX_HISTOGRAM_CLASSES = 12
_PALETTE = ("#2f5bd3", "#e8710a", "#1e8e3e", "#9334e6", "#d01884", "#12b5cb", "#7f8c8d", "#c5221f", "#9d755d",
            "#54a24b", "#b279a2", "#4c78a8")


def _histogram_figure(objects: ObjectsResult, which: str, *, title: str, axis: str, digits: int,
                      max_classes: int) -> Any | None:
    from itertools import pairwise

    import plotly.graph_objects as go

    edges = objects.size_bin_edges if which == "size" else objects.aspect_bin_edges
    rows = [c for c in sorted(objects.classes, key=lambda c: (-c.n_instances, c.label))
            if sum(getattr(c, f"{which}_hist")) > 0][:max_classes]
    if not rows or len(edges) < 2:
        return None
    # the bins from one before the first filled to one after the last (of any class drawn)
    filled = [k for c in rows for k, n in enumerate(getattr(c, f"{which}_hist")) if n]
    lo, hi = max(0, min(filled) - 1), min(len(edges) - 1, max(filled) + 2)
    centres = [(a * b) ** 0.5 for a, b in pairwise(edges)][lo:hi]
    ranges = [f"{a:.{digits}f}–{b:.{digits}f}" for a, b in pairwise(edges)][lo:hi]
    fig = go.Figure()
    for n, c in enumerate(rows):
        total = sum(getattr(c, f"{which}_hist"))
        counts = getattr(c, f"{which}_hist")[lo:hi]
        fig.add_scatter(
            x=centres, y=[k / total for k in counts], customdata=[[r, k] for r, k in zip(ranges, counts)],
            name=plotly_text(c.label), mode="lines+markers", line={"shape": "hvh", "color": _PALETTE[n % 12]},
            hovertemplate="%{fullData.name}<br>" + axis + " %{customdata[0]}<br>%{customdata[1]} boxes "
                          "(%{y:.1%})<extra></extra>")
    fig.update_layout(title={"text": title, "font": {"size": 14}},
                      xaxis={"type": "log", "title": {"text": axis}},
                      yaxis={"tickformat": ".0%", "title": {"text": "share of the class's boxes"},
                             "rangemode": "tozero"},
                      legend={"title": {"text": "class"}})
    return fig


def box_size_figure(objects: ObjectsResult, *, max_classes: int = MAX_HISTOGRAM_CLASSES) -> Any | None:
    """Each class's distribution of box sizes (square root of the pixel area, log-spaced bins), the most
    frequent ``max_classes`` classes; None without measured boxes. Class names go through :func:`plotly_text`.

    Example:
        >>> fig = box_size_figure(result.findings["objects"])  # doctest: +SKIP
    """
    return _histogram_figure(objects, "size", title="Box size per class (COCO: small < 32 px, large ≥ 96 px)",
                             axis="box size (px, √area)", digits=1, max_classes=max_classes)


def box_aspect_figure(objects: ObjectsResult, *, max_classes: int = MAX_HISTOGRAM_CLASSES) -> Any | None:
    """Each class's distribution of box aspect ratios (w / h, log-spaced bins); see :func:`box_size_figure`.

    Example:
        >>> fig = box_aspect_figure(result.findings["objects"])  # doctest: +SKIP
    """
    return _histogram_figure(objects, "aspect", title="Box aspect ratio per class (tall < 0.5, wide > 2)",
                             axis="aspect (w / h)", digits=2, max_classes=max_classes)


def box_figures(objects: ObjectsResult) -> list[tuple[Any, int]]:
    """The objects check's figures for the report and the panel: ``[(figure, height)]``.

    Example:
        >>> [h for _, h in box_figures(result.findings["objects"])]  # doctest: +SKIP
        [360, 360]
    """
    return [(fig, 360) for fig in (box_size_figure(objects), box_aspect_figure(objects)) if fig is not None]
