"""What every check's result offers, whatever the check: the contract renderers rely on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class CheckResult(Protocol):
    """A check's frozen result.

    - ``n_findings``: how many findings it holds (the count ``--fail-on`` and the summary show);
    - ``summary()``: a terse headline, then optional detail lines (newline-separated), plain text;
    - ``to_frame()``: a pandas frame, one row per flagged sample or object, with ``filepath`` and the
      given ``label`` where the finding is about a sample, in cleanlab's ``is_<issue>_issue`` /
      ``<issue>_score`` column contract;
    - ``to_export()``: its part of the JSON export (keys merged at the top level), keyed by path;
    - ``finding_rows()`` (optional): each finding as a :class:`Finding`, what audit history and
      ``workbench diff`` compare (a result without it contributes no rows, and says so in the diff).
    """

    @property
    def n_findings(self) -> int: ...

    def summary(self) -> str: ...

    def to_frame(self) -> Any: ...

    def to_export(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Finding:
    """One finding as audit history and ``workbench diff`` see it: what identifies it across audits.

    ``kind`` names what was found (``exact``, ``label``, ``dark``...). ``files`` are the images it is
    about (absolute paths here; made relative to the dataset root when stored), ``about`` the other
    parts of its identity (a class, a property, a rounded box). Two audits hold the same finding when
    check, kind, files and about match; ``label``, ``score`` and ``detail`` may change between them.
    Choose the identity so that fixing the data removes the finding and nothing else renames it: a label
    issue is named by the file and the given label (relabelling it fixes it). ``group`` findings (a
    duplicate cluster) list all their files: two audits hold the same one while any file is in both, so
    a copy added to or removed from a cluster leaves it the same finding.

    Example:
        >>> Finding("label", ("/d/cat/1.png",), ("cat",), "cat", 0.02, "looks like dog").identity
        ('label', ('/d/cat/1.png',), ('cat',))
    """

    kind: str
    files: tuple[str, ...] = ()
    about: tuple[str, ...] = ()
    label: str | None = None
    score: float | None = None
    detail: str = ""
    group: bool = False

    @property
    def identity(self) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
        return self.kind, self.files, self.about


def box_key(box: Any) -> str:
    """A relative box as identity text, rounded to 1% of the image so re-exports don't rename it."""
    return "" if box is None else ",".join(f"{float(v):.2f}" for v in box)


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
