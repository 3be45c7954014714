"""The CI-facing JSON export: findings keyed by absolute file path. Schema in the README."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from workbench.results import AuditResult

EXPORT_SCHEMA_VERSION = "1.5"


def to_export_dict(result: AuditResult) -> dict[str, Any]:
    """Build the documented export (see README, "JSON export").

    Example:
        >>> doc = to_export_dict(result)  # doctest: +SKIP
        >>> doc["leaks"][0]["split_a"], doc["leaks"][0]["split_b"]  # doctest: +SKIP
        ('train', 'test')
    """
    emb = result.embedding
    dups = result.duplicates
    leaks = result.leakage
    li = result.label_issues
    return {
        "schema_version": EXPORT_SCHEMA_VERSION,
        "dataset": {"name": result.dataset_name, "source": result.source, "task": result.task,
                    "n_samples": result.n_samples, "classes": list(result.classes), "splits": list(result.splits),
                    "created_at": result.created_at},
        "embedding_model": None if emb is None else {
            "id": emb.model_id, "requested": emb.requested, "trained": emb.trained,
            "fallback_reason": emb.fallback_reason, "dim": emb.dim, "precision": emb.precision,
            "bf16_drift": emb.bf16_drift, "n_computed": emb.n_computed, "n_cached": emb.n_cached},
        "neighbor_graph": None if result.neighbors is None else dataclasses.asdict(result.neighbors),
        "summary": result.counts(),
        "checks": {c.name: {"state": c.state, "reason": c.reason} for c in result.checks},
        "duplicates": [] if dups is None else [
            {"kind": c.kind, "paths": list(c.filepaths), "splits": list(c.splits), "labels": list(c.labels),
             "max_distance": c.max_distance, "label_conflict": c.label_conflict, "evidence": list(c.evidence),
             "links": [_link(link, c) for link in c.links]} for c in dups.clusters],
        "near_duplicate_threshold": None if dups is None else dups.near_threshold,
        "near_duplicates": None if dups is None else _near(dups),
        "leaks": [] if leaks is None else [
            {"path_a": p.filepath_a, "split_a": p.split_a, "label_a": p.label_a,
             "path_b": p.filepath_b, "split_b": p.split_b, "label_b": p.label_b,
             "kind": p.kind, "distance": p.distance, "label_conflict": p.label_conflict, "evidence": p.evidence}
            for p in leaks.pairs],
        "label_issues": [] if li is None else [_label_issue(i) for i in li.issues],
        "label_issue_method": None if li is None else li.method,
        "label_review_queue": [] if li is None else [_label_issue(i) for i in li.review_queue],
        "label_review": None if li is None else {
            "ranking": li.review_ranking, "budget": li.review_budget, "budget_source": li.review_budget_source,
            "estimated_n_issues": li.estimated_n_issues, "precision_method": li.precision_method,
            "tiers": {t.tier: {"n": t.n, "expected_errors": t.expected_errors,
                               "expected_precision": t.expected_precision,
                               "precision_range": None if t.precision_range is None else list(t.precision_range)}
                      for t in li.tiers}},
        "class_counts": {} if result.balance is None else result.balance.counts,
        "balance": None if result.balance is None else {
            "imbalance_ratio": result.balance.imbalance_ratio, "min_ratio": result.balance.min_ratio,
            "below_ratio": list(result.balance.below_ratio), "basis": result.balance.basis,
            "readiness": {r.label: r.level for r in result.balance.readiness}},
        "file_problems": [] if result.integrity is None else [
            {"path": p.filepath, "kind": p.kind, "message": p.message} for p in result.integrity.problems],
        "timings": dict(result.timings),
    }


def _link(link: Any, cluster: Any) -> dict[str, Any]:
    path = dict(zip(cluster.sample_ids, cluster.filepaths))
    return {"path_a": path.get(link.sample_id_a), "path_b": path.get(link.sample_id_b), "distance": link.distance,
            "evidence": link.evidence}


def _near(dups: Any) -> dict[str, Any]:
    """How near duplicates were decided and how far to trust them (see README, "Near duplicates")."""
    cal = dups.calibration
    return {
        "calibration": None if cal is None else {
            "method": cal.method, "strict_threshold": cal.strict, "loose_threshold": cal.loose,
            "thumbnail_threshold": cal.thumb, "phash_bits": cal.phash_bits, "pixels_threshold": cal.pixels,
            "dense_threshold": cal.dense,
            "n_originals": cal.n_originals,
            "n_copies": cal.n_copies, "expected_recall": dict(cal.recall),
            "expected_false_pair_rate": cal.false_pair_rate, "note": cal.note},
        "n_rejected_candidates": dups.n_rejected_candidates, "n_split_links": dups.n_split_links,
        "expected_precision": {"exact": 1.0, "near": dups.expected_near_precision},
    }


def _label_issue(i: Any) -> dict[str, Any]:
    return {"path": i.filepath, "split": i.split, "given_label": i.given_label,
            "suggested_label": i.suggested_label, "score": i.score,
            "suggested_confidence": i.suggested_confidence,
            "neighbors": None if i.neighbors is None else {
                "counted": i.neighbors, "given_label": i.neighbors_given,
                "suggested_label": i.neighbors_suggested},
            "likely_error": i.likely_error, "review_rank": i.review_rank, "review_score": i.review_score,
            "error_probability": i.error_probability}


def write_json(result: AuditResult, path: str | Path) -> Path:
    """Write the export to ``path`` atomically (a temporary file, then a rename)."""
    from workbench.io.outputs import write_text_atomic

    return write_text_atomic(path, json.dumps(to_export_dict(result), indent=1, allow_nan=False))
