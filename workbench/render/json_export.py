"""The CI-facing JSON export: findings keyed by absolute file path. Schema in the README."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from workbench.history.findings_table import TABLE_VERSION
from workbench.results import SCHEMA_VERSION, AuditResult

#: The export's schema: the same version as the result's JSON (``AuditResult.to_json``).
EXPORT_SCHEMA_VERSION = SCHEMA_VERSION


def to_export_dict(result: AuditResult) -> dict[str, Any]:
    """Build the documented export (see README, "JSON export"): the audit's facts, then each registered
    check's part (``to_export()``; its ``absent_export`` when it did not run).

    Example:
        >>> doc = to_export_dict(result)  # doctest: +SKIP
        >>> doc["leaks"][0]["split_a"], doc["leaks"][0]["split_b"]  # doctest: +SKIP
        ('train', 'test')
    """
    from workbench.checks.registry import registered_checks

    emb = result.embedding
    doc: dict[str, Any] = {
        "schema_version": EXPORT_SCHEMA_VERSION,
        "dataset": {"name": result.dataset_name, "source": result.source, "task": result.task,
                    "n_samples": result.n_samples, "classes": list(result.classes), "splits": list(result.splits),
                    "created_at": result.created_at},
        "embedding_model": None if emb is None else {
            "id": emb.model_id, "requested": emb.requested, "trained": emb.trained,
            "fallback_reason": emb.fallback_reason, "dim": emb.dim, "precision": emb.precision,
            "bf16_drift": emb.bf16_drift, "runtime": emb.runtime, "runtime_drift": emb.runtime_drift,
            "precision_note": emb.precision_note,
            "n_computed": emb.n_computed, "n_cached": emb.n_cached},
        "neighbor_graph": None if result.neighbors is None else dataclasses.asdict(result.neighbors),
        "summary": result.counts(),
        "checks": {c.name: {"state": c.state, "reason": c.reason} for c in result.checks},
    }
    for spec in registered_checks():
        finding = result.findings.get(spec.name)
        doc.update(finding.to_export() if finding is not None else dict(spec.absent_export))
    from workbench.history.findings_table import checks_compared, findings_table

    doc["fingerprint"] = dict(result.fingerprint)
    doc["findings_table"] = {"version": TABLE_VERSION, "rows": [r.to_row() for r in findings_table(result)],
                             "without_rows": sorted(n for n, s in checks_compared(result).items() if s == "no rows")}
    doc["timings"] = dict(result.timings)
    return doc


def write_json(result: AuditResult, path: str | Path) -> Path:
    """Write the export to ``path`` atomically (a temporary file, then a rename)."""
    from workbench.io.outputs import write_text_atomic

    return write_text_atomic(path, json.dumps(to_export_dict(result), indent=1, allow_nan=False))
