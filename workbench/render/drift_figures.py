"""The drift check's figures: per tested split, each class's domain AUC against its permutation baseline.

A bar per class (red: flagged), the baseline's 95th percentile as a marker, chance (0.5) as a line.
Class names go through :func:`~workbench.render.formatting.plotly_text`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.render.formatting import plotly_text

if TYPE_CHECKING:
    from workbench.results.drift import DriftResult, SplitDrift

#: Splits drawn; classes per figure (flagged first, then the highest AUC).
MAX_FIGURES = 4
MAX_CLASSES = 30


def split_figure(split: SplitDrift) -> Any | None:
    """One split's per-class AUC bars; ``None`` when no class was tested.

    Example:
        >>> fig = split_figure(result.findings["drift"].splits[0])  # doctest: +SKIP
    """
    import plotly.graph_objects as go

    tested = sorted((c for c in split.classes if c.auc is not None), key=lambda c: (not c.flagged, -c.auc))
    tested = sorted(tested[:MAX_CLASSES], key=lambda c: c.label)
    if not tested:
        return None
    names = [plotly_text(c.label) for c in tested]
    fig = go.Figure()
    fig.add_bar(x=names, y=[c.auc for c in tested], name="domain AUC",
                marker={"color": ["#c5221f" if c.flagged else "#7f8c8d" for c in tested]},
                hovertemplate="%{x}: AUC %{y:.3f}<extra></extra>")
    fig.add_scatter(x=names, y=[c.baseline_p95 for c in tested], mode="markers", name="baseline 95th pct",
                    marker={"symbol": "line-ew-open", "size": 18, "color": "#1a73e8"},
                    hovertemplate="%{x}: baseline 95th percentile %{y:.3f}<extra></extra>")
    fig.add_hline(y=0.5, line_dash="dot", line_color="#555")
    title = f"{split.split} against {split.against}: domain AUC by class (red: drifts)"
    fig.update_layout(title={"text": plotly_text(title), "font": {"size": 14}},
                      yaxis={"range": [0, 1], "title": {"text": "AUC (0.5 = can't tell apart)"}})
    return fig


def drift_figures(result: DriftResult) -> list[tuple[Any, int]]:
    """The tested splits' figures for the report and the panel: ``[(figure, height)]``.

    Example:
        >>> [h for _, h in drift_figures(result.findings["drift"])]  # doctest: +SKIP
        [340]
    """
    figures = (split_figure(s) for s in result.splits[:MAX_FIGURES])
    return [(fig, 340) for fig in figures if fig is not None]
