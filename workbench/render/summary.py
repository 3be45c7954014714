"""A one-screen plain-text summary of an AuditResult, for the terminal."""

from __future__ import annotations

import textwrap
from typing import Any

from workbench.results import AuditResult
from workbench.results.protocol import printable as _t


#: Detail lines shown per check under its headline (the JSON and the report have the rest).
MAX_DETAIL_LINES = 5


def label_tiers_text(li: Any) -> str:
    """The label-error tiers and their estimated precision (see ``LabelIssuesResult.tiers_text``)."""
    return li.tiers_text()


def near_duplicates_text(d: Any) -> str:
    """How near duplicates were decided and how far to trust them (see ``DuplicatesResult.rule_text``)."""
    return d.rule_text()


def text_summary(result: AuditResult, *, width: int = 78) -> str:
    """Summarise ``result`` on about one screen: the model, the graph, then each registered check's
    ``summary()`` (its headline and a few detail lines), then the checks that did not run."""
    from workbench.checks.registry import registered_checks

    rule = "-" * width
    lines = [rule, f"workbench audit of {result.dataset_name!r} ({result.task}, {result.n_samples} samples, "
             f"{len(result.classes)} classes, splits: {_t(', '.join(result.splits)) or 'none'})", rule]
    emb = result.embedding
    if emb is not None:
        lines.append(f"embeddings     {emb.model_id}  ({emb.n_computed} computed, {emb.n_cached} cached)")
        if emb.fallback_reason:
            lines += textwrap.wrap(f"FALLBACK: {_t(emb.fallback_reason)}", width=width, initial_indent="  ! ",
                                   subsequent_indent="    ", break_on_hyphens=False)[:3]
        if not emb.trained:
            lines.append("  ! untrained weights: embedding-based findings are not meaningful")
        if emb.runtime != "torch":
            drift = "" if emb.runtime_drift is None else f", max cosine drift from PyTorch fp32 {emb.runtime_drift:.1e}"
            lines.append(f"  runtime {emb.runtime} {emb.precision}{drift}")
        elif emb.precision == "bf16" and emb.bf16_drift is not None:
            lines.append(f"  runtime torch bf16 (max cosine drift from fp32 {emb.bf16_drift:.1e})")
        else:
            lines.append(f"  runtime {emb.runtime} {emb.precision}")
        if emb.precision_note:
            lines += textwrap.wrap(f"note: {_t(emb.precision_note)}", width=width, initial_indent="  ",
                                   subsequent_indent="    ", break_on_hyphens=False)[:4]
    nb = result.neighbors
    if nb is not None:
        how = (f"updated: {nb.n_new} new, {nb.n_recomputed} re-searched, {nb.n_reused} reused"
               if nb.mode == "updated" else nb.mode)
        lines.append(f"k-NN graph     {nb.method}, k={nb.k}, {nb.n_rows} rows ({how}, {nb.seconds:.1f} s)")
    for spec in registered_checks():
        finding = result.findings.get(spec.name)
        if finding is None:
            continue
        head, *details = (_t(line) for line in finding.summary().splitlines())
        lines += textwrap.wrap(head, width=width, initial_indent=f"{spec.title:<15}", subsequent_indent=" " * 15,
                               break_on_hyphens=False, break_long_words=False)
        for line in details[:MAX_DETAIL_LINES]:
            lines += textwrap.wrap(line, width=width, initial_indent=" " * 15, subsequent_indent=" " * 17,
                                   break_on_hyphens=False, break_long_words=False)  # a long path stays whole
    for chk in result.checks:
        if chk.state != "ran":
            lines += textwrap.wrap(f"{chk.name}: {_t(chk.reason)}", width=width, initial_indent=f"{chk.state:<15}",
                                   subsequent_indent=" " * 15, break_on_hyphens=False)
    lines.append(rule)
    return "\n".join(lines)
