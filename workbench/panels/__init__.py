"""Interactive notebook panels (ipywidgets 8 + plotly ``FigureWidget``) for an :class:`AuditResult`.

Every panel is built from the result only; no finding is recomputed. The one exception is
the duplicates threshold slider, which re-filters the audit's cached k-NN graph with
:func:`workbench.checks.duplicates.refilter` (no re-embedding). ipywidgets, plotly,
FiftyOne and Pillow are imported inside the functions that use them.

Example:
    >>> import workbench
    >>> result = workbench.audit("data/demo/fashion-mnist")                 # doctest: +SKIP
    >>> workbench.show(result, session=workbench.review(result))            # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.panels.bias import bias_panel
from workbench.panels.duplicates import duplicates_panel
from workbench.panels.label_issues import label_issues_panel
from workbench.panels.overview import overview_panel

if TYPE_CHECKING:
    from workbench.results import AuditResult

#: Tab titles of :func:`show`, in order.
TAB_TITLES: tuple[str, ...] = ("Overview", "Duplicates & leakage", "Label issues", "Bias & imbalance")

__all__ = ["TAB_TITLES", "bias_panel", "duplicates_panel", "label_issues_panel", "overview_panel", "show"]


def show(result: AuditResult, *, dataset: Any = None, session: Any = None) -> Any:
    """All panels of an audit in tabs: Overview, Duplicates & leakage, Label issues, Bias & imbalance.

    Args:
        result: The audit to show (from ``workbench.audit`` or ``AuditResult.from_json``;
            the threshold slider needs the former).
        dataset: The audited FiftyOne dataset, used by "Show in App" and the review buttons;
            by default the session's, else loaded by ``result.dataset_name`` on first use.
        session: A FiftyOne App session, e.g. ``workbench.review(result)``; "Show in App"
            buttons set its view.

    Returns:
        An ``ipywidgets.Tab``; display it as the last expression of a notebook cell.

    Example:
        >>> tabs = workbench.show(result, session=workbench.review(result, auto=False))  # doctest: +SKIP
        >>> tabs  # doctest: +SKIP
    """
    import ipywidgets as w

    tab = w.Tab(children=[
        overview_panel(result),
        duplicates_panel(result, dataset=dataset, session=session),
        label_issues_panel(result, dataset=dataset),
        bias_panel(result),
    ])
    tab.titles = TAB_TITLES
    tab.add_class("wb-panels")
    return tab
