"""How far to trust each list, in the panels: duplicate and leak evidence, the label review queue and tier precision.

Synthetic results (the report tests' builders, with hostile strings); widgets are built and driven from Python.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from tests.panels.test_panels import elements, find, html_text
from tests.render.test_near_duplicates_render import _calibrated
from tests.render.test_review_queue_render import XSS_LABEL, XSS_METHOD, _with_queue
from workbench.results import AuditResult, DuplicateLink

XSS_EVIDENCE = "<script>alert(11)</script>"


def _escaped(raw: str) -> str:
    return raw.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _list_dropdown(panel):
    import ipywidgets as w

    found = [d for d in find(panel, w.Dropdown) if d.description == "List"]
    return found[0] if found else None


# --------------------------------------------------------------------------- duplicates and leaks


@pytest.fixture
def linked(tmp_path: Path) -> AuditResult:
    """Calibrated clusters linked by ``embedding+thumbnail`` (the last one also by a hostile kind), leaks with
    evidence."""
    result = _calibrated(tmp_path)
    d = result.duplicates
    last = d.clusters[-1]
    extra = DuplicateLink(last.sample_ids[1], last.sample_ids[2], 0.01, XSS_EVIDENCE)
    clusters = (*d.clusters[:-1], dataclasses.replace(last, links=(*last.links, extra)))
    pairs = tuple(dataclasses.replace(p, evidence=e) for p, e in zip(result.leakage.pairs,
                                                                     ("exact", "phash+embedding")))
    return result.replace(duplicates=dataclasses.replace(d, clusters=clusters),
                               leakage=dataclasses.replace(result.leakage, pairs=pairs))


def test_each_cluster_and_leak_pair_shows_its_evidence(linked: AuditResult) -> None:
    import ipywidgets as w

    from workbench.panels import duplicates_panel

    panel = duplicates_panel(linked, page_size=50)
    clusters = [html_text(c) for c in find(panel, css="wb-cluster")]
    assert len(clusters) == len(linked.duplicates.clusters)
    for text, cluster in zip(clusters, linked.duplicates.clusters):
        shown = re.findall(r">([^<>]+)</span>", text.split("evidence</span>", 1)[1])
        assert shown[:len(cluster.evidence)] == [_escaped(e) for e in cluster.evidence]
    assert XSS_EVIDENCE not in clusters[-1] and _escaped(XSS_EVIDENCE) in clusters[-1]
    pairs = [html_text(p) for p in find(panel, css="wb-leak-pair")]
    assert [re.search(r"evidence</span> <span[^>]*>([^<]+)</span>", p).group(1) for p in pairs] == [
        "exact", "phash+embedding"]
    assert all(tag != "script" for widget in find(panel, w.HTML) for tag, _ in elements(widget.value))


def test_summary_states_the_expected_near_precision(linked: AuditResult) -> None:
    from workbench.panels import duplicates_panel

    expected = linked.duplicates.expected_near_precision
    assert expected is not None
    text = html_text(duplicates_panel(linked))
    assert f"images in near clusters {expected:.0%}" in text and "exact copies 100%" in text
    uncalibrated = linked.replace(duplicates=dataclasses.replace(linked.duplicates, calibration=None))
    assert "Expected precision" not in html_text(duplicates_panel(uncalibrated))


def test_results_without_evidence_show_none(tmp_path: Path) -> None:
    """A result from before evidence was kept: no empty "evidence" lines."""
    from tests.render.test_html_report import make_result
    from workbench.panels import duplicates_panel

    panel = duplicates_panel(make_result(tmp_path))
    assert find(panel, css="wb-cluster") and find(panel, css="wb-leak-pair") and "evidence</span>" not in html_text(panel)


# --------------------------------------------------------------------------- label review queue and tiers


def test_review_queue_lists_rank_score_and_likely_errors(tmp_path: Path) -> None:
    from workbench.panels import label_issues_panel

    result = _with_queue(tmp_path)
    li = result.label_issues
    panel = label_issues_panel(result)
    choice = _list_dropdown(panel)
    assert choice.value == "issues" and [k for _, k in choice.options] == ["issues", "queue"]
    assert len(find(panel, css="wb-issue-row")) == len(li.issues)
    choice.value = "queue"
    rows = [html_text(r) for r in find(panel, css="wb-issue-row")]
    assert len(rows) == len(li.review_queue)
    ranks = [int(re.match(r"\d+", r).group()) for r in rows]
    assert ranks == [i.review_rank for i in li.review_queue] == sorted(ranks)
    assert [f"{i.review_score:.4f}" in r for i, r in zip(li.review_queue, rows)] == [True] * len(rows)
    assert [">likely error<" in r for r in rows] == [i.likely_error for i in li.review_queue]
    last = rows[-1]  # the one queued image cleanlab did not flag, with a hostile given label
    assert XSS_LABEL not in last and f"<b>{_escaped(XSS_LABEL)}</b> →" in last
    text = html_text(panel)
    assert f"Review queue: <b>{len(li.review_queue)}</b> samples ranked by neighbor ensemble" in text


def test_filters_apply_to_the_review_queue(tmp_path: Path) -> None:
    import ipywidgets as w

    from workbench.panels import label_issues_panel

    result = _with_queue(tmp_path)
    panel = label_issues_panel(result)
    _list_dropdown(panel).value = "queue"
    label = [d for d in find(panel, w.Dropdown) if d.description == "Given label"][0]
    label.value = XSS_LABEL  # only in the queue: the dropdown offers it all the same
    rows = find(panel, css="wb-issue-row")
    assert len(rows) == 1 and ">likely error<" not in html_text(rows[0])
    assert "1 match the filters" in html_text(panel)
    _list_dropdown(panel).value = "issues"
    assert not find(panel, css="wb-issue-row")


def test_tiers_show_expected_precision_escaped(tmp_path: Path) -> None:
    from workbench.panels import label_issues_panel

    text = html_text(label_issues_panel(_with_queue(tmp_path)))
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", text)
    assert cells == ["Likely errors (cleanlab&#x27;s flagged set)", "7", "5.60", "40.0% – 80.0%",
                     "Review queue", "8", "5.95", "37.5% – 90.0%",
                     "The rest (in neither)", "9", "0.09", "1.0%"]
    assert XSS_METHOD not in text and f"How sure: {_escaped(XSS_METHOD)}." in text


def test_a_result_without_the_queue_has_no_list_choice(tmp_path: Path) -> None:
    from tests.render.test_html_report import make_result
    from workbench.panels import label_issues_panel

    panel = label_issues_panel(make_result(tmp_path))
    assert _list_dropdown(panel) is None
    text = html_text(panel)
    assert "Review queue" not in text and "Real errors in the tier" not in text
