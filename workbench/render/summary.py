"""A one-screen plain-text summary of an AuditResult, for the terminal."""

from __future__ import annotations

import textwrap
from typing import Any

from workbench.results import AuditResult


def _t(value: object) -> str:
    """Dataset text made safe for a terminal: control characters (ANSI escapes, newlines) shown escaped."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in str(value))


#: File problems named one by one in the summary; the rest are counted.
MAX_PROBLEMS_LISTED = 5


def label_tiers_text(li) -> str:
    """The label-error tiers and their estimated precision, e.g. ``likely errors 40 (est. 35-62% real); ...``."""

    def share(name: str) -> str:
        t = li.tier(name)
        if t is None or t.precision_range is None:
            return ""
        low, high = t.precision_range
        return f" (est. {low:.0%} real)" if f"{low:.0%}" == f"{high:.0%}" else f" (est. {low:.0%}-{high:.0%} real)"

    if not li.review_ranking:  # a result from before the review queue
        return ""
    budget = "your budget" if li.review_budget_source == "--review-budget" else "budget: cleanlab's estimate"
    rest = li.tier("rest")
    tail = f"; rest {rest.n}{share('rest')}" if rest is not None and rest.n else ""
    return (f"likely errors {len(li.issues)}{share('likely_errors')}; review queue {len(li.review_queue)}"
            f"{share('review_queue')}, by {li.review_ranking.replace('_', ' ')}, {budget}{tail}")


def near_duplicates_text(d: Any) -> str:
    """How near duplicates were decided and how far to trust them, in one sentence or two."""
    cal = d.calibration
    if cal is None:
        if d.near_threshold > 0:
            return (f"near duplicates (not calibrated): embedding distance <= {d.near_threshold:.4g}, the model's "
                    "fixed default; perceptual hashes confirmed by it")
        return "near duplicates: content and perceptual hashes only (no embeddings)"
    how = {"calibrated": "calibrated on this dataset", "user": "--near-threshold", "fixed": "the model's default"}
    if cal.thumb > 1.0:  # one threshold, no thumbnail tier
        text = (f"near duplicates ({how.get(cal.method, cal.method)}): embedding distance <= {cal.strict:.4g}; "
                "perceptual hashes confirmed by it")
    else:
        geometry = f", registered pixels (>= {cal.pixels:.3f})" if cal.pixels is not None else ""
        if getattr(cal, "dense", None) is not None:
            geometry += f", aligned edges of smooth images (>= {cal.dense:.3f})"
        text = (f"near duplicates ({how.get(cal.method, cal.method)}): embedding distance <= {cal.strict:.4g}, or "
                f"<= {cal.loose:.4g} confirmed by thumbnails (>= {cal.thumb:.3f}){geometry} or perceptual hashes")
    if cal.recall:
        recall = ", ".join(f"{t} {r:.0%}" for t, r in cal.recall)
        text += f"; expected recall on {cal.n_copies} known copies: {recall}"
    if cal.false_pair_rate is not None:
        text += f"; estimated false-pair rate {cal.false_pair_rate:.2%} of images"
    if d.expected_near_precision is not None:
        text += f"; images in near clusters expected right: {d.expected_near_precision:.0%} (est.)"
    if d.n_rejected_candidates or d.n_split_links:
        text += (f"; {d.n_rejected_candidates} candidate pairs unconfirmed, {d.n_split_links} links cut so that no "
                 "cluster chains different pictures")
    return text


def text_summary(result: AuditResult, *, width: int = 78) -> str:
    """Summarise ``result`` in at most ~25 lines."""
    c = result.counts()
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
        if emb.precision == "bf16" and emb.bf16_drift is not None:
            lines.append(f"  precision bf16 (max cosine drift from fp32 {emb.bf16_drift:.1e})")
    nb = result.neighbors
    if nb is not None:
        how = (f"updated: {nb.n_new} new, {nb.n_recomputed} re-searched, {nb.n_reused} reused"
               if nb.mode == "updated" else nb.mode)
        lines.append(f"k-NN graph     {nb.method}, k={nb.k}, {nb.n_rows} rows ({how}, {nb.seconds:.1f} s)")
    lines.append(f"file problems  {c['file_problems']}")
    problems = result.integrity.problems if result.integrity else ()
    for p in problems[:MAX_PROBLEMS_LISTED]:
        lines += textwrap.wrap(f"{p.kind}: {_t(p.filepath or '(annotations)')}: {_t(p.message)}", width=width,
                               initial_indent="  - ", subsequent_indent="    ", break_on_hyphens=False,
                               break_long_words=False)  # a long path stays whole, so it can be copied
    if len(problems) > MAX_PROBLEMS_LISTED:
        lines.append(f"  ... and {len(problems) - MAX_PROBLEMS_LISTED} more (see --json or --report)")
    if result.duplicates:
        d = result.duplicates
        n_exact = sum(cl.kind == "exact" for cl in d.clusters)
        lines.append(f"duplicates     {c['duplicates']} clusters ({n_exact} exact, {c['duplicates'] - n_exact} near; "
                     f"{d.n_redundant} redundant samples; threshold {d.near_threshold:.4g})")
        lines += textwrap.wrap(near_duplicates_text(d), width=width, initial_indent=" " * 15,
                               subsequent_indent=" " * 15)
    if result.leakage:
        lines.append(f"leaks          {c['leaks']} cross-split pairs ({result.leakage.n_label_conflicts} with "
                     "conflicting labels)")
    if result.label_issues:
        li = result.label_issues
        acc = f", out-of-fold accuracy {li.cv_accuracy:.1%}" if li.cv_accuracy is not None else ""
        lines.append(f"label issues   {c['label_issues']} of {len(li.sample_ids)} ({li.issue_rate:.1%}{acc})")
        lines += textwrap.wrap(label_tiers_text(li), width=width, initial_indent=" " * 15,
                               subsequent_indent=" " * 15)
    if result.balance and result.balance.imbalance_ratio is not None:
        b = result.balance
        verdict = "ok" if b.meets_ratio else f"below {b.min_ratio:.0%}: {_t(', '.join(b.below_ratio))}"
        lines.append(f"balance        smallest/largest {b.imbalance_ratio:.2f} on {b.basis} ({verdict})")
        weak = [r.label for r in b.readiness if r.level == "below minimum"]
        if weak:
            lines.append(f"               below the {b.thresholds['minimum']}-{b.unit} minimum: "
                         f"{_t(', '.join(weak[:6]))}{' ...' if len(weak) > 6 else ''}")
    if result.bias:
        for s in result.bias.split_shifts[:2]:
            lines.append(f"split shift    {_t(s.split_a)} vs {_t(s.split_b)}: JS divergence {s.js_divergence:.3f}, "
                         f"Cramér's V {s.cramers_v:.2f}")
        strong = [a for a in result.bias.attributes if a.strength in ("strong", "moderate")]
        for a in strong[:2]:
            lines.append(f"bias           labels vs {_t(a.attribute)}: Cramér's V {a.cramers_v:.2f} ({a.strength})")
    for chk in result.checks:
        if chk.state != "ran":
            lines += textwrap.wrap(f"{chk.name}: {_t(chk.reason)}", width=width, initial_indent=f"{chk.state:<15}",
                                   subsequent_indent=" " * 15, break_on_hyphens=False)
    lines.append(rule)
    return "\n".join(lines)
