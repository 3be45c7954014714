"""Split drift (a domain classifier per split, per class, against a permutation baseline) and weak regions
(embedding clusters where the out-of-fold probe is wrong most often)."""

from __future__ import annotations

import json
from types import SimpleNamespace as F

import numpy as np
import pytest

from workbench.checks.domain_classifier import mann_whitney_auc, split_drift
from workbench.checks.drift import DriftOptions, find_drift, run
from workbench.checks.weak_regions import default_clusters, find_weak_regions
from workbench.results.drift import DriftResult
from workbench.results.serialize import from_jsonable, to_jsonable

CLASSES = ("bag", "coat", "dress", "shirt", "sneaker")


def _data(seed: int = 0, per_class: int = 120, dim: int = 24) -> tuple[np.ndarray, list[str]]:
    """Five classes around their own centres, overlapping enough that a probe is not perfect."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(CLASSES), dim)) * 1.5
    y = np.repeat(np.arange(len(CLASSES)), per_class)
    x = centres[y] + rng.normal(size=(len(y), dim))
    return x.astype(np.float32), [CLASSES[k] for k in y]


def _random_split(n: int, seed: int, test: float = 0.3) -> list[str]:
    return list(np.where(np.random.default_rng(seed).random(n) < test, "test", "train"))


def _ids(n: int) -> list[str]:
    return [f"s{i}" for i in range(n)]


# ------------------------------------------------------------------------------------ split drift

def test_auc_from_ranks_is_the_mann_whitney_probability():
    ranks = np.array([1.0, 2.0, 3.0, 4.0])
    assert mann_whitney_auc(ranks, np.array([0, 1, 0, 1], bool)).item() == 0.75
    many = mann_whitney_auc(ranks, np.array([[0, 0, 1, 1], [1, 1, 0, 0]], bool))
    assert many.tolist() == [1.0, 0.0]


def test_drift_planted_in_one_class_of_one_split_is_flagged_and_nothing_else():
    x, labels = _data()
    splits = _random_split(len(labels), 1)
    moved = [i for i, (s, lab) in enumerate(zip(splits, labels)) if s == "test" and lab == "coat"]
    x[moved] += np.random.default_rng(9).normal(size=x.shape[1]).astype(np.float32) * 0.8  # a new camera for coats
    r = find_drift(_ids(len(labels)), ["f"] * len(labels), splits, labels, x, seed=0)
    assert [(split, c.label) for split, c in r.flagged] == [("test", "coat")]
    (drift,) = r.splits
    assert (drift.split, drift.against) == ("test", "train")  # two splits: the smaller one, once
    coat = next(c for c in drift.classes if c.label == "coat")
    assert coat.auc >= 0.9 and coat.p_value <= 0.01 and coat.baseline_p95 < 0.7
    assert all(c.auc < 0.65 for c in drift.classes if c.label != "coat")
    # the evidence: coats of test, most test-like first
    assert r.examples and {e.sample_id for e in r.examples} <= {f"s{i}" for i in moved}
    assert [e.rank for e in r.examples] == list(range(1, len(r.examples) + 1))
    assert [e.p_split for e in r.examples] == sorted((e.p_split for e in r.examples), reverse=True)
    assert r.n_findings >= 1 and "'coat' in test: domain AUC" in r.summary()
    assert [f.identity for f in r.finding_rows() if f.kind == "split_drift"] == [("split_drift", (), ("test", "coat"))]


@pytest.mark.parametrize("seed", [2, 3])
def test_a_random_split_of_the_same_data_flags_nothing(seed):
    x, labels = _data(seed)
    r = find_drift(_ids(len(labels)), ["f"] * len(labels), _random_split(len(labels), seed), labels, x, seed=seed)
    (drift,) = r.splits
    assert not r.flagged and not r.examples
    assert abs(drift.auc - 0.5) < 0.1 and drift.p_value > 0.01
    assert all(c.p_value > 0.01 or c.auc < 0.65 for c in drift.classes)


def test_a_different_class_mix_is_not_drift_and_the_baseline_says_so():
    """Test holds mostly bags: the classifier learns class -> split, the overall AUC rises, but shuffling
    membership within each class keeps that part, and no class drifts."""
    x, labels = _data(4)
    rng = np.random.default_rng(4)
    splits = ["test" if rng.random() < (0.7 if lab == "bag" else 0.15) else "train" for lab in labels]
    r = find_drift(_ids(len(labels)), ["f"] * len(labels), splits, labels, x, seed=0)
    (drift,) = r.splits
    assert drift.auc > 0.65 and drift.baseline_mean > 0.6 and drift.auc - drift.baseline_mean < 0.1
    assert not r.flagged


def test_three_splits_are_each_tested_against_the_others():
    x, labels = _data(5)
    splits = list(np.random.default_rng(5).choice(["train", "val", "test"], len(labels), p=[0.5, 0.25, 0.25]))
    moved = [i for i, (s, lab) in enumerate(zip(splits, labels)) if s == "val" and lab == "dress"]
    x[moved] *= 0.3  # a dimmer val dress
    fits, skipped = split_drift(x, splits, labels, seed=0)
    assert not skipped and [f.drift.split for f in fits] == ["test", "train", "val"]
    assert {f.drift.against for f in fits} == {"the other splits"}
    assert [(f.drift.split, c.label) for f in fits for c in f.drift.flagged_classes] == [("val", "dress")]
    # test's and train's dresses stand apart from a rest that holds the dim ones: echoes, named, not flagged
    echoes = {f.drift.split: c.echo_of for f in fits for c in f.drift.classes if c.label == "dress"}
    assert echoes["val"] == "" and set(echoes.values()) <= {"", "val"}
    assert all(not f.evidence for f in fits if f.drift.split != "val")


def test_small_classes_are_reported_as_too_small_not_dropped():
    x, labels = _data(6)
    splits = _random_split(len(labels), 6)
    shirts_in_test = [i for i, (s, lab) in enumerate(zip(splits, labels)) if s == "test" and lab == "shirt"]
    for i in shirts_in_test[10:]:
        splits[i] = "train"  # 10 shirts left in test
    r = find_drift(_ids(len(labels)), ["f"] * len(labels), splits, labels, x, seed=0)
    shirt = next(c for c in r.splits[0].classes if c.label == "shirt")
    assert shirt.too_small and shirt.auc is None and shirt.n_split == 10 and not shirt.flagged
    assert [c.label for c in r.splits[0].too_small] == ["shirt"]
    exported = r.to_export()["drift"]["splits"][0]["classes"]
    assert {"label": "shirt", "too_small": True} .items() <= next(c for c in exported if c["label"] == "shirt").items()


def test_one_split_is_a_reason_not_a_finding():
    x, labels = _data(7, per_class=30)
    r = find_drift(_ids(len(labels)), ["f"] * len(labels), ["train"] * len(labels), labels, x, seed=0)
    assert not r.splits and ("split drift", "needs two splits or more; the images hold 1") in r.skipped


# ------------------------------------------------------------------------------------ weak regions

def _confused(seed: int = 0) -> tuple[np.ndarray, list[str], list[int]]:
    """Eight tight clusters, each one class; in cluster 3 the labels are two classes at random."""
    rng = np.random.default_rng(seed)
    centres = np.eye(8, 32) * 6
    x = np.repeat(centres, 50, axis=0) + rng.normal(size=(400, 32)) * 0.6
    names = ["bag", "coat", "dress", "shirt", "sneaker", "boot", "sandal", "trouser"]
    labels = [names[i // 50] for i in range(400)]
    planted = list(range(150, 200))
    for i in planted:
        labels[i] = str(rng.choice(["shirt", "pullover"]))
    return x.astype(np.float32), labels, planted


def test_a_confused_cluster_is_the_weakest_region_with_its_members_and_its_name():
    x, labels, planted = _confused()
    ids = _ids(len(labels))
    regions, k, overall, why = find_weak_regions(x, labels, ids, [f"/{i}.png" for i in ids], clusters=8)
    assert not why and k == 8 and overall > 0.8
    assert len(regions) == 1
    weak = regions[0]
    assert weak.name == "wb-weak-1" and set(weak.sample_ids) == {f"s{i}" for i in planted}
    assert weak.accuracy < overall - 0.2 and weak.p_value < 0.01 / 8
    assert {lab for lab, _ in weak.labels} == {"shirt", "pullover"}
    assert weak.confused_with[0][0] in ("shirt", "pullover")
    assert weak.description.startswith(("shirt/pullover, 50 images", "pullover/shirt, 50 images"))
    assert "mostly confused with" in weak.description


def test_a_clean_dataset_has_no_weak_region_and_the_default_k_grows_with_n():
    x, labels, _ = _confused()
    clean = [lab if i not in range(150, 200) else "shirt" for i, lab in enumerate(labels)]
    regions, k, overall, _ = find_weak_regions(x, clean, _ids(400), _ids(400))
    assert regions == [] and k == default_clusters(400) == 6 and overall == 1.0
    assert [default_clusters(n) for n in (10, 2_000, 20_000, 10**7)] == [4, 14, 45, 50]


def test_weak_regions_need_labels_and_enough_of_them():
    x, _, _ = _confused()
    assert find_weak_regions(x, [None] * 400, _ids(400), _ids(400))[3] == \
        "needs two classes of two labelled images or more"
    labels = ["a", "b"] * 15 + [None] * 370
    assert "30 labelled images" in find_weak_regions(x, labels, _ids(400), _ids(400))[3]


# ------------------------------------------------------------------------------------ the result and options

def test_the_result_round_trips_writes_its_fields_and_escapes_labels():
    from workbench.checks.registry import get_check

    x, labels, planted = _confused()
    labels = [("\x1b[31m" + lab) if lab == "pullover" else lab for lab in labels]
    splits = _random_split(400, 8)
    r = find_drift(_ids(400), [f"/{i}.png" for i in range(400)], splits, labels, x,
                   options=DriftOptions(clusters=8), seed=0)
    back = from_jsonable(DriftResult, json.loads(json.dumps(to_jsonable(r))))
    assert back == r
    assert "\x1b" not in r.summary() and "\\x1b[31mpullover" in r.summary()
    spec = get_check("drift")
    fields = {f.name: f.values(r) for f in spec.writes.fields}
    assert fields["wb_weak_region"] == {f"s{i}": 1 for i in planted}
    tags = {t.tag: t.members(r) for t in spec.writes.tags}
    assert tags["wb:weak_region"] == {f"s{i}" for i in planted} and tags["wb:drift"] == set()
    assert [v.name for v in spec.writes.views] == ["wb-weak-regions", "wb-drift"]
    assert spec.gate.name == "drift" and spec.gate.count(r) == r.n_findings == 1
    frame = r.to_frame()
    assert len(frame) == 50 and frame["is_drift_issue"].all() and set(frame["region"]) == {"wb-weak-1"}
    exported = r.to_export()["drift"]
    assert exported["weak_regions"][0]["name"] == "wb-weak-1" and exported["n_clusters"] == 8
    (row,) = r.finding_rows()  # audit history: the region by the classes it confuses
    assert row.kind == "weak_region" and set(row.about) == {"\x1b[31mpullover", "shirt"}


@pytest.mark.parametrize("values, message", [
    ({"auc": 0.5}, "auc must be in (0.5, 1]"),
    ({"permutations": 5}, "permutations must be 19 to 10,000"),
    ({"alpha": 0.001}, "can't be reached with 99 permutations"),
    ({"alpha": 1.0}, "alpha must be in (0, 1)"),
    ({"min_class_size": 1}, "min_class_size must be at least 2"),
    ({"clusters": 1}, "clusters must be 0 (automatic) or 2 to 1,000"),
    ({"region_gap": 0.0}, "region_gap must be in (0, 1)"),
    ({"region_min_size": 1}, "region_min_size must be at least 2"),
    ({"max_examples": -1}, "max_examples must be 0 or more"),
])
def test_options_are_range_checked_with_a_clear_message(values, message):
    from workbench.checks.registry import get_check, make_options
    from workbench.errors import CheckConfigError

    with pytest.raises(CheckConfigError) as err:
        make_options(get_check("drift"), values)
    assert message in str(err.value)
    assert make_options(get_check("drift"), {"alpha": 0.001, "permutations": 999}).alpha == 0.001


def test_nothing_to_assess_is_a_skip_not_a_pass():
    from workbench.checks.registry import SampleColumns
    from workbench.config import AuditConfig
    from workbench.errors import CheckNotApplicable

    x = np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32)
    cols = SampleColumns(tuple(_ids(30)), ("f",) * 30, (None,) * 30, (None,) * 30, (("box",),) * 30, (None,) * 30)
    inputs = F(task="detection", columns=cols, embedded_rows=np.arange(30), embeddings=F(vectors=x),
               oof_probabilities=None)
    with pytest.raises(CheckNotApplicable, match="weak regions: a detection image holds several classes"):
        run(inputs, AuditConfig(), DriftOptions())


def test_the_figures_draw_each_split_with_escaped_class_names():
    from workbench.checks.registry import get_check

    x, labels = _data(10)
    labels = ["<b>coat" if lab == "coat" else lab for lab in labels]
    splits = _random_split(len(labels), 10)
    moved = [i for i, (s, lab) in enumerate(zip(splits, labels)) if s == "test" and lab == "<b>coat"]
    x[moved] += 2.0
    r = find_drift(_ids(len(labels)), ["f"] * len(labels), splits, labels, x, seed=0)
    ((fig, height),) = get_check("drift").draw_figures(r)
    bars = fig.data[0]
    assert height == 340 and len(bars.x) == len(CLASSES) and "<b>coat" not in bars.x
    red = [name for name, colour in zip(bars.x, bars.marker.color) if colour == "#c5221f"]
    assert len(red) == 1 and "coat" in red[0]


def test_the_panel_and_the_report_show_the_regions_with_labels_escaped(tmp_path):
    """The generic panel and the section template, on a synthetic audit holding a drift result whose
    class names are hostile: shown escaped in both, with the region's name and its members' rows."""
    import dataclasses

    import ipywidgets as w

    from tests.render.test_html_report import make_result
    from workbench.panels.findings import findings_panel
    from workbench.render.html_report import render_html
    from workbench.results.core import CheckStatus

    x, labels, _ = _confused()
    labels = ["<img src=x onerror=alert(1)>" if lab == "pullover" else lab for lab in labels]
    splits = ["<i>test" if s == "test" else s for s in _random_split(400, 8)]
    r = find_drift(_ids(400), [f"/{i}.png" for i in range(400)], splits, labels, x,
                   options=DriftOptions(clusters=8), seed=0)
    base = make_result(tmp_path / "images")
    audit = dataclasses.replace(base, findings={**base.findings, "drift": r},
                                checks=(*(c for c in base.checks if c.name != "drift"), CheckStatus("drift", "ran")))
    html = render_html(audit)
    section = html[html.index('<section id="drift">'):]
    section = section[:section.index("</section>")]
    assert "wb-weak-1" in section and "&lt;i&gt;test against train" in section
    assert "<img src=x" not in section and "&lt;img src=x onerror=alert(1)&gt;" in section
    panel = findings_panel(audit, check="drift")
    text = "\n".join(c.value for c in _walk(panel) if isinstance(c, w.HTML))
    assert "wb-weak-1" in text and "<img src=x" not in text


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()) or ():
        yield from _walk(child)


def test_a_small_dataset_reads_few_components_and_sees_a_whole_split_moved():
    """40 images of 1,280 dims, the val split shifted along a few directions: 128 components (90 of them empty,
    rescaled to equal weight) hid it (AUC 0.27 in a new user's trial); one per 10 images shows it."""
    import numpy as np

    from workbench.checks.domain_classifier import split_drift

    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 1280)).astype(np.float32)
    x[20:, :8] += 2.5  # every val image moved
    fits, _ = split_drift(x, ["train"] * 20 + ["val"] * 20, [None] * 40, seed=0)
    assert fits and fits[0].drift.auc > 0.8
