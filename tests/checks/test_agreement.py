"""Annotator agreement: hand-computed statistics, Hungarian matching, consensus, and the audit end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from workbench.checks.agreement_compute import classification_agreement, object_agreement, review_sample
from workbench.checks.agreement_objects import box_iou_matrix, consensus_objects, match_objects
from workbench.checks.agreement_result import AgreementResult
from workbench.checks.agreement_stats import cohen_kappa, fleiss_kappa, krippendorff_alpha, pair_matrix
from workbench.results.serialize import from_jsonable, to_jsonable

# Three annotators A, B, C on five images (C did not label image 5).
RATINGS = [("c", "c", "c"), ("c", "c", "d"), ("d", "d", "d"), ("c", "d", "d"), ("d", "d", None)]


def test_cohen_kappa_per_pair_by_hand_and_as_sklearn_computes_it():
    from sklearn.metrics import cohen_kappa_score

    # A-B on 5 images: A = c c d c d, B = c c d d d. p_o = 4/5; A: c 3, d 2; B: c 2, d 3;
    # p_e = (3*2 + 2*3) / 25 = 12/25; kappa = (4/5 - 12/25) / (1 - 12/25) = (8/25) / (13/25) = 8/13.
    # A-C on images 1-4: A = c c d c, C = c d d d. p_o = 2/4; A: c 3, d 1; C: c 1, d 3;
    # p_e = (3 + 3) / 16 = 3/8; kappa = (1/2 - 3/8) / (5/8) = 1/5.
    # B-C on images 1-4: B = c c d d, C = c d d d. p_o = 3/4; p_e = (2*1 + 2*3) / 16 = 1/2; kappa = 1/2.
    pairs = {(p.a, p.b): p for p in pair_matrix(RATINGS, ["A", "B", "C"])}
    expected = {("A", "B"): (5, 4 / 5, 8 / 13), ("A", "C"): (4, 1 / 2, 1 / 5), ("B", "C"): (4, 3 / 4, 1 / 2)}
    for (a, b), (n, observed, kappa) in expected.items():
        p = pairs[a, b]
        assert p.n_items == n and p.observed == pytest.approx(observed, abs=1e-6)
        assert p.kappa == pytest.approx(kappa, abs=1e-6)
        i, j = "ABC".index(a), "ABC".index(b)
        both = [(r[i], r[j]) for r in RATINGS if r[i] is not None and r[j] is not None]
        assert p.kappa == pytest.approx(cohen_kappa_score([x for x, _ in both], [y for _, y in both]), abs=1e-9)
    assert cohen_kappa(["c", "c"], ["c", "c"]) is None  # chance agreement 1: undefined, not a number


def test_fleiss_kappa_and_krippendorff_alpha_by_hand():
    # Fleiss on images 1-4 (all three rated), m = 3: P_i = (sum n_ij^2 - 3) / 6 = 1, 1/3, 1, 1/3 -> mean 2/3;
    # p_c = (3 + 2 + 0 + 1) / 12 = 1/2, p_d = 1/2 -> P_e = 1/2; kappa = (2/3 - 1/2) / (1/2) = 1/3.
    assert fleiss_kappa(RATINGS) == pytest.approx(1 / 3, abs=1e-6)
    # Krippendorff (nominal), every image with 2+ ratings. Coincidences n_uc n_uk / (m_u - 1) (c = k: n_uc(n_uc - 1)):
    # img1 c3: o_cc += 3*2/2 = 3; img2 c2 d1: o_cc += 1, o_cd += 1, o_dc += 1; img3 d3: o_dd += 3;
    # img4 c1 d2: o_dd += 1, o_cd += 1, o_dc += 1; img5 d2 (m = 2): o_dd += 2.
    # o_cc 4, o_cd 2, o_dc 2, o_dd 6; n_c 6, n_d 8, n 14.
    # alpha = 1 - (n - 1) * (o_cd + o_dc) / (n_c n_d + n_d n_c) = 1 - 13 * 4 / 96 = 11/24.
    assert krippendorff_alpha(RATINGS) == pytest.approx(11 / 24, abs=1e-6)
    assert krippendorff_alpha([("c", None), (None, "d")]) is None  # no image with two ratings


def test_classification_agreement_ranks_images_and_takes_the_majority():
    r = classification_agreement(list("12345"), [f"/{i}.png" for i in "12345"], RATINGS, ["A", "B", "C"])
    assert r.krippendorff_alpha == pytest.approx(11 / 24) and r.verdict == "alarm"  # under 0.667
    # image 2 and 4: one pair of three agrees (1/3) -> under the 0.75 alarm; the others are unanimous.
    assert [(i.sample_id, round(i.score, 4)) for i in r.images[:2]] == [("2", 0.3333), ("4", 0.3333)]
    assert r.n_findings == 2 and {c.sample_id: c.label for c in r.consensus} == dict(zip("12345", "ccddd"))
    a = {p.name: p for p in r.per_annotator}
    # A's labels agree with the consensus on images 1, 2, 3, 5 (4 of 5).
    assert a["A"].agreement_with_consensus == pytest.approx(4 / 5) and a["C"].n_labels == 4


def test_hungarian_matching_where_greedy_matching_loses_an_object():
    from workbench.checks.box_match import boxes_agree

    # Boxes on one row (y .1, h .5), x ranges in units of 1/20: a1 [2, 12], a2 [4, 14], b1 [2.5, 12.5], b2 [0, 10].
    # IoU a1-b1 = 9.5/10.5, a1-b2 = 8/12, a2-b1 = 8.5/11.5, a2-b2 = 6/14 (< 0.5).
    a = [(0.1, 0.1, 0.5, 0.5), (0.2, 0.1, 0.5, 0.5)]
    b = [(0.125, 0.1, 0.5, 0.5), (0.0, 0.1, 0.5, 0.5)]
    ious = box_iou_matrix(a, b)
    assert ious == pytest.approx(np.array([[9.5 / 10.5, 8 / 12], [8.5 / 11.5, 6 / 14]]), abs=1e-6)
    # Greedy takes a1-b1 (the best pair) and leaves a2-b2 under 0.5: one object unmatched on each side.
    assert not boxes_agree(["car", "car"], a, ["car", "car"], b)
    # The assignment maximising the total IoU matches both: a1-b2 + a2-b1 = 0.6667 + 0.7391 > 0.9048.
    matches = match_objects(ious)
    assert [(m.i, m.j) for m in matches] == [(0, 1), (1, 0)]
    assert [m.iou for m in matches] == pytest.approx([8 / 12, 8.5 / 11.5], abs=1e-6)


def test_box_agreement_by_hand_per_pair_image_class_and_annotator():
    # img1: A car (.1,.1,.4,.4), dog (.6,.6,.2,.2); B car (.2,.1,.4,.4): inter .3*.4 = .12, union .16+.16-.12 = .2
    # -> IoU 0.6; B cat (.6,.6,.2,.15): inter .2*.15 = .03, union .04 + .03 - .03 = .04 -> IoU 0.75 (matched,
    # other class). img2: A car (0,0,.5,.5), B nothing -> A's car unmatched.
    boxes = [[[(0.1, 0.1, 0.4, 0.4), (0.6, 0.6, 0.2, 0.2)], [(0.2, 0.1, 0.4, 0.4), (0.6, 0.6, 0.2, 0.15)]],
             [[(0.0, 0.0, 0.5, 0.5)], []]]
    labels = [[["car", "dog"], ["car", "cat"]], [["car"], []]]
    ious = [{(0, 1): box_iou_matrix(*b)} for b in boxes]
    r = object_agreement(["s1", "s2"], ["/1.png", "/2.png"], labels, ious, ["A", "B"], boxes=boxes)
    assert r.mean_iou == pytest.approx((0.6 + 0.75) / 2, abs=1e-6) and r.label_agreement == 0.5
    assert r.verdict == "alarm"  # 0.675 < 0.75
    p = r.pairs[0]
    assert (p.n_matched, p.unmatched_a, p.unmatched_b) == (2, 1, 0)
    # image scores: img1 (0.6 + 0.75) / 2 matched = 0.675; img2 0 / (0 matched + 1 unmatched) = 0; worst first.
    assert [(i.sample_id, i.score) for i in r.images] == [("s2", 0.0), ("s1", pytest.approx(0.675))]
    # classes: car 0.6 / (1 matched + 1 unmatched) = 0.3 (worst), cat and dog 0.75 / 1.
    assert [(c.label, round(c.score, 6)) for c in r.classes] == [("car", 0.3), ("cat", 0.75), ("dog", 0.75)]
    a, b = r.per_annotator
    assert (a.n_labels, a.unmatched_share, b.unmatched_share) == (3, pytest.approx(1 / 3), 0.0)
    assert a.mean_iou == pytest.approx(0.675) and a.label_agreement == 0.5
    data = json.loads(json.dumps(to_jsonable(r), allow_nan=False))
    assert from_jsonable(AgreementResult, data) == r


def test_consensus_box_is_weighted_by_agreement_and_needs_a_majority():
    # Three annotators; A and B nearly agree, C's box is off: C matches A at IoU 0.6, B matches A at 0.8.
    boxes = [[(0.0, 0.0, 0.4, 0.4)], [(0.0, 0.0, 0.4, 0.5)], [(0.1, 0.0, 0.4, 0.4)], ]
    labels = [["car"], ["car"], ["truck"]]
    found = {(k, l): match_objects(box_iou_matrix(boxes[k], boxes[l])) for k in range(3) for l in range(k + 1, 3)}
    (obj,) = consensus_objects(labels, boxes, found)
    # IoU A-B = .16/.2 = 0.8, A-C = .12/.2 = 0.6, B-C = .12/(.16+.2-.12) = 0.5; weights: mean IoU with the others
    # A (0.8+0.6)/2 = 0.7, B (0.8+0.5)/2 = 0.65, C (0.6+0.5)/2 = 0.55; x = 0.1*0.55/1.9, h = (.4*.7+.5*.65+.4*.55)/1.9.
    assert obj.label == "car" and obj.n_annotators == 3
    assert obj.box == pytest.approx((0.055 / 1.9, 0.0, 0.4, (0.28 + 0.325 + 0.22) / 1.9), abs=1e-6)
    assert obj.agreement == pytest.approx((0.8 + 0.6 + 0.5) / 3, abs=1e-6)
    lone = consensus_objects([["car"], [], []], [[(0, 0, .2, .2)], [], []], {})
    assert lone == ()  # one annotator of three is no majority


def test_review_sample_is_seeded_and_stratified():
    ids = [f"s{i}" for i in range(40)]
    strata = ["common"] * 36 + ["rare"] * 4
    first = review_sample(ids, strata, share=0.15, seed=3)
    assert first == review_sample(ids, strata, share=0.15, seed=3) != review_sample(ids, strata, share=0.15, seed=4)
    assert sum(s in ids[:36] for s in first) == 5 and sum(s in ids[36:] for s in first) == 1  # round(5.4), round(.6)


def test_crowdlab_consensus_with_out_of_fold_probabilities_from_embeddings():
    """With embeddings, cleanlab's CROWDLAB weighs each annotator by quality; a careless annotator scores lowest."""
    from workbench.checks.agreement import AgreementOptions, run
    from workbench.checks.inputs import CheckInputs, SampleColumns
    from workbench.config import AuditConfig
    from workbench.embeddings.pipeline import Embeddings

    rng = np.random.default_rng(0)
    truth = ["cat"] * 20 + ["dog"] * 20
    vectors = np.r_[rng.normal(0, 1, (20, 8)) + 3, rng.normal(0, 1, (20, 8)) - 3].astype(np.float32)
    careless = [("dog" if t == "cat" else "cat") if k % 3 == 0 else t for k, t in enumerate(truth)]
    ids = tuple(f"s{i}" for i in range(40))
    cols = SampleColumns(ids, tuple(f"/{i}.png" for i in ids), (None,) * 40, (None,) * 40, ((),) * 40, (None,) * 40)
    inputs = CheckInputs("classification", cols, (), {},
                         embeddings=Embeddings(ids=ids, vectors=vectors, model_id="test-vectors"),
                         embedded_rows=np.arange(40), annotation_kind="classification",
                         annotations={"a": tuple(truth), "b": tuple(truth), "careless": tuple(careless)},
                         reviews={ids[0]: "confirmed"})
    r = run(inputs, AuditConfig(embedder="none"), AgreementOptions())
    assert r.consensus_method.startswith("cleanlab CROWDLAB") and not r.notes
    quality = {a.name: a.quality for a in r.per_annotator}
    assert quality["careless"] < min(quality["a"], quality["b"])
    assert [c.label for c in r.consensus] == truth
    without = run(dataclass_replace(inputs, embeddings=None, embedded_rows=None), AuditConfig(embedder="none"),
                  AgreementOptions())
    assert "majority vote" in without.consensus_method and "no embeddings" in without.notes[0]
    assert len(r.review_sample) == 6 and r.n_reviewed == (ids[0] in r.review_sample)
    empty = run(dataclass_replace(inputs, annotations={"a": (None,) * 40, "b": (None,) * 40}),
                AuditConfig(embedder="none"), AgreementOptions())
    assert empty.n_images == 0 and empty.n_findings == 0 and "no image has a label" in empty.notes[0]


