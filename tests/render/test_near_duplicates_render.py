"""How near duplicates were decided, and how far to trust them: JSON, summary, report, round trip."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from workbench.render.html_report import render_html
from workbench.render.json_export import to_export_dict
from workbench.render.summary import text_summary
from workbench.results import AuditResult, DuplicateLink, NearCalibration

from tests.render.test_html_report import as_schema_v1, make_result

XSS_NOTE = "<script>alert(9)</script>"


def _calibrated(root: Path) -> AuditResult:
    base = make_result(root, hostile=True)
    d = base.duplicates
    clusters = tuple(dataclasses.replace(c, links=(DuplicateLink(c.sample_ids[0], c.sample_ids[1], 0.08,
                                                                 "embedding+thumbnail"),))
                     for c in d.clusters)
    cal = NearCalibration(method="calibrated", strict=0.021, loose=0.17, thumb=0.775, phash_bits=2, pixels=0.953,
                          n_originals=48,
                          n_copies=336, n_negatives=1000, recall=(("resize", 1.0), ("rotate", 0.77)),
                          false_pair_rate=0.002, note=XSS_NOTE)
    d = dataclasses.replace(d, clusters=clusters, calibration=cal, n_near_pairs=20, n_rejected_candidates=7,
                            n_split_links=3)
    return base.replace(duplicates=d)


def test_expected_precision_follows_the_false_pair_rate(tmp_path: Path) -> None:
    d = _calibrated(tmp_path).duplicates
    in_near = sum(len(c.sample_ids) for c in d.clusters if c.kind == "near")
    assert in_near > 2
    # 0.2% of 1,000 images = 2 images expected to link to a different picture, among those in near clusters
    assert d.expected_near_precision == round(1 - 2 / in_near, 4)
    assert dataclasses.replace(d, calibration=None).expected_near_precision is None


def test_round_trip_and_older_json(tmp_path: Path) -> None:
    result = _calibrated(tmp_path)
    again = AuditResult.from_dict(json.loads(result.to_json()))
    assert again.duplicates == result.duplicates
    assert again.duplicates.calibration.rule().loose == 0.17
    doc = as_schema_v1(json.loads(make_result(tmp_path).to_json()))  # written by schema 1.0
    for key in ("calibration", "n_rejected_candidates", "n_split_links"):
        doc["duplicates"].pop(key)
    for c in doc["duplicates"]["clusters"]:
        c.pop("links")
    old = AuditResult.from_dict(doc)
    assert old.duplicates.calibration is None and old.duplicates.clusters[0].evidence == ()
    render_html(old)


def test_export_summary_and_report_state_the_rule(tmp_path: Path) -> None:
    result = _calibrated(tmp_path)
    doc = to_export_dict(result)
    near = doc["near_duplicates"]
    assert near["calibration"]["expected_recall"] == {"resize": 1.0, "rotate": 0.77}
    assert near["expected_precision"] == {"exact": 1.0, "near": result.duplicates.expected_near_precision}
    assert near["n_rejected_candidates"] == 7 and near["n_split_links"] == 3
    assert doc["duplicates"][0]["evidence"] == ["embedding+thumbnail"]
    assert doc["duplicates"][0]["links"][0]["evidence"] == "embedding+thumbnail"
    summary = " ".join(text_summary(result).split())  # the summary wraps at 78 columns
    assert "calibrated on this dataset" in summary and "rotate 77%" in summary
    assert "images in near clusters expected right" in summary and "thumbnails (>= 0.775)" in summary
    assert near["calibration"]["pixels_threshold"] == 0.953 and "registered pixels (>= 0.953)" in summary
    fixed = dataclasses.replace(result.duplicates, calibration=None)
    assert "not calibrated" in text_summary(result.replace(duplicates=fixed))
    user = dataclasses.replace(result.duplicates.calibration, method="user", thumb=1.01)
    one = text_summary(result.replace(duplicates=dataclasses.replace(result.duplicates, calibration=user)))
    assert "--near-threshold" in one and "1.01" not in one
    html = render_html(result)
    assert "Near-duplicate rule" in html and "Expected recall: rotate" in html and "embedding+thumbnail" in html
    assert "once registered by local features" in html and "0.95" in html
    assert "≤ 0.021</b>, or <b>≤ 0.17</b> with a second signal" in html
    assert XSS_NOTE not in html and "&lt;script&gt;alert(9)" in html
