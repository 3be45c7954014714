"""Report size at 10,000 samples, and review marks shown in the report."""

import dataclasses
from pathlib import Path

from tests.render.test_html_report import _png, make_result
from workbench.render.html_report import render_html
from workbench.results import (AttributeAssociation, BiasResult, DuplicateCluster, DuplicatesResult, LabelIssue,
                               LabelIssuesResult, LeakageResult, LeakPair)

N = 10_000


def _ten_thousand(root: Path):
    base = make_result(root / "base")
    files = [_png(root / "img" / f"{i:05d}.png", i, size=(320, 240)) for i in range(600)]
    fp = lambda i: files[i % len(files)]  # noqa: E731
    classes = tuple(f"class_{k}" for k in range(10))
    issues = tuple(LabelIssue(f"s{i}", fp(i), "train", classes[i % 10], classes[(i + 1) % 10], i / 1300, 0.8)
                   for i in range(1300))
    ids = tuple(f"s{i}" for i in range(N))
    label_issues = LabelIssuesResult(method="cv", classes=classes, issues=issues, sample_ids=ids,
                                     scores=tuple(0.5 for _ in ids), suggested=tuple(classes[i % 10] for i in range(N)),
                                     per_class=base.label_issues.per_class)
    clusters = tuple(DuplicateCluster(c, "near", tuple(f"s{c * 3 + j}" for j in range(3)),
                                      tuple(fp(c * 3 + j) for j in range(3)), ("train", "train", "test"),
                                      ("class_0",) * 3, 0.03) for c in range(400))
    pairs = tuple(LeakPair(f"s{i}", f"s{i + 1}", fp(i), fp(i + 1), "train", "test", "class_1", "class_1", "exact",
                           0.0, i) for i in range(300))
    attrs = tuple(AttributeAssociation(f"attr{a}", 20, 0.1, 5.0, 0.5,
                                       {f"level{lv}": {c: 50 for c in classes} for lv in range(20)}) for a in range(8))
    return base.replace(n_samples=N, classes=classes, label_issues=label_issues,
                               duplicates=DuplicatesResult(0.06, clusters, n_near_pairs=800),
                               leakage=LeakageResult(pairs, 300), bias=BiasResult(attributes=attrs),
                               reviews={"s0": "confirmed", "s1": "not_error"})


def test_ten_thousand_sample_report_is_bounded(tmp_path):
    result = _ten_thousand(tmp_path)
    path = tmp_path / "big.html"
    text = render_html(result, path)
    size = path.stat().st_size
    assert size < 25 * 1024 * 1024, f"{size / 1e6:.1f} MB"
    assert text.count('<img') <= 300  # plotly.js itself contains two 'src="data:image' strings
    assert "1,100 more label issues not shown" in text


def test_reviews_shown(tmp_path):
    result = _ten_thousand(tmp_path)
    text = render_html(result)
    assert "reviewed: confirmed" in text and "reviewed: not an error" in text
    assert "<b>1</b> confirmed, <b>1</b> not an error" in text
    plain = render_html(dataclasses.replace(result, reviews={}))
    assert "reviewed: confirmed" not in plain