def test_a_stray_class_one_annotator_gave_keeps_crowdlab_and_counts_as_a_disagreement():
    """A class that no majority vote picked (one annotator's slip, here a hostile name) has no image to train the
    probe on: CROWDLAB still runs (the class gets a probability column of 0), and the slip is a disagreement."""
    from workbench.checks.agreement import AgreementOptions, run
    from workbench.checks.inputs import CheckInputs, SampleColumns
    from workbench.config import AuditConfig
    from workbench.embeddings.pipeline import Embeddings

    rng = np.random.default_rng(0)
    truth = ["cat"] * 20 + ["dog"] * 20
    vectors = np.r_[rng.normal(0, 1, (20, 8)) + 3, rng.normal(0, 1, (20, 8)) - 3].astype(np.float32)
    stray = "<script>alert('x')</script>"
    careless = [stray if k == 7 else ("dog" if t == "cat" else "cat") if k % 3 == 0 else t
                for k, t in enumerate(truth)]
    ids = tuple(f"s{i}" for i in range(40))
    cols = SampleColumns(ids, tuple(f"/{i}.png" for i in ids), (None,) * 40, (None,) * 40, ((),) * 40, (None,) * 40)
    inputs = CheckInputs("classification", cols, (), {},
                         embeddings=Embeddings(ids=ids, vectors=vectors, model_id="test-vectors"),
                         embedded_rows=np.arange(40), annotation_kind="classification",
                         annotations={"a": tuple(truth), "b": tuple(truth), "careless": tuple(careless)})
    r = run(inputs, AuditConfig(embedder="none"), AgreementOptions())
    assert r.consensus_method.startswith("cleanlab CROWDLAB") and not r.notes
    assert [c.label for c in r.consensus] == truth
    quality = {a.name: a for a in r.per_annotator}
    assert quality["careless"].quality < min(quality["a"].quality, quality["b"].quality)
    # careless agrees with the consensus on the 40 - 14 images it did not get wrong (k % 3 == 0: 14; k = 7: 1)
    assert quality["careless"].agreement_with_consensus == pytest.approx(25 / 40)
    slip = next(i for i in r.images if i.sample_id == "s7")
    assert slip.score == pytest.approx(1 / 3) and stray in slip.given and slip in r.below_alarm


