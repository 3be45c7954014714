"""Every finding of an audit as one row of plain data: what history stores, ``--out`` writes as
parquet and JSON, and ``workbench diff`` compares.

A row's ``key`` is a hash of its check, kind, files (relative to the dataset root) and ``about``
(:class:`~workbench.results.protocol.Finding`), so the same finding has the same key in an audit of a
copy of the dataset in another folder, and keeps it while its score or wording changes.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from workbench.history.fingerprint import dataset_root, relative_path

if TYPE_CHECKING:
    from workbench.results import AuditResult

#: Bump when a row's fields or a check's finding identity change: keys of older tables then differ.
TABLE_VERSION = 1

COLUMNS = ("check", "gate", "kind", "key", "files", "about", "label", "score", "detail", "group")


@dataclass(frozen=True)
class FindingRecord:
    """One finding of one audit (see the module docstring)."""

    check: str
    gate: str
    kind: str
    key: str
    files: tuple[str, ...]
    about: tuple[str, ...]
    label: str | None
    score: float | None
    detail: str
    #: The finding is a group of files (a duplicate cluster): the same finding in another audit while any
    #: of its files is in both (:func:`workbench.history.diff.diff_audits`).
    group: bool = False

    def to_row(self) -> dict[str, Any]:
        row = asdict(self)
        row["files"], row["about"] = list(self.files), list(self.about)
        return row

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> FindingRecord:
        """A row as written by :meth:`to_row` (a JSON object).

        Raises:
            ValueError: a field is missing or of the wrong type.
        """
        need = set(COLUMNS) - {"group"}  # optional: absent means False
        if not isinstance(row, dict) or need - set(row):
            missing = sorted(need - set(row)) if isinstance(row, dict) else sorted(need)
            raise ValueError(f"a findings row lacks {', '.join(missing)}")
        if not all(isinstance(row[k], str) for k in ("check", "gate", "kind", "key", "detail")):
            raise ValueError("a findings row's check, gate, kind, key and detail must be text")
        if not all(isinstance(row[k], list) and all(isinstance(v, str) for v in row[k]) for k in ("files", "about")):
            raise ValueError("a findings row's files and about must be lists of text")
        score = row["score"]
        if score is not None and (isinstance(score, bool) or not isinstance(score, (int, float))):
            raise ValueError("a findings row's score must be a number or null")
        return cls(row["check"], row["gate"], row["kind"], row["key"], tuple(row["files"]), tuple(row["about"]),
                   None if row["label"] is None else str(row["label"]), None if score is None else float(score),
                   row["detail"], bool(row.get("group", False)))


def finding_key(check: str, kind: str, files: tuple[str, ...], about: tuple[str, ...]) -> str:
    """The row key: 16 hex digits of SHA-256 over the identity.

    Example:
        >>> finding_key("leakage", "exact", ("a.png", "b.png"), ())
        '8ccabb7d2fb097ba'
    """
    text = json.dumps([TABLE_VERSION, check, kind, list(files), list(about)], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _score(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return round(value, 6) if math.isfinite(value) else None


def findings_table(result: AuditResult) -> tuple[FindingRecord, ...]:
    """Every finding of every check that ran, in registry order, then by kind, files and about.

    Example:
        >>> rows = findings_table(result)  # doctest: +SKIP
        >>> {r.check for r in rows} <= set(result.findings)  # doctest: +SKIP
        True
    """
    from workbench.checks.registry import registered_checks

    paths = [f for spec in registered_checks() if hasattr(result.findings.get(spec.name), "finding_rows")
             for one in result.findings[spec.name].finding_rows() for f in one.files]
    root = dataset_root(result.source, paths)
    out: list[FindingRecord] = []
    for spec in registered_checks():
        finding = result.findings.get(spec.name)
        if finding is None or not hasattr(finding, "finding_rows"):
            continue
        rows = []
        for one in finding.finding_rows():
            files = tuple(relative_path(f, root) for f in one.files)
            about = tuple(str(a) for a in one.about)
            rows.append(FindingRecord(spec.name, spec.gate.name if spec.gate else "", one.kind,
                                      finding_key(spec.name, one.kind, files, about), files, about,
                                      one.label, _score(one.score), one.detail, one.group))
        seen: set[str] = set()  # one row per identity (a finding listed twice is one finding)
        rows = [r for r in sorted(rows, key=lambda r: (r.kind, r.files, r.about))
                if not (r.key in seen or seen.add(r.key))]
        out.extend(rows)
    return tuple(out)


def checks_compared(result: AuditResult) -> dict[str, str]:
    """``{check: state}`` for every check of the audit: ``ran`` (its rows are in the table), ``no rows``
    (it ran but lists no findings, e.g. the selection), or its skip or failure state."""
    from workbench.checks.registry import check_names

    names = set(check_names())
    out = {}
    for status in (c for c in result.checks if c.name in names):
        if status.state == "ran":
            has_rows = hasattr(result.findings.get(status.name), "finding_rows")
            out[status.name] = "ran" if has_rows else "no rows"
        else:
            out[status.name] = status.state
    return out
