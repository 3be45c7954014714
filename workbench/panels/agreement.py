"""The "Agreement" panel: the verdict, the annotator x annotator matrix, the per-annotator table and the
worst classes above the paged images where annotators differ (the generic findings table, with its
"Show in App" button). Every value from the dataset (annotator names, classes, paths) is escaped."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench.panels.markup import badge, heading, join, muted, table

if TYPE_CHECKING:
    from workbench.results import AuditResult

#: Verdict -> badge tone.
_TONES = {"meets target": "ok", "below target": "warn", "alarm": "bad"}


def agreement_tables(finding: Any) -> str:
    """The verdict line and the three tables of an :class:`~workbench.checks.agreement_result.AgreementResult`
    as (escaped) HTML.

    Example:
        >>> from workbench.checks.agreement_result import AgreementResult, AnnotatorAgreement
        >>> "&lt;b&gt;" in agreement_tables(AgreementResult("detection", ("<b>", "x"), 0,
        ...                                                 per_annotator=(AnnotatorAgreement("<b>", 1),)))
        True
    """
    from workbench.render.formatting import fmt_float as f3
    from workbench.render.formatting import fmt_int, fmt_pct

    cls = finding.kind == "classification"
    tone = _TONES.get(finding.verdict, "neutral")
    headline = (f"Krippendorff's alpha {f3(finding.krippendorff_alpha)}, Fleiss' kappa {f3(finding.fleiss_kappa)}"
                if cls else f"mean matched IoU {f3(finding.mean_iou)} (target {finding.target:g}, alarm "
                            f"{finding.alarm:g}), same class on matches {fmt_pct(finding.label_agreement)}")
    parts = [join([badge(finding.verdict or "no verdict", tone), " ", headline])]
    if cls:
        parts.append(table(["pair", "images", "observed agreement", "Cohen's kappa", "verdict"],
                           [(f"{p.a} · {p.b}", fmt_int(p.n_items), fmt_pct(p.observed), f3(p.kappa), p.verdict)
                            for p in finding.pairs], numeric=(1, 2, 3)))
        parts.append(table(["annotator", "labels", "label agreement", "agreement with consensus", "quality"],
                           [(a.name, fmt_int(a.n_labels), fmt_pct(a.label_agreement),
                             fmt_pct(a.agreement_with_consensus), f3(a.quality)) for a in finding.per_annotator],
                           numeric=(1, 2, 3, 4)))
    else:
        parts.append(table(["pair", "images", "mean IoU", "matched", "unmatched", "same class", "verdict"],
                           [(f"{p.a} · {p.b}", fmt_int(p.n_items), f3(p.mean_iou), fmt_int(p.n_matched),
                             f"{fmt_int(p.unmatched_a)} · {fmt_int(p.unmatched_b)}", fmt_pct(p.observed), p.verdict)
                            for p in finding.pairs], numeric=(1, 2, 3, 4, 5)))
        parts.append(table(["annotator", "objects", "mean IoU with the others", "unmatched share", "same class"],
                           [(a.name, fmt_int(a.n_labels), f3(a.mean_iou), fmt_pct(a.unmatched_share),
                             fmt_pct(a.label_agreement)) for a in finding.per_annotator], numeric=(1, 2, 3, 4)))
    if finding.classes:
        parts.append(table(["class (worst first)", "matched", "unmatched", "mean IoU", "same class", "verdict"],
                           [(c.label, fmt_int(c.n_matched), fmt_int(c.n_unmatched), f3(c.mean_iou),
                             fmt_pct(c.label_agreement), c.verdict) for c in finding.classes[:10]],
                           numeric=(1, 2, 3, 4), more=max(0, len(finding.classes) - 10), what="classes"))
    return join(parts)


def agreement_panel(result: AuditResult, *, check: str = "agreement", dataset: Any = None, session: Any = None) -> Any:
    """The agreement tab: :func:`agreement_tables` above the images where annotators differ.

    Example:
        >>> agreement_panel(result, session=session)  # doctest: +SKIP
    """
    import ipywidgets as w

    from workbench.panels.findings import findings_panel

    images = findings_panel(result, check=check, dataset=dataset, session=session)
    finding = result.findings.get(check)
    if finding is None:
        return images
    box = w.VBox([w.HTML(join([heading("Annotator agreement", 4), agreement_tables(finding),
                               muted("Images where annotators differ, worst first:")])), images])
    box.add_class("wb-agreement")
    return box