def dataclass_replace(obj, **changes):
    import dataclasses

    return dataclasses.replace(obj, **changes)


def _dataset(tmp_path: Path, name: str, fields: dict[str, list]) -> object:
    import fiftyone as fo

    from tests.conftest import write_image

    ds = fo.Dataset(name)
    n = len(next(iter(fields.values())))
    for k in range(n):
        path = write_image(tmp_path / "images" / f"im{k}.png", k, size=48)
        ds.add_sample(fo.Sample(filepath=str(path), **{f: values[k] for f, values in fields.items()}))
    ds.info["workbench"] = {"source": str(tmp_path / "images")}
    ds.save()
    return ds


def test_audit_of_three_classification_annotators_end_to_end(tmp_path: Path, unique_name: str):
    """Real FiftyOne: consensus field, agreement field, review-sample tag and view, JSON and the report section."""
    import fiftyone as fo

    import workbench
    from workbench.gates import evaluate_gates, parse_gates
    from workbench.render.html_report import render_html
    from workbench.render.json_export import to_export_dict

    c = lambda v: None if v is None else fo.Classification(label=v)
    ds = _dataset(tmp_path, unique_name, {"ann_a": [c(r[0]) for r in RATINGS] + [c("<b>x</b>")],
                                          "ann_b": [c(r[1]) for r in RATINGS] + [c("<b>x</b>")],
                                          "ann_c": [c(r[2]) for r in RATINGS] + [c("d")]})
    cfg = workbench.AuditConfig(embedder="none", annotator_fields=("ann_a", "ann_b", "ann_c"))
    result = workbench.audit(ds, cfg, progress=False)
    export = to_export_dict(result)["agreement"]
    kappa = export["matrix"]["kappa"]  # annotator x annotator, symmetric, 1 on the diagonal
    assert kappa[0][0] == 1.0 and kappa[0][1] == kappa[1][0] == export["pairs"][0]["kappa"]
    assert export["krippendorff_alpha"] < 11 / 24  # image 6 adds a disagreement
    assert [p["path"].rsplit("/", 1)[1] for p in export["images_below_alarm"]] == ["im1.png", "im3.png", "im5.png"]
    assert result.counts()["annotator_disagreements"] == 3
    assert evaluate_gates(result, parse_gates("annotator-disagreement>2"))[0].failed
    consensus = dict(zip(ds.values("filepath"), ds.values("wb_consensus.label")))
    images = tmp_path / "images"
    assert consensus[str(images / "im3.png")] == "d" and consensus[str(images / "im5.png")] == "<b>x</b>"
    assert ds.first()["wb_consensus"]["wb_agreement"] == 1.0
    sample = ds.load_saved_view("wb-review-sample")
    assert len(sample) == len(result.findings["agreement"].review_sample) >= 2
    assert set(sample.values("id")) == set(ds.match_tags("wb:review-sample").values("id"))
    html = render_html(result)
    assert 'id="agreement"' in html and "Krippendorff" in html and "ann_a · ann_b" in html
    assert "<th>Cohen&#39;s kappa</th>" in html or "<th>Cohen's kappa</th>" in html
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html and "more classes not shown" not in html
    from workbench.panels.agreement import agreement_panel

    panel = agreement_panel(result, dataset=ds)
    tables, images = panel.children[0].value, panel.children[1]
    assert "Krippendorff" in tables and "&lt;b&gt;x&lt;/b&gt;" in tables and "<b>x</b>" not in tables
    assert "<b>x</b>" not in "".join(getattr(w, "value", "") for w in images.children if isinstance(
        getattr(w, "value", None), str))


