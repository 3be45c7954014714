"""An audit as history keeps it: the facts needed to compare it with another, and its findings table.

A snapshot is small plain JSON (``workbench-history/1``), read back from a history record, an ``--out``
folder's ``findings.json``, a ``--json`` export (which carries the findings table) or a full
``AuditResult`` JSON.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.history.findings_table import TABLE_VERSION, FindingRecord, checks_compared, findings_table

if TYPE_CHECKING:
    from workbench.results import AuditResult

SNAPSHOT_FORMAT = "workbench-history/1"


@dataclass(frozen=True)
class AuditSnapshot:
    """One audit's identity, what each check did, and its findings (see the module docstring).

    ``checks`` is ``{check: state}`` (``ran``, ``no rows``, ``skipped``, ``failed``); only checks that
    ran in both audits compared are compared finding by finding.
    """

    dataset: str
    source: str
    created_at: str
    n_samples: int
    fingerprint: dict[str, str]
    checks: dict[str, str]
    rows: tuple[FindingRecord, ...]
    counts: dict[str, int | None] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    run_id: str = ""
    table_version: int = TABLE_VERSION
    #: Whether the audit's ``--fail-on``/``--fail-on-new`` gates passed (``None``: it had none). A run
    #: that failed them is never the default ``--fail-on-new`` baseline.
    gates_passed: bool | None = None

    def to_dict(self, *, steady: bool = False) -> dict[str, Any]:
        """The JSON document; ``steady`` leaves out what changes between runs on the same data (the
        time and the run id), for a folder DVC tracks."""
        doc = {"format": SNAPSHOT_FORMAT, "table_version": self.table_version, "run_id": self.run_id,
               "dataset": self.dataset, "source": self.source, "created_at": self.created_at,
               "n_samples": self.n_samples, "fingerprint": dict(self.fingerprint), "checks": dict(self.checks),
               "counts": dict(self.counts), "versions": dict(self.versions), "gates_passed": self.gates_passed,
               "findings": [r.to_row() for r in self.rows]}
        if steady:
            for key in ("run_id", "created_at", "gates_passed"):
                doc.pop(key)
        return doc

    def with_run_id(self, run_id: str) -> AuditSnapshot:
        return dataclasses.replace(self, run_id=run_id)

    def with_gates(self, passed: bool | None) -> AuditSnapshot:
        return dataclasses.replace(self, gates_passed=passed)


def snapshot_of(result: AuditResult) -> AuditSnapshot:
    """The snapshot of an audit's result."""
    return AuditSnapshot(result.dataset_name, result.source, result.created_at, result.n_samples,
                         dict(result.fingerprint), checks_compared(result), findings_table(result),
                         counts=dict(result.counts()), versions=dict(result.versions))


def snapshot_from_dict(doc: Any, *, where: str) -> AuditSnapshot:
    """Read a snapshot document, a ``--json`` export or a full ``AuditResult`` JSON.

    Raises:
        ValueError: ``doc`` is none of these, or is damaged; the message names ``where``.
    """
    if not isinstance(doc, dict):
        raise ValueError(f"{where} is not a workbench audit (a JSON object was expected)")
    try:
        if doc.get("format") == SNAPSHOT_FORMAT:
            return _from_snapshot(doc)
        if "findings_table" in doc and isinstance(doc.get("dataset"), dict):  # a --json export
            return _from_export(doc)
        if "findings" in doc and "schema_version" in doc and "checks" in doc:  # AuditResult.to_json
            from workbench.results import AuditResult

            return snapshot_of(AuditResult.from_dict(doc))
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{where} is damaged: {type(exc).__name__}: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    if "schema_version" in doc and "dataset" in doc:
        raise ValueError(f"{where} is a JSON export from a workbench version without a findings table; re-run "
                         "the audit with this version")
    raise ValueError(f"{where} is not a workbench audit: expected a history record, an --out folder's "
                     "findings.json, a --json export or an AuditResult JSON")


def _rows(items: Any, table_version: Any) -> tuple[FindingRecord, ...]:
    if table_version != TABLE_VERSION:
        raise ValueError(f"its findings table is version {table_version!r}, this workbench reads "
                         f"{TABLE_VERSION}; re-run the older audit")
    if not isinstance(items, list):
        raise TypeError("findings is not a list")
    return tuple(FindingRecord.from_row(r) for r in items)


def _text_map(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError("expected an object")
    return {str(k): v for k, v in value.items()}


def _from_snapshot(doc: dict[str, Any]) -> AuditSnapshot:
    return AuditSnapshot(str(doc["dataset"]), str(doc.get("source", "")), str(doc.get("created_at", "")),
                         int(doc["n_samples"]), _text_map(doc.get("fingerprint", {})),
                         _text_map(doc["checks"]), _rows(doc["findings"], doc.get("table_version")),
                         counts=_text_map(doc.get("counts", {})), versions=_text_map(doc.get("versions", {})),
                         run_id=str(doc.get("run_id", "")),
                         gates_passed=doc.get("gates_passed") if isinstance(doc.get("gates_passed"), bool) else None)


def _from_export(doc: dict[str, Any]) -> AuditSnapshot:
    ds = doc["dataset"]
    table = doc["findings_table"]
    if not isinstance(table, dict):
        raise TypeError("findings_table is not an object")
    checks = {}
    for name, status in _text_map(doc["checks"]).items():
        state = status["state"] if isinstance(status, dict) else str(status)
        checks[name] = "no rows" if state == "ran" and name in table.get("without_rows", []) else state
    return AuditSnapshot(str(ds["name"]), str(ds.get("source", "")), str(ds.get("created_at", "")),
                         int(ds["n_samples"]), _text_map(doc.get("fingerprint") or {}), checks,
                         _rows(table["rows"], table.get("version")), counts=_text_map(doc.get("summary", {})))
