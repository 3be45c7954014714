"""plotly figures as live ``FigureWidget``\\ s, styled like the HTML report's."""

from __future__ import annotations

from typing import Any


def figure_widget(fig: Any | None, *, height: int) -> Any | None:
    """``fig`` (one of the report's figures) as a ``plotly.graph_objects.FigureWidget``; None stays None.

    The widget has the report's template, font and margins (``style_figure``) and the CSS
    class ``wb-chart``. Update its traces in place (``with widget.batch_update(): ...``).

    Example:
        >>> from workbench.render.figures import balance_figure
        >>> chart = figure_widget(balance_figure(result.balance), height=420)  # doctest: +SKIP
    """
    if fig is None:
        return None
    import plotly.graph_objects as go

    from workbench.render.figures import style_figure

    widget = go.FigureWidget(style_figure(fig, height=height))
    widget.add_class("wb-chart")
    return widget