def test_audit_of_box_annotators_matches_and_fuses(tmp_path: Path, unique_name: str):
    import fiftyone as fo

    import workbench
    from workbench.marks import mark_samples
    from workbench.render.html_report import render_html

    d = lambda *objs: fo.Detections(detections=[fo.Detection(label=lab, bounding_box=list(b)) for lab, b in objs])
    car = (0.1, 0.1, 0.4, 0.4)
    ds = _dataset(tmp_path, unique_name, {
        "ann_a": [d(("car", car)), d(("car", (0.0, 0.0, 0.5, 0.5))), d(), d(("dog", (0.5, 0.5, 0.3, 0.3)))],
        "ann_b": [d(("car", (0.2, 0.1, 0.4, 0.4))), d(), d(), d(("dog", (0.5, 0.5, 0.3, 0.3)))]})
    cfg = workbench.AuditConfig(embedder="none", annotator_fields=("ann_a", "ann_b"),
                                check_options={"agreement": {"review_share": 0.5}})
    first = workbench.audit(ds, cfg, progress=False).findings["agreement"]
    assert first.kind == "detection" and first.mean_iou == pytest.approx((0.6 + 1.0) / 2, abs=1e-6)
    assert first.pairs[0].unmatched_a == 1 and first.verdict == "below target"
    fused = {c.sample_id: c.objects for c in first.consensus}
    (obj,) = fused[ds.first().id]
    assert obj.box == pytest.approx((0.15, 0.1, 0.4, 0.4)) and obj.agreement == pytest.approx(0.6)
    assert sorted(ds.values("wb_agreement")) == pytest.approx([0.0, 0.6, 1.0, 1.0])
    (written,) = ds.first()["wb_consensus"].detections  # fo.Detections with the agreement on each box
    assert written.label == "car" and written.bounding_box == pytest.approx([0.15, 0.1, 0.4, 0.4])
    assert written["wb_agreement"] == pytest.approx(0.6) and written["wb_annotators"] == 2
    assert [len(d.detections) for d in ds.values("wb_consensus")] == [1, 0, 0, 1]
    mark_samples(ds, first.review_sample[:1], "confirmed")
    again = workbench.audit(ds, cfg, progress=False).findings["agreement"]
    assert again.review_sample == first.review_sample and again.n_reviewed == 1
    assert "1 reviewed" in again.summary()
    assert "Mean IoU with the others" in render_html(workbench.run_audit(ds, cfg, progress=False))
    # The same dataset audited on class-label annotators: wb_consensus changes label type cleanly.
    for field, labels in (("cls_a", "xxyy"), ("cls_b", "xyyy")):
        ds.set_values(field, [fo.Classification(label=v) for v in labels])
    workbench.audit(ds, workbench.AuditConfig(embedder="none", annotator_fields=("cls_a", "cls_b")), progress=False)
    assert ds.values("wb_consensus.label") == ["x", "x", "y", "y"]  # cleanlab breaks the tie on image 2


