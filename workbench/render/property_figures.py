"""The spurious-correlation check's figures: each flagged property by class.

A number is drawn as one box per class (5th, 25th, 50th, 75th and 95th percentile), the classes
it tells apart in colour; a category as each class's shares of its values. Class names go through
:func:`~workbench.render.formatting.plotly_text`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.render.formatting import plotly_text

if TYPE_CHECKING:
    from workbench.results.spurious import PropertyAssociation, SpuriousCorrelationResult

#: Flagged properties drawn; classes drawn per figure (the flagged ones first, then the largest).
MAX_FIGURES = 4
MAX_CLASSES = 30
#: Characters of a class name drawn on an axis (the whole name is in the hover text).
MAX_NAME = 28
#: Properties drawn on a log axis (they span decades).
LOG_AXIS = ("sharpness", "size", "aspect_ratio")


def _short(label: str) -> str:
    return label if len(label) <= MAX_NAME else label[:MAX_NAME - 1] + "…"


def _classes(assoc: PropertyAssociation) -> list[Any]:
    ranked = sorted(assoc.classes, key=lambda c: (not c.flagged, -c.n, c.label))[:MAX_CLASSES]
    return sorted(ranked, key=lambda c: c.label)


def property_figure(assoc: PropertyAssociation) -> Any | None:
    """One property by class; ``None`` when no class was profiled.

    Example:
        >>> fig = property_figure(result.findings["spurious_correlations"].flagged[0])  # doctest: +SKIP
    """
    import plotly.graph_objects as go

    classes = _classes(assoc)
    if not classes:
        return None
    fig = go.Figure()
    names = [plotly_text(_short(c.label)) for c in classes]
    title = f"{assoc.property} by class (score {assoc.uncorrelatedness:.2f}; 1 = no association)"
    if assoc.property == "jpeg_quality":
        title += "; JPEG files only"
    if assoc.kind == "numeric":
        for c, name in zip(classes, names):
            p5, q1, med, q3, p95 = c.quantiles
            fig.add_trace(go.Box(x=[name], q1=[q1], median=[med], q3=[q3], lowerfence=[p5], upperfence=[p95],
                                 name=name, showlegend=False, boxpoints=False,
                                 marker={"color": "#c5221f" if c.flagged else "#7f8c8d"},
                                 hovertemplate=f"{plotly_text(c.label)}<br>AUC {c.auc:.2f}<extra></extra>"))
        fig.update_layout(yaxis={"title": {"text": plotly_text(assoc.property)},
                                 "type": "log" if assoc.property in LOG_AXIS else "linear"},
                          xaxis={"title": {"text": "class (red: told apart by this property alone)"}})
    else:
        levels = sorted({lv for c in classes for lv in c.shares})
        for lv in levels:
            fig.add_bar(x=names, y=[c.shares.get(lv, 0.0) for c in classes], name=plotly_text(lv),
                        hovertemplate="%{x}: %{y:.0%} " + plotly_text(lv) + "<extra></extra>")
        fig.update_layout(barmode="stack", yaxis={"tickformat": ".0%", "title": {"text": "share of the class"}},
                          legend={"title": {"text": plotly_text(assoc.property)}})
    fig.update_layout(title={"text": plotly_text(title), "font": {"size": 14}})
    return fig


def spurious_figures(result: SpuriousCorrelationResult) -> list[tuple[Any, int]]:
    """The flagged properties' figures for the report and the panel: ``[(figure, height)]``.

    Example:
        >>> [h for _, h in spurious_figures(result.findings["spurious_correlations"])]  # doctest: +SKIP
        [360]
    """
    figures = (property_figure(p) for p in [p for p in result.flagged if not p.same_as][:MAX_FIGURES])
    return [(fig, 360) for fig in figures if fig is not None]
