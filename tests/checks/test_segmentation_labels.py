"""``object_labels`` on semantic segmentation masks: cleanlab's ``segmentation`` module on a real FiftyOne
dataset whose one image has a car painted as road."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.checks.segmentation_fixtures import BAD, planted_segmentation
from workbench.checks.segmentation_scores import (
    SegmentationThresholds,
    find_segmentation_label_issues,
)
from workbench.results.object_labels import ObjectLabelIssuesResult
from workbench.results.serialize import from_jsonable, to_jsonable


@pytest.mark.parametrize("layout", ["KHW", "HWK"])
def test_the_mislabelled_region_is_found_with_its_class_pair_and_the_lowest_score(tmp_path: Path,
                                                                                   unique_name: str, layout):
    import workbench
    from workbench.render.html_report import render_html
    from workbench.render.json_export import to_export_dict

    planted = planted_segmentation(tmp_path / "seg", unique_name, layout=layout)
    cfg = workbench.AuditConfig(embedder="none", predictions=str(planted.probs))
    result = workbench.run_audit(planted.dataset, cfg, progress=False, label_field="ground_truth")
    r = result.findings["object_labels"]
    assert r.method == "segmentation" and r.n_images == 6
    # cleanlab estimates how many pixels are wrong from the confident joint and flags that many, so a part
    # of the 64 painted pixels; every flagged pixel of the dataset is road -> car, all of them in the bad image.
    [issue] = r.issues
    assert (Path(issue.filepath).stem, issue.label, issue.suggested_label) == (BAD, "road", "car")
    n = issue.pixels
    assert 16 <= n <= 64
    scores = {Path(i.filepath).stem: i.score for i in r.images}
    assert min(scores, key=scores.get) == BAD
    assert [Path(i.filepath).stem for i in r.images if i.flagged] == [BAD]
    bad = next(i for i in r.images if Path(i.filepath).stem == BAD)
    assert bad.flagged_share == pytest.approx(n / 1024)
    assert r.facts["pixel_issues_by_class"] == {"road": {"car": n}} and r.facts["pixels_flagged"] == n
    assert r.facts["grid"] == "native 32x32"
    doc = to_export_dict(result)["object_label_issues"]
    assert doc["issues"][0] | {"score": None} == {
        "path": str(planted.root / "images" / f"{BAD}.png"), "object_id": None, "label": "road", "box": None,
        "kind": "swapped", "score": None, "suggested_label": "car", "pixels": n, "pixel_share": n / 1024,
        "mask": {"box": list(issue.mask.box), "grid": issue.mask.to_list()}}
    assert doc["images"][0]["flagged_share"] == pytest.approx(n / 1024)
    frame = r.to_frame()
    assert list(frame["pixels"]) == [n] and bool(frame["is_swapped_issue"].iloc[0])
    assert "1 object label issues in 1 of 6 images (segmentation)" in r.summary()
    assert from_jsonable(ObjectLabelIssuesResult, json.loads(json.dumps(to_jsonable(r)))) == r
    html = render_html(result)
    assert 'id="object-labels"' in html and f"{BAD}.png" in html and "Flagged pixels (share)" in html
    assert "class regions" in html and "working grid native 32x32" in html


def test_the_write_back_scores_and_tags_the_images(tmp_path: Path, unique_name: str):
    import workbench

    planted = planted_segmentation(tmp_path / "seg", unique_name)
    ds = planted.dataset
    workbench.audit(ds, workbench.AuditConfig(embedder="none", predictions=str(planted.probs)))
    scores = dict(zip((Path(p).stem for p in ds.values("filepath")), ds.values("wb_object_label_score")))
    assert min(scores, key=scores.get) == BAD and all(v is not None for v in scores.values())
    assert [Path(s.filepath).stem for s in ds.match_tags("wb:object_label_issue")] == [BAD]
    assert Path(ds.load_saved_view("wb-object-label-issue-images").first().filepath).stem == BAD


def test_without_predictions_the_check_is_skipped_with_the_reason(tmp_path: Path, unique_name: str):
    import workbench

    planted = planted_segmentation(tmp_path / "seg", unique_name)
    result = workbench.run_audit(planted.dataset, workbench.AuditConfig(embedder="none"), progress=False,
                                 label_field="ground_truth")
    status = result.check("object_labels")
    assert status.state == "skipped" and "per-pixel probabilities (--predictions: a folder" in status.reason


def test_clean_masks_give_no_issue_and_the_share_threshold_cuts():
    """Pure: agreeing probabilities flag nothing; a 16-pixel disagreement is an issue only above ``min_share``."""
    rng = np.random.default_rng(1)
    labels = np.zeros((5, 16, 16), dtype=int)
    labels[:, 8:] = 1
    probs = np.where(np.eye(2, dtype=bool)[labels].transpose(0, 3, 1, 2), 0.9, 0.1)
    probs = probs + rng.uniform(-0.05, 0.05, (5, 1, 16, 16)) * np.array([1, -1])[None, :, None, None]
    clean = find_segmentation_label_issues(list("abcde"), list("abcde"), labels, probs, ["bg", "road"])
    assert clean.issues == () and not any(i.flagged for i in clean.images)
    labels[3, 0:4, 0:4] = 1  # sixteen pixels of background painted as road
    found = find_segmentation_label_issues(list("abcde"), list("abcde"), labels, probs, ["bg", "road"],
                                           thresholds=SegmentationThresholds(min_share=0.01))
    [issue] = found.issues
    assert (issue.sample_id, issue.label, issue.suggested_label) == ("d", "road", "bg") and 0 < issue.pixels <= 16
    above = SegmentationThresholds(min_share=issue.pixel_share + 1e-6)
    cut = find_segmentation_label_issues(list("abcde"), list("abcde"), labels, probs, ["bg", "road"], thresholds=above)
    assert cut.issues == () and cut.images[3].flagged_share == issue.pixel_share  # still measured, not an issue
