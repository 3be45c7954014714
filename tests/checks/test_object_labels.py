"""Object-level label issues from a detector's predictions: a real COCO detection dataset in FiftyOne with a
swapped class, a shifted box and an overlooked object planted, predictions as a field and as COCO results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.checks.detection_fixtures import add_predictions_field, planted_coco
from workbench.checks.object_scores import ObjectScoreThresholds, find_object_label_issues
from workbench.results.object_labels import ObjectLabelIssuesResult
from workbench.results.serialize import from_jsonable, to_jsonable

PLANTED = {("img1", "swapped", "dog", "cat"), ("img2", "badly_located", "cat", None),
           ("img3", "overlooked", None, "bird")}


def _found(result: ObjectLabelIssuesResult) -> set[tuple]:
    return {(Path(i.filepath).stem, i.kind, i.label, i.suggested_label) for i in result.issues}


def _pure_inputs():
    """Two images in plain Python: a cat annotated dog and a shifted cat, plus clean boxes."""
    labels = [["dog", "dog"], ["cat", "dog"], ["cat", "dog"]]
    boxes = [[(0.1, 0.1, 0.3, 0.3), (0.55, 0.55, 0.35, 0.35)], [(0.22, 0.1, 0.3, 0.3), (0.55, 0.55, 0.35, 0.35)],
             [(0.1, 0.1, 0.3, 0.3), None]]
    preds = [[("cat", (0.1, 0.1, 0.3, 0.31), 0.99), ("dog", (0.55, 0.55, 0.35, 0.35), 0.98)],
             [("cat", (0.1, 0.1, 0.3, 0.3), 0.99), ("dog", (0.55, 0.56, 0.35, 0.35), 0.98)],
             [("cat", (0.1, 0.1, 0.3, 0.3), 0.99), ("bird", (0.6, 0.1, 0.25, 0.25), 0.99),
              ("dog", (0.55, 0.55, 0.35, 0.35), 0.4)]]
    return (["a", "b", "c"], ["/a.png", "/b.png", "/c.png"], labels, boxes, [["a1", "a2"], ["b1", "b2"], ["c1", "c2"]],
            [(100, 100)] * 3, [[p[0] for p in ps] for ps in preds], [[p[1] for p in ps] for ps in preds],
            [[p[2] for p in ps] for ps in preds])


def test_each_planted_kind_is_found_with_its_suggestion_and_clean_boxes_are_not():
    r = find_object_label_issues(*_pure_inputs())
    assert {(i.sample_id, i.object_id, i.kind, i.suggested_label) for i in r.issues} == {
        ("a", "a1", "swapped", "cat"), ("b", "b1", "badly_located", None), ("c", None, "overlooked", "bird")}
    assert r.n_objects == 5 and r.n_images == 3  # the None box is left out
    assert all(0 <= i.score <= 0.5 for i in r.issues) and r.counts() == {"swapped": 1, "badly_located": 1,
                                                                         "overlooked": 1}
    overlooked = next(i for i in r.issues if i.kind == "overlooked")
    assert overlooked.box == (0.6, 0.1, 0.25, 0.25) and overlooked.label is None
    scores = {i.sample_id: i.score for i in r.images}
    assert all(0 <= s <= 1 for s in scores.values())


def test_thresholds_decide_what_is_flagged():
    strict = find_object_label_issues(*_pure_inputs(), thresholds=ObjectScoreThresholds(
        swapped=0.0, badly_located=0.0, overlooked=0.0))
    assert strict.issues == ()
    unsure = find_object_label_issues(*_pure_inputs(), thresholds=ObjectScoreThresholds(confident=0.999))
    assert {i.kind for i in unsure.issues} == {"badly_located"}  # no prediction is sure enough to swap or add


def test_the_confidence_level_is_calibrated_on_the_detectors_own_scores():
    """A detector sure of its right answers at 0.6-0.8 never reaches cleanlab's 0.95: calibrated on the 30
    predictions that agree with a box, its level is their 10th percentile, and the swap it sees at 0.75 is found."""
    import random

    rng = random.Random(0)
    box, other = (0.1, 0.1, 0.3, 0.3), (0.55, 0.55, 0.3, 0.3)
    n = 31  # image 0: a dog annotated cat; images 1..30: a cat the detector agrees with
    args = ([f"s{i}" for i in range(n)], [f"/{i}.png" for i in range(n)], [["cat"]] * n, [[box]] * n,
            [[f"o{i}"] for i in range(n)], [(100, 100)] * n,
            [["dog", "cat"]] + [["cat"]] * (n - 1), [[box, other]] + [[box]] * (n - 1),
            [[0.75, 0.3]] + [[round(rng.uniform(0.6, 0.8), 3)] for _ in range(n - 1)])
    calibrated = find_object_label_issues(*args)
    agreeing = sorted(args[-1][i][0] for i in range(1, n))
    assert 0.6 <= calibrated.thresholds["confident"] <= agreeing[4]  # the 10th percentile of the 30
    assert "30 predictions" in calibrated.facts["confident_from"]
    assert [(i.sample_id, i.kind, i.suggested_label) for i in calibrated.issues] == [("s0", "swapped", "dog")]
    fixed = find_object_label_issues(*args, thresholds=ObjectScoreThresholds(confident=0.95))
    assert fixed.issues == () and fixed.facts["confident_from"] == "set by the user"


def test_negative_images_unpredicted_images_and_unpredicted_classes():
    """A confident box on an image with no annotation is overlooked; an image the detector left empty and a
    class it never predicts give no evidence, so nothing is flagged there."""
    r = find_object_label_issues(
        ["a", "b", "c"], ["/a", "/b", "/c"], [[], ["cat"], ["cat", "bird"]],
        [[], [(0.1, 0.1, 0.3, 0.3)], [(0.1, 0.1, 0.3, 0.3), (0.6, 0.6, 0.2, 0.2)]], [[], ["b1"], ["c1", "c2"]],
        [(100, 100)] * 3, [["dog"], [], ["cat"]], [[(0.5, 0.5, 0.2, 0.2)], [], [(0.1, 0.1, 0.3, 0.3)]],
        [[0.99], [], [0.98]])
    assert [(i.sample_id, i.kind, i.suggested_label) for i in r.issues] == [("a", "overlooked", "dog")]
    assert [(i.sample_id, i.flagged) for i in r.images] == [("a", True), ("b", False), ("c", False)]
    assert {i.sample_id: i.score for i in r.images}["b"] == 1.0


def test_the_result_round_trips_through_json():
    r = find_object_label_issues(*_pure_inputs())
    data = json.loads(json.dumps(to_jsonable(r), allow_nan=False))
    assert from_jsonable(ObjectLabelIssuesResult, data) == r
    export = json.loads(json.dumps(r.to_export(), allow_nan=False))["object_label_issues"]
    assert export["counts"] == {"swapped": 1, "badly_located": 1, "overlooked": 1}
    assert export["images"][0]["flagged"] and {e["kind"] for e in export["issues"]} == set(r.counts())
    frame = r.to_frame()
    assert frame["is_swapped_issue"].sum() == 1 and frame["object_label_score"].is_monotonic_increasing


@pytest.fixture
def planted(tmp_path: Path, unique_name: str):
    import workbench

    root = tmp_path / "coco"
    planted = planted_coco(root)
    dataset = workbench.load(root, name=unique_name)
    yield planted, dataset
    dataset.delete()


def _audit(dataset, predictions: str, **options):
    import workbench

    cfg = workbench.AuditConfig(embedder="none", predictions=predictions,
                                check_options={"object_labels": options} if options else {})
    return workbench.run_audit(dataset, cfg, progress=False)


@pytest.mark.parametrize("form", ["field", "results by image id", "results by file name"])
def test_the_audit_flags_the_planted_objects_from_each_predictions_form(planted, form):
    """A real FiftyOne dataset loaded from COCO: each planted error is found with its kind and suggested class,
    no clean object is, whichever way the predictions come."""
    data, dataset = planted
    if form == "field":
        add_predictions_field(dataset, data)
        spec = "detector"
    else:
        entries = data.results
        if form == "results by file name":
            entries = [{"file_name": f"data/img{e['image_id'] - 1}.png",
                        **{k: v for k, v in e.items() if k != "image_id"}} for e in entries]
        spec = str(data.root / "predictions.json")
        Path(spec).write_text(json.dumps(entries))
    result = _audit(dataset, spec)
    assert result.check("object_labels").state == "ran", result.check("object_labels").reason
    found = result.findings["object_labels"]
    assert _found(found) == PLANTED
    assert found.n_images == 8 and found.n_objects == 16 and found.method == "predictions"
    ids = set(dataset.values("ground_truth.detections.id", unwind=True))
    assert all(i.object_id in ids for i in found.issues if i.kind != "overlooked")
    assert {Path(dataset[s].filepath).stem for s in found.flagged_images} >= {"img1", "img2", "img3"}


def test_findings_reach_the_json_summary_gate_and_report(planted):
    from workbench.gates import evaluate_gates, parse_gates
    from workbench.render.html_report import render_html
    from workbench.render.json_export import to_export_dict
    from workbench.render.summary import text_summary

    data, dataset = planted
    add_predictions_field(dataset, data)
    result = _audit(dataset, "detector")
    export = json.loads(json.dumps(to_export_dict(result), allow_nan=False))
    assert export["object_label_issues"]["counts"] == {"swapped": 1, "badly_located": 1, "overlooked": 1}
    assert result.counts()["object_label_issues"] == 3
    assert "object labels  3 object label issues in 3 of 8 images (predictions)" in text_summary(result)
    gate = evaluate_gates(result, parse_gates("object-label-issues>2"))[0]
    assert gate.failed and gate.message.startswith("object-label-issues>2: 3")
    html = render_html(result)
    assert 'id="object-labels"' in html and "badly located" in html and "overlooked" in html
    assert "<td>nan</td>" not in html  # an overlooked object has no given class: a dash
    section = html[html.index('id="object-labels"'):]
    section = section[:section.index("</section>")]
    for kind in ("swapped", "badly_located", "overlooked"):  # each flagged box is drawn over its thumbnail
        assert f": {kind}</title></rect>" in section, kind
    assert 'stroke-dasharray="3 2"><title>bird: overlooked' in section  # dashed, named by its suggested class

    from workbench.results import AuditResult

    again = AuditResult.from_dict(json.loads(json.dumps(to_jsonable(result))))
    assert again.findings["object_labels"] == result.findings["object_labels"]


def test_without_predictions_or_a_model_the_check_is_skipped_with_the_reason(planted):
    """No predictions and no embedder (so no crops to judge): skipped, saying what would make it run."""
    import workbench

    _, dataset = planted
    result = workbench.run_audit(dataset, workbench.AuditConfig(embedder="none"), progress=False)
    status = result.check("object_labels")
    assert status.state == "skipped" and "--predictions" in status.reason and "--embedder none" in status.reason
    assert result.counts()["object_label_issues"] is None


def test_crop_options_are_checked_like_the_others():
    """The crops path's options go through ``--check-option object_labels.crops_*``, typed and range-checked."""
    from workbench.checks.registry import get_check, make_options
    from workbench.errors import CheckConfigError

    spec = get_check("object_labels")
    assert make_options(spec, {"crops_k": 5, "crops_proposals": False}).crop_options().k == 5
    for bad, phrase in (({"crops_k": 0}, "crops_k must be"), ({"crops_padding": 2.0}, "crops_padding must be"),
                        ({"crops_proposals": "maybe"}, "is not")):
        with pytest.raises(CheckConfigError, match=phrase):
            make_options(spec, bad)


