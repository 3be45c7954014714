"""The label-error review queue and tier precision in the JSON (both), the summary and the HTML report."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from workbench.render.html_report import render_html
from workbench.render.json_export import to_export_dict
from workbench.render.summary import text_summary
from workbench.results import AuditResult, LabelIssue, TierPrecision

from tests.render.test_html_report import as_schema_v1, make_result

XSS_LABEL = "<img src=x onerror=alert(7)>"
XSS_METHOD = "</td><script>alert(8)</script>"


def _with_queue(root: Path) -> AuditResult:
    base = make_result(root, hostile=True)
    li = base.label_issues
    flagged = tuple(dataclasses.replace(i, review_rank=n + 1, review_score=0.01 * n, error_probability=0.8)
                    for n, i in enumerate(li.issues))
    extra = LabelIssue("s13", str(root / "img_13.png"), "train", XSS_LABEL, "cat", 0.4, 0.55, 10, 2, 7,
                       likely_error=False, review_rank=len(flagged) + 1, review_score=0.3, error_probability=0.35)
    li = dataclasses.replace(
        li, issues=flagged, review_queue=flagged + (extra,), review_ranking="neighbor_ensemble",
        review_budget=len(flagged) + 1, review_budget_source="--review-budget", estimated_n_issues=9,
        tiers=(TierPrecision("likely_errors", len(flagged), 0.8 * len(flagged), 0.8, precision_low=0.4,
                             precision_high=0.8),
               TierPrecision("review_queue", len(flagged) + 1, 0.8 * len(flagged) + 0.35, 0.7571, precision_low=0.375,
                             precision_high=0.9),
               TierPrecision("rest", 9, 0.09, 0.01)),
        precision_method=XSS_METHOD)
    return base.replace(label_issues=li)


def test_result_round_trips_through_json(tmp_path: Path) -> None:
    result = _with_queue(tmp_path)
    again = AuditResult.from_dict(json.loads(result.to_json()))
    assert again.label_issues == result.label_issues
    assert again.label_issues.review_queue[-1].likely_error is False
    assert again.label_issues.tier("review_queue").expected_precision == 0.7571
    assert again.label_issues.tier("review_queue").precision_low == 0.375


def test_older_json_without_the_queue_still_reads(tmp_path: Path) -> None:
    doc = as_schema_v1(json.loads(make_result(tmp_path).to_json()))  # written by schema 1.0
    for key in ("review_queue", "review_ranking", "review_budget", "review_budget_source", "estimated_n_issues",
                "tiers", "precision_method"):
        doc["label_issues"].pop(key)
    for issue in doc["label_issues"]["issues"]:
        for key in ("likely_error", "review_rank", "review_score", "error_probability"):
            issue.pop(key)
    old = AuditResult.from_dict(doc)
    assert old.label_issues.review_queue == () and old.label_issues.tiers == ()
    assert all(i.likely_error and i.error_probability is None for i in old.label_issues.issues)
    assert "review queue" not in text_summary(old)
    render_html(old)  # renders without the new sections


def test_export_states_the_tiers_and_the_queue(tmp_path: Path) -> None:
    doc = to_export_dict(_with_queue(tmp_path))
    review = doc["label_review"]
    assert review["ranking"] == "neighbor_ensemble" and review["budget"] == len(doc["label_review_queue"])
    assert review["tiers"]["likely_errors"]["expected_precision"] == 0.8
    assert review["tiers"]["likely_errors"]["precision_range"] == [0.4, 0.8]
    assert review["tiers"]["rest"]["precision_range"] == [0.01, 0.01]  # a result from before the range
    assert set(review["tiers"]) == {"likely_errors", "review_queue", "rest"}
    last = doc["label_review_queue"][-1]
    assert last["likely_error"] is False and last["error_probability"] == 0.35 and last["given_label"] == XSS_LABEL
    assert all(i["likely_error"] for i in doc["label_issues"])
    json.dumps(doc, allow_nan=False)


def test_summary_states_each_tiers_precision(tmp_path: Path) -> None:
    result = _with_queue(tmp_path)
    n = len(result.label_issues.issues)
    flat = " ".join(text_summary(result).split())
    assert f"likely errors {n} (est. 40%-80% real)" in flat
    assert f"review queue {n + 1} (est. 38%-90% real), by neighbor ensemble, your budget" in flat
    assert "rest 9 (est. 1% real)" in flat


def test_report_shows_the_queue_and_escapes_it(tmp_path: Path) -> None:
    text = render_html(_with_queue(tmp_path))
    assert "Review queue" in text and "Real errors in the tier (est. range)" in text
    assert "37.5% – 90.0%" in text and "40.0% – 80.0%" in text
    assert XSS_LABEL not in text and XSS_METHOD not in text
    assert "&lt;img src=x onerror=alert(7)&gt;" in text
    assert "&lt;/td&gt;&lt;script&gt;alert(8)&lt;/script&gt;" in text
