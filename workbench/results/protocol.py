"""What every check's result offers, whatever the check: the contract renderers rely on."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class CheckResult(Protocol):
    """A check's frozen result.

    - ``n_findings``: how many findings it holds (the count ``--fail-on`` and the summary show);
    - ``summary()``: a terse headline, then optional detail lines (newline-separated), plain text;
    - ``to_frame()``: a pandas frame, one row per flagged sample or object, with ``filepath`` and the
      given ``label`` where the finding is about a sample, in cleanlab's ``is_<issue>_issue`` /
      ``<issue>_score`` column contract;
    - ``to_export()``: its part of the JSON export (keys merged at the top level), keyed by path.
    """

    @property
    def n_findings(self) -> int: ...

    def summary(self) -> str: ...

    def to_frame(self) -> Any: ...

    def to_export(self) -> dict[str, Any]: ...


def printable(value: object) -> str:
    """Dataset text made safe for one line of plain text: control characters (ANSI escapes, newlines)
    shown escaped. ``summary()`` texts pass every dataset-derived string through it.

    Example:
        >>> printable("cat\\n\\x1b[31mdog")
        'cat\\\\n\\\\x1b[31mdog'
    """
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in str(value))


class KindedIssues:
    """Mixin for a result whose ``issues`` each carry ``kinds`` (one of the class's ``KINDS``):
    ``n_findings`` counts the issues, ``counts()`` them per kind (one may count under several)."""

    KINDS: tuple[str, ...] = ()
    issues: tuple[Any, ...]

    @property
    def n_findings(self) -> int:
        return len(self.issues)

    def counts(self) -> dict[str, int]:
        """``{kind: issues of that kind}``, in ``KINDS`` order."""
        return {k: sum(k in i.kinds for i in self.issues) for k in self.KINDS}