def test_missing_or_mixed_annotator_fields_are_input_errors(tmp_path: Path, unique_name: str):
    import fiftyone as fo

    import workbench
    from workbench.errors import AnnotatorFieldError

    ds = _dataset(tmp_path, unique_name, {"ann_a": [fo.Classification(label="x")],
                                          "ann_b": [fo.Detections(detections=[])], "note": ["text"]})
    for fields, phrase in ((("ann_a", "nope"), "has no field 'nope'"), (("ann_a", "ann_b"), "same kind"),
                           (("ann_a", "note"), "holds no Classification")):
        with pytest.raises(AnnotatorFieldError, match=phrase):
            workbench.run_audit(ds, workbench.AuditConfig(embedder="none", annotator_fields=fields), progress=False)
    with pytest.raises(AnnotatorFieldError, match="two or more"):
        workbench.AuditConfig(annotator_fields=("ann_a",))
    skipped = workbench.run_audit(ds, workbench.AuditConfig(embedder="none"), progress=False)
    assert "--annotators" in skipped.check("agreement").reason


def test_bad_options_are_refused():
    from workbench.config import AuditConfig
    from workbench.errors import CheckConfigError

    with pytest.raises(CheckConfigError, match="review_share"):
        AuditConfig(check_options={"agreement": {"review_share": 0}})