def test_the_write_back_marks_the_flagged_objects_and_adds_the_overlooked_ones(planted):
    """On the audited field's detections: the kind, score and suggestion; a label tag and a patches view; the
    overlooked bird as a detection in ``wb_overlooked``; the images tagged. A second audit with the fix clears them."""
    import fiftyone as fo

    import workbench

    data, dataset = planted
    add_predictions_field(dataset, data)
    cfg = workbench.AuditConfig(embedder="none", predictions="detector")
    workbench.audit(dataset, cfg)
    rows = zip(*dataset.values(["filepath", "ground_truth.detections.label", "ground_truth.detections.wb_label_issue",
                                "ground_truth.detections.wb_suggested_label"]))
    marked = {(Path(fp).stem, lab, kind, sug) for fp, labs, kinds, sugs in rows
              for lab, kind, sug in zip(labs, kinds, sugs) if kind}
    assert marked == {("img1", "dog", "swapped", "cat"), ("img2", "cat", "badly_located", None)}
    assert dataset.count_label_tags() == {"wb:object-label-issue": 2}
    patches = dataset.load_saved_view("wb-object-label-issues")
    assert len(patches) == 2 and set(patches.values("ground_truth.label")) == {"dog", "cat"}
    bird = dataset.match(fo.ViewField("filepath").ends_with("img3.png")).first()["wb_overlooked"]
    assert [(d.label, [round(v, 3) for v in d.bounding_box]) for d in bird.detections] == [
        ("bird", [0.605, 0.1, 0.25, 0.26])]
    assert sorted(Path(s.filepath).stem for s in dataset.match_tags("wb:object_label_issue")) == ["img1", "img2",
                                                                                                   "img3"]
    # The swapped cat fixed by the annotator: its attribute and tag go, the others stay.
    sample = dataset.match(fo.ViewField("filepath").ends_with("img1.png")).first()
    next(d for d in sample.ground_truth.detections if d.bounding_box[0] < 0.5).label = "cat"
    sample.save()
    workbench.audit(dataset, cfg)
    assert dataset.count_label_tags() == {"wb:object-label-issue": 1}
    assert sorted(Path(s.filepath).stem for s in dataset.match_tags("wb:object_label_issue")) == ["img2", "img3"]


