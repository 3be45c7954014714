"""Object-level facts of detection datasets: flags per box, per-class box statistics, negatives."""

import json
from pathlib import Path

import pytest

from workbench.checks.box_match import iou
from workbench.checks.objects import ObjectsResult, find_object_issues
from workbench.results.serialize import from_jsonable, to_jsonable


def test_each_kind_of_bad_box_is_flagged_and_good_ones_are_not():
    boxes = [[(0.1, 0.1, 0.4, 0.4), (0.1, 0.1, 0.4, 0.39), (0.6, 0.6, 0.3, 0.3)],  # a repeated cat, a dog
             [(0.5, 0.5, 0.01, 0.5)],  # 1 px wide at 100 px: tiny
             [(0.8, 0.2, 0.4, 0.2), (0.2, 0.2, 0.0, 0.3), None],  # past the right edge; no width; no box
             []]  # a negative image
    labels = [["cat", "cat", "dog"], ["cat"], ["dog", "dog", "cat"], []]
    r = find_object_issues(["a", "b", "c", "d"], ["/a", "/b", "/c", "/d"], labels, boxes, [(100, 100)] * 4,
                           object_ids=[["o1", "o2", "o3"], ["o4"], ["o5", "o6", "o7"], []])
    kinds = {(i.sample_id, i.object_id): i.kinds for i in r.issues}
    assert kinds == {("a", "o2"): ("duplicate",), ("b", "o4"): ("tiny",), ("c", "o5"): ("outside",),
                     ("c", "o6"): ("degenerate",), ("c", "o7"): ("degenerate",)}
    assert r.n_objects == 7 and r.n_negative == 1 and r.negative_share == 0.25
    assert r.cooccurrence == (("cat", "dog", 2),)
    cat = next(c for c in r.classes if c.label == "cat")
    assert cat.n_instances == 3 and cat.n_images == 3 and cat.n_tiny == 1  # the degenerate cat is not measured
    assert cat.size_shares == (0.3333, 0.6667, 0.0)  # 7 px (tiny) small; the two 40 px boxes medium
    assert r.summary().splitlines() == ["5 of 7 objects flagged: 2 degenerate, 1 outside, 1 tiny, 1 duplicate",
                                        "negative images (no object): 25.0%"]


def test_different_classes_may_overlap_and_thresholds_are_options():
    same = [[(0.1, 0.1, 0.4, 0.4), (0.1, 0.1, 0.4, 0.4)]]
    assert find_object_issues(["a"], ["/a"], [["cat", "dog"]], same, [(64, 64)]).issues == ()  # a cat on a dog
    assert len(find_object_issues(["a"], ["/a"], [["cat", "cat"]], same, [(64, 64)]).issues) == 1
    small = [[(0.0, 0.0, 0.1, 0.1)]]  # 6.4 px at 64 px
    assert find_object_issues(["a"], ["/a"], [["cat"]], small, [(64, 64)]).issues == ()
    assert find_object_issues(["a"], ["/a"], [["cat"]], small, [(64, 64)], min_box_side=8).issues[0].kinds == ("tiny",)
    unknown_size = find_object_issues(["a"], ["/a"], [["cat"]], small, [(None, None)], min_box_side=8)
    assert unknown_size.issues == ()  # no pixel size: not judged tiny
    assert iou((0, 0, 1, 1), (2, 2, 1, 1)) == 0.0


def test_no_negatives_is_said_and_the_result_round_trips():
    r = find_object_issues(["a"], ["/a"], [["cat"]], [[(0.1, 0.1, 0.5, 0.5)]], [(50, 50)])
    assert "no negative images" in r.summary()
    data = json.loads(json.dumps(to_jsonable(r), allow_nan=False))
    assert from_jsonable(ObjectsResult, data) == r
    assert json.loads(json.dumps(r.to_export()))["objects"]["classes"]["cat"]["instances"] == 1