def test_mask_agreement_by_pixel_iou_and_masks_outside_the_root_are_not_read(tmp_path: Path):
    from PIL import Image

    from workbench.checks.agreement import AgreementOptions, run
    from workbench.checks.inputs import CheckInputs, SampleColumns
    from workbench.config import AuditConfig

    # A: road (1) on the left two columns (8 px), car (2) top-right 2x2. B: road on the left three columns
    # (12 px), no car. road IoU = 8 / 12 = 2/3 (matched); A's car is unmatched. Image score (2/3) / (1 + 1) = 1/3.
    a = np.zeros((4, 4), np.uint8)
    a[:, :2], a[:2, 2:] = 1, 2
    b = np.zeros((4, 4), np.uint8)
    b[:, :3] = 1
    inside, outside = tmp_path / "inside", tmp_path / "outside"
    inside.mkdir(), outside.mkdir()
    Image.fromarray(b).save(inside / "b.png")
    Image.fromarray(b).save(outside / "b.png")
    ids = ("s1", "s2")
    cols = SampleColumns(ids, ("/1.png", "/2.png"), (None,) * 2, (None,) * 2, ((),) * 2, (None,) * 2)
    inputs = CheckInputs("segmentation", cols, (), {}, annotation_kind="segmentation",
                         annotations={"a": (a, a), "b": (str(inside / "b.png"), str(outside / "b.png"))},
                         annotation_info={"mask_targets": {1: "road", 2: "car"}, "roots": (str(inside),)})
    r = run(inputs, AuditConfig(embedder="none"), AgreementOptions())
    assert r.kind == "segmentation" and r.n_images == 1  # s2's second mask lies outside the root: not read
    assert r.mean_iou == pytest.approx(2 / 3, abs=1e-6) and r.verdict == "alarm"
    assert r.images[0].score == pytest.approx(1 / 3, abs=1e-6) and r.pairs[0].unmatched_a == 1
    assert [c.label for c in r.classes] == ["car", "road"] and "outside the dataset folder" in r.notes[0]


def test_audit_of_segmentation_annotators_reads_fiftyone_masks(tmp_path: Path, unique_name: str):
    import fiftyone as fo
    from PIL import Image

    import workbench

    a = np.zeros((48, 48), np.uint8)
    a[:, :24] = 1  # road on the left half
    b = np.zeros((48, 48), np.uint8)
    b[:, :24] = 1
    b[:12, :24] = 0  # B leaves the top quarter of it out: IoU 36 / 48 = 0.75
    Image.fromarray(b).save(tmp_path / "b.png")
    ds = _dataset(tmp_path, unique_name, {"ann_a": [fo.Segmentation(mask=a)],
                                          "ann_b": [fo.Segmentation(mask_path=str(tmp_path / "b.png"))]})
    ds.default_mask_targets = {1: "road"}
    ds.info["workbench"] = {}  # no dataset root recorded: the mask file may be read
    ds.save()
    r = workbench.run_audit(ds, workbench.AuditConfig(embedder="none", annotator_fields=("ann_a", "ann_b")),
                            progress=False).findings["agreement"]
    assert r.kind == "segmentation" and r.mean_iou == pytest.approx(0.75) and r.verdict == "below target"
    assert [(c.label, c.n_matched) for c in r.classes] == [("road", 1)]


