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

__all__ = ["bias_panel", "duplicates_panel", "label_issues_panel", "overview_panel", "show", "tabs"]


def tabs() -> tuple[tuple[str, str, str | None], ...]:
    """``(title, "module:function", check)`` of each tab of :func:`show`: the overview, then one per
    registered panel title, in registry order (checks sharing a title share the first one's tab)."""
    from workbench.checks.registry import registered_checks

    out: dict[str, tuple[str, str, str | None]] = {"Overview": ("Overview", "workbench.panels.overview:overview_panel",
                                                                None)}
    for spec in registered_checks():
        title = spec.panel.title or spec.heading if spec.panel is not None else None
        if title is not None and title not in out:
            out[title] = (title, spec.panel.target, spec.name)
    return tuple(out.values())


def __getattr__(name: str) -> Any:
    if name == "TAB_TITLES":  # the tab titles of :func:`show`, in order
        return tuple(title for title, _, _ in tabs())
    raise AttributeError(name)


def _panel(target: str, result: AuditResult, **options: Any) -> Any:
    """Build one tab: import ``module:function`` and pass it the options its signature takes."""
    import importlib
    import inspect

    module, _, name = target.partition(":")
    fn = getattr(importlib.import_module(module), name)
    accepted = inspect.signature(fn).parameters
    return fn(result, **{k: v for k, v in options.items() if k in accepted})


def show(result: AuditResult, *, dataset: Any = None, session: Any = None) -> Any:
    """All panels of an audit in tabs: Overview, then one per registered check's panel (see :func:`tabs`).

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

    found = tabs()
    tab = w.Tab(children=[_panel(target, result, dataset=dataset, session=session, check=check)
                          for _, target, check in found])
    tab.titles = tuple(title for title, _, _ in found)
    tab.add_class("wb-panels")
    return tab