def test_the_audit_of_a_detection_dataset_flags_the_boxes_everywhere(tmp_path: Path, unique_name: str):
    """A FiftyOne detection dataset (real database, real files): the flagged boxes reach the JSON, the
    summary, the gate, the report and the App; a classification dataset skips the check with the reason."""
    import fiftyone as fo

    import workbench
    from tests.conftest import write_image
    from workbench.gates import evaluate_gates, parse_gates
    from workbench.render.html_report import render_html
    from workbench.render.json_export import to_export_dict
    from workbench.render.summary import text_summary

    boxes = {"a": [("cat", [0.1, 0.1, 0.4, 0.4]), ("cat", [0.1, 0.1, 0.4, 0.4]), ("dog", [0.5, 0.5, 0.3, 0.3])],
             "b": [("cat", [0.5, 0.5, 0.02, 0.3])], "c": [("dog", [0.8, 0.2, 0.4, 0.2])], "d": []}
    ds = fo.Dataset(unique_name)
    for n, (name, objects) in enumerate(boxes.items()):
        path = write_image(tmp_path / "images" / f"{name}.png", n, size=64)
        ds.add_sample(fo.Sample(filepath=str(path), ground_truth=fo.Detections(detections=[
            fo.Detection(label=lab, bounding_box=box) for lab, box in objects])))
    ds.info["workbench"] = {"source": str(tmp_path / "images")}
    ds.save()
    result = workbench.audit(ds, workbench.AuditConfig(embedder="none"))
    objects = result.findings["objects"]
    assert {(Path(i.filepath).stem, i.kinds) for i in objects.issues} == {("a", ("duplicate",)), ("b", ("tiny",)),
                                                                         ("c", ("outside",))}
    assert result.counts()["object_issues"] == 3 and to_export_dict(result)["objects"]["negative_share"] == 0.25
    assert "objects        3 of 5 objects flagged" in text_summary(result)
    assert evaluate_gates(result, parse_gates("object-issues>50%"))[0].message.startswith("object-issues>50%: 3")
    html = render_html(result)
    assert 'id="objects"' in html and "<svg" in html and "negative images" in html
    assert "more classes not shown" not in html  # fewer classes than rows shown: no negative "more" line
    assert sorted(Path(s.filepath).stem for s in ds.load_saved_view("wb-object-issues")) == ["a", "b", "c"]
    assert ds.match_tags("wb:object_issue").first()["wb_object_issues"]
    # Object level: the flagged boxes carry the attribute and label tag; the patches view has one tile each.
    flagged = {(lab, kind) for lab, kind in zip(*ds.values(["ground_truth.detections.label",
                                                           "ground_truth.detections.wb_object_issue"], unwind=True))
               if kind}
    assert flagged == {("cat", "duplicate"), ("cat", "tiny"), ("dog", "outside")}
    assert ds.count_label_tags() == {"wb:object_issue": 3}
    patches = ds.load_saved_view("wb-object-issues-patches")
    assert len(patches) == 3 and set(patches.values("ground_truth.label")) == {"cat", "dog"}
    # Fixed in the data and audited again: the attribute, tag and patches are gone; the user's own tag stays.
    sample = ds.match(fo.ViewField("filepath").ends_with("b.png")).first()
    sample.ground_truth.detections[0].bounding_box = [0.5, 0.5, 0.2, 0.3]
    sample.ground_truth.detections[0].tags.append("checked-by-ana")
    sample.save()
    workbench.audit(ds, workbench.AuditConfig(embedder="none"))
    assert ds.count_label_tags() == {"wb:object_issue": 2, "checked-by-ana": 1}
    assert len(ds.load_saved_view("wb-object-issues-patches")) == 2
    assert sum(v is not None for v in ds.values("ground_truth.detections.wb_object_issue", unwind=True)) == 2

    classified = fo.Dataset(f"{unique_name}-cls")
    try:
        classified.add_sample(fo.Sample(filepath=str(tmp_path / "images" / "a.png"),
                                        ground_truth=fo.Classification(label="cat")))
        skipped = workbench.run_audit(classified, workbench.AuditConfig(embedder="none"), progress=False)
        assert skipped.check("objects").state == "skipped" and "Detections" in skipped.check("objects").reason
        assert skipped.counts()["object_issues"] is None
    finally:
        classified.delete()


@pytest.mark.parametrize("options, phrase", [({"min_box_side": -1}, "at least 0"), ({"duplicate_iou": 0}, "above 0"),
                                             ({"duplicate_iou": "high"}, "is not a number")])
def test_bad_options_are_refused_before_any_work(options, phrase):
    from workbench.config import AuditConfig
    from workbench.errors import CheckConfigError

    with pytest.raises(CheckConfigError, match=phrase):
        AuditConfig(check_options={"objects": options})