def test_audit_with_embeddings_takes_crowdlab_consensus(tmp_path: Path, unique_name: str):
    """The real embedder (EfficientNet-Lite0): the consensus comes from CROWDLAB on out-of-fold probabilities."""
    import fiftyone as fo

    import workbench

    c = fo.Classification
    labels = [("cat", "cat", "dog"), ("cat", "cat", "cat"), ("cat", "dog", "cat"), ("dog", "dog", "dog"),
              ("dog", "dog", "cat"), ("dog", "cat", "dog")]
    ds = _dataset(tmp_path, unique_name, {f: [c(label=r[k]) for r in labels] for k, f in enumerate(("a", "b", "c"))})
    cfg = workbench.AuditConfig(embedder="efficientnet-lite0", calibrate=False, annotator_fields=("a", "b", "c"))
    r = workbench.run_audit(ds, cfg, progress=False).findings["agreement"]
    assert r.consensus_method.startswith("cleanlab CROWDLAB") and "3 folds" in r.consensus_method  # 3 images a class
    assert len(r.consensus) == 6 and all(0 <= x.quality <= 1 for x in r.consensus)
    assert all(a.quality is not None for a in r.per_annotator)


def test_a_class_whose_boxes_agree_but_whose_names_do_not_is_not_meeting_the_target():
    """Same place, different class: the class verdict is the worse of IoU and class agreement."""
    from workbench.checks.agreement_compute import object_agreement
    from workbench.checks.agreement_objects import box_iou_matrix

    boxes = [[(0.0, 0.0, 0.4, 0.4)], [(0.0, 0.0, 0.4, 0.4)]]
    r = object_agreement(["s"], ["/s"], [[["car"], ["bus"]]], [{(0, 1): box_iou_matrix(*boxes)}], ["a", "b"])
    assert r.mean_iou == pytest.approx(1.0) and r.label_agreement == 0.0
    assert r.classes and all(c.verdict == "alarm" for c in r.classes)
    same = object_agreement(["s"], ["/s"], [[["car"], ["car"]]], [{(0, 1): box_iou_matrix(*boxes)}], ["a", "b"])
    assert [c.verdict for c in same.classes] == ["meets target"]


def test_only_the_worst_images_carry_each_annotator_s_boxes_and_only_so_many():
    """Boxes kept for drawing are bounded: the first MAX_BOX_IMAGES images under a perfect score, at most
    MAX_ANNOTATOR_BOXES boxes per annotator on each; an image where the annotators agree carries none."""
    from workbench.checks.agreement_result import MAX_ANNOTATOR_BOXES, MAX_BOX_IMAGES

    n = MAX_BOX_IMAGES + 5
    many = [(0.05 * k, 0.0, 0.04, 0.04) for k in range(MAX_ANNOTATOR_BOXES + 3)]
    ids = [f"s{k:03d}" for k in range(n + 1)]
    boxes = [[many, [(0.5, 0.5, 0.1, 0.1)]] for _ in range(n)] + [[[(0.1, 0.1, 0.2, 0.2)]] * 2]
    labels = [[["car"] * len(b[0]), ["car"] * len(b[1])] for b in boxes]
    ious = [{(0, 1): box_iou_matrix(b[0], b[1])} for b in boxes]
    r = object_agreement(ids, [f"/{i}.png" for i in ids], labels, ious, ["a", "b"], boxes=boxes)
    carrying = [i for i in r.images if i.objects]
    assert len(carrying) == MAX_BOX_IMAGES and all(i.score < 1 for i in carrying)
    assert r.images[-1].score == 1 and r.images[-1].objects == ()
    first = carrying[0].objects
    assert [o.annotator for o in first] == ["a"] * MAX_ANNOTATOR_BOXES + ["b"]
    assert [o.box for o in first[:MAX_ANNOTATOR_BOXES]] == [pytest.approx(b) for b in many[:MAX_ANNOTATOR_BOXES]]
