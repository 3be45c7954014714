"""Dropdown filters shared by the panels: "all" plus one choice per value (None allowed)."""

from __future__ import annotations

from typing import Any, Iterable


class _Any:
    """The "no filter" choice of a dropdown, distinct from every class or split (None included)."""

    def __repr__(self) -> str:
        return "ANY"


#: Value of a filter dropdown's "all …" choice.
ANY: Any = _Any()


def filter_dropdown(description: str, values: Iterable[Any], *, all_label: str, none_label: str = "(none)") -> Any:
    """An ``ipywidgets.Dropdown`` with ``all_label`` (value :data:`ANY`) and then each value, sorted.

    Option labels are shown as text by ipywidgets (not as HTML), so dataset strings need no escaping.

    Example:
        >>> split = filter_dropdown("Split", ["train", "test", None], all_label="all splits")  # doctest: +SKIP
        >>> split.value is ANY  # doctest: +SKIP
        True
    """
    import ipywidgets as w

    choices = sorted(set(values), key=lambda v: (v is None, str(v)))
    options = [(all_label, ANY)] + [(none_label if v is None else str(v), v) for v in choices]
    return w.Dropdown(options=options, value=ANY, description=description, style={"description_width": "initial"})


def matches(value: Any, choice: Any) -> bool:
    """Whether ``value`` passes a filter set to ``choice`` (:data:`ANY` passes everything).

    Example:
        >>> matches("cat", ANY), matches("cat", "dog")
        (True, False)
    """
    return choice is ANY or value == choice