@pytest.mark.parametrize("options, phrase", [({"swapped_threshold": 1.5}, "between 0 and 1"),
                                             ({"confident": "sure"}, "is not a number")])
def test_bad_options_are_refused(options, phrase):
    from workbench.config import AuditConfig
    from workbench.errors import CheckConfigError

    with pytest.raises(CheckConfigError, match=phrase):
        AuditConfig(check_options={"object_labels": options})


def test_hostile_class_names_and_paths_are_escaped_in_the_report_and_panel(planted):
    """Dataset strings (classes, suggestions, paths) reach the report and the notebook tab escaped."""
    import dataclasses

    import workbench
    from tests.panels.test_panels import find, html_text
    from workbench.render.html_report import render_html

    data, dataset = planted
    add_predictions_field(dataset, data)
    result = _audit(dataset, "detector")
    found = result.findings["object_labels"]
    xss = '<img src=x onerror=alert(1)>'
    hostile = dataclasses.replace(found, issues=tuple(
        dataclasses.replace(i, label=xss, suggested_label="<script>alert(2)</script>",
                            filepath=i.filepath.replace("img", '"><svg onload=alert(3)>')) for i in found.issues))
    audit = result.replace(findings={**result.findings, "object_labels": hostile})
    html = render_html(audit)
    assert xss not in html and "<script>alert(2)" not in html and "<svg onload" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    tab = workbench.show(audit)
    seen = html_text(tab)
    assert xss not in seen and "<script>alert(2)" not in seen
    assert len(find(tab)) > 0 and "&lt;script&gt;alert(2)&lt;/script&gt;" in seen
    # the summary is plain text (the report and panels escape it); control characters would be shown escaped
    assert "swapped most: <img src=x onerror=alert(1)> -> <script>alert(2)</script> (1)" in hostile.summary()
