"""Spurious correlations: image properties that predict the labels, per class and dataset-wide."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from PIL import Image

from workbench.checks.image_properties import jpeg_quality, property_measures, property_table
from workbench.checks.property_association import associate_property, out_of_fold_accuracy, stratified_folds
from workbench.checks.spurious import SpuriousOptions, find_spurious_correlations
from workbench.results.serialize import from_jsonable, to_jsonable
from workbench.results.spurious import SpuriousCorrelationResult


def _ids(n: int) -> list[str]:
    return [f"s{i}" for i in range(n)]


# ------------------------------------------------------------------------------------ the measures

@pytest.mark.parametrize("quality", [5, 30, 50, 75, 95])
def test_jpeg_quality_is_read_back_from_the_quantisation_table(quality):
    rng = np.random.default_rng(quality)
    buf = io.BytesIO()
    Image.fromarray((rng.random((48, 48, 3)) * 255).astype("uint8")).save(buf, "JPEG", quality=quality)
    with Image.open(buf) as img:
        img.load()
        assert jpeg_quality(img.quantization) == quality


def test_jpeg_quality_of_an_opencv_file_and_of_no_tables():
    import cv2

    ok, data = cv2.imencode(".jpg", np.full((16, 16, 3), 90, np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 35])
    with Image.open(io.BytesIO(data.tobytes())) as img:
        assert ok and jpeg_quality(img.quantization) == 35
    assert jpeg_quality(None) is None and jpeg_quality({1: [1] * 64}) is None and jpeg_quality({0: [1] * 10}) is None


def test_the_file_reader_hands_the_tables_to_the_measure(tmp_path):
    from workbench.io.files import inspect_file

    jpg, png = tmp_path / "a.jpg", tmp_path / "b.png"
    Image.new("RGB", (20, 20), (200, 30, 30)).save(jpg, quality=40)
    Image.new("RGB", (20, 20), (200, 30, 30)).save(png)
    measured = {p.name: inspect_file(str(p), {"p": property_measures}).measure("p") for p in (jpg, png)}
    assert measured["a.jpg"]["jpeg_quality"] == 40 and "jpeg_quality" not in measured["b.png"]
    assert measured["a.jpg"]["colourfulness"] > 50 and measured["b.png"]["colourfulness"] > 50


def test_colourfulness_is_zero_for_grey_and_grows_with_saturation():
    grey = property_measures(Image.new("L", (30, 30), 120).convert("RGB"))["colourfulness"]
    muted = property_measures(Image.new("RGB", (30, 30), (140, 120, 110)))["colourfulness"]
    vivid = property_measures(Image.new("RGB", (30, 30), (250, 20, 20)))["colourfulness"]
    assert grey == 0 and 0 < muted < vivid


def test_the_property_table_keeps_natural_units_and_leaves_unmeasured_rows_empty():
    from types import SimpleNamespace as F

    facts = [F(ok=True, width=100, height=100, image_format="PNG"), F(ok=False, width=None, height=None,
                                                                      image_format=None)]
    quality = [{"brightness": 0.5, "contrast": 0.2, "sharpness": 0.01, "grayscale": 1.0}, None]
    t = property_table(facts, quality, [{"colourfulness": 3.0, "jpeg_quality": 80.0}, None])
    assert t["size"] == [100.0, None] and t["aspect_ratio"] == [1.0, None] and t["sharpness"] == [0.01, None]
    assert t["grayscale"] == ["grey", None] and t["jpeg_quality"] == [80.0, None]


# ------------------------------------------------------------------------------------ the statistics

def test_folds_are_stratified_and_the_classifier_reads_bins():
    y = np.array([0] * 10 + [1] * 5)
    fold = stratified_folds(y, 5, np.random.default_rng(1))
    assert all(sorted(fold[y == c].tolist()) == sorted(list(range(5)) * (2 if c == 0 else 1)) for c in (0, 1))
    codes = np.array([0] * 10 + [1] * 5)
    assert out_of_fold_accuracy(codes, y, 2, 2, fold, 5) == 1.0
    assert out_of_fold_accuracy(np.zeros(15, dtype=np.int64), y, 1, 2, fold, 5) == pytest.approx(10 / 15)


def test_a_property_unrelated_to_the_labels_is_not_flagged():
    rng = np.random.default_rng(3)
    labels = [f"c{k}" for k in rng.integers(0, 5, 600)]
    a = associate_property("brightness", "numeric", "", list(rng.random(600)), labels)
    assert not a.flagged and a.uncorrelatedness > 0.9 and a.p_value > 0.01
    assert all(0.35 < c.auc < 0.65 for c in a.classes)


def test_a_shortcut_in_one_class_of_ten_is_flagged_although_the_dataset_wide_score_misses_it():
    """cleanlab's dataset-wide score stays near 0.9 when one class of ten is set apart; the class rule finds it."""
    rng = np.random.default_rng(4)
    labels = [f"c{k}" for k in range(10) for _ in range(60)]
    values = [float(rng.uniform(0.7, 0.9)) if lab == "c3" else float(rng.uniform(0.2, 0.6)) for lab in labels]
    a = associate_property("brightness", "numeric", "", values, labels)
    assert a.uncorrelatedness > 0.8  # the dataset-wide score alone would not flag it (threshold 0.3)
    assert a.flagged and [c.label for c in a.flagged_classes] == ["c3"]
    c3 = a.flagged_classes[0]
    assert c3.side == "high" and c3.auc == 1.0 and c3.share_in_class == 1.0 and c3.share_in_rest == 0.0
    assert c3.cut == round(min(v for v, lab in zip(values, labels) if lab == "c3"), 6)  # the class's lowest value
    assert "'c3' apart" in a.reasons[0]


def test_a_property_that_predicts_every_class_is_flagged_dataset_wide():
    labels = [f"c{k}" for k in range(4) for _ in range(50)]
    values = [k * 1.0 + (i % 7) * 0.01 for k in range(4) for i in range(50)]
    a = associate_property("size", "numeric", "", values, labels)
    assert a.uncorrelatedness < 0.15 and a.p_value <= 0.01 and a.reasons[0].startswith("predicts the labels")


def test_a_lower_side_and_a_category_are_ruled_the_right_way():
    labels = ["dark"] * 30 + ["other"] * 90
    values = [0.1] * 30 + [0.5 + 0.001 * i for i in range(90)]
    dark = associate_property("brightness", "numeric", "", values, labels).classes[0]
    assert dark.side == "low" and dark.rule("brightness") == "brightness ≤ 0.1" and dark.auc == 1.0  # its direction
    fmt = associate_property("file_format", "categorical", "", ["JPEG"] * 30 + ["PNG"] * 90, labels)
    assert fmt.flagged_classes[0].rule("file_format") == "file_format is JPEG"
    assert fmt.flagged_classes[0].shares == {"JPEG": 1.0}


def test_small_classes_are_profiled_and_said_but_not_flagged():
    labels = ["tiny"] * 5 + ["big"] * 100
    a = associate_property("size", "numeric", "", [9.0] * 5 + [1.0 + i * 0.01 for i in range(100)], labels)
    assert {c.label: c.flagged for c in a.classes} == {"big": False, "tiny": False}
    assert {c.label for c in a.classes if c.too_small} == {"big", "tiny"} and not a.flagged
    assert "'tiny' (5 images) is told apart as clearly (AUC 1.00; size ≥ 9)" in a.notes[1]
    assert associate_property("size", "numeric", "", [9.0] * 5 + [1.0 + i * 0.01 for i in range(100)], labels,
                              min_class_size=5).flagged


# ------------------------------------------------------------------------------------ the check's result

def _planted(n_per_class: int = 40):
    rng = np.random.default_rng(7)
    labels = [c for c in ("bag", "coat", "shoe") for _ in range(n_per_class)]
    table = {"brightness": [float(rng.uniform(0.3, 0.6)) for _ in labels],
             "file_format": ["JPEG" if lab == "bag" else "PNG" for lab in labels],
             "jpeg_quality": [30.0 + i % 3 if lab == "bag" else None for i, lab in enumerate(labels)],
             "aspect_ratio": [0.0] * len(labels)}
    return labels, table


def test_the_result_names_the_shortcut_keeps_examples_and_round_trips():
    labels, table = _planted()
    r = find_spurious_correlations(_ids(len(labels)), [f"/d/{i}.png" for i in range(len(labels))], labels, table,
                                   options=SpuriousOptions(max_examples=7))
    assert [p.property for p in r.flagged] == ["file_format"] and r.n_findings == 1
    assert dict(r.skipped) == {"jpeg_quality": "the images it was measured on hold a single class",
                               "aspect_ratio": "has a single value"}
    assert len(r.examples) == 7 and {e.label for e in r.examples} == {"bag"}
    frame = r.to_frame()
    assert frame["is_spurious_correlation_issue"].all() and (frame["spurious_correlation_score"] == 0).all()
    assert "100% of 'bag' vs 0% of the rest have file_format is JPEG" in r.summary()
    export = r.to_export()["spurious_correlations"]
    assert export["properties"][0]["classes"][0]["rule"] == "file_format is JPEG"
    back = from_jsonable(SpuriousCorrelationResult, json.loads(json.dumps(to_jsonable(r))))
    assert back == r


def test_options_choose_the_properties_and_are_validated():
    labels, table = _planted()
    r = find_spurious_correlations(_ids(len(labels)), ["f"] * len(labels), labels, table,
                                   options=SpuriousOptions(properties="brightness"))
    assert [p.property for p in r.properties] == ["brightness"] and not r.flagged
    with pytest.raises(ValueError, match="unknown 'hue'"):
        SpuriousOptions(properties="hue")
    with pytest.raises(ValueError, match="class_auc"):
        SpuriousOptions(class_auc=0.5)


def test_one_shortcut_seen_by_two_properties_counts_once():
    """Grey images have no colour: greyscale and colourfulness flag the same class with the same images."""
    rng = np.random.default_rng(5)
    labels = ["museum"] * 30 + ["park"] * 30 + ["street"] * 30
    grey = ["grey" if lab == "museum" else "colour" for lab in labels]
    colour = [0.0 if lab == "museum" else float(rng.uniform(10, 80)) for lab in labels]
    r = find_spurious_correlations(_ids(90), ["f"] * 90, labels, {"grayscale": grey, "colourfulness": colour,
                                                                 "brightness": list(rng.random(90))})
    flagged = {p.property: p.same_as for p in r.flagged}
    first, second = (p.property for p in r.flagged)
    assert set(flagged) == {"grayscale", "colourfulness"} and flagged == {first: "", second: first}
    assert r.n_findings == 1 and "(same images as" in r.summary()
    assert {e.property for e in r.examples} == {p.property for p in r.flagged if not p.same_as}


def test_nothing_testable_is_a_skip_not_a_pass():
    from workbench.checks.spurious import run
    from workbench.config import AuditConfig
    from workbench.errors import CheckNotApplicable
    from types import SimpleNamespace as F

    facts = tuple(F(ok=True, width=20, height=20, image_format="PNG", measure=lambda key: None) for _ in range(30))
    inputs = F(columns=F(ids=tuple(_ids(30)), filepaths=("f",) * 30, labels=("cat",) * 30), facts=facts,
               measures=lambda key: [None] * 30, own_measures=lambda: [None] * 30)
    with pytest.raises(CheckNotApplicable, match="size, aspect_ratio, file_format: has a single value"):
        run(inputs, AuditConfig(), SpuriousOptions())


def test_a_property_named_twice_is_tested_once():
    labels, table = _planted()
    r = find_spurious_correlations(_ids(len(labels)), ["f"] * len(labels), labels, table,
                                   options=SpuriousOptions(properties="file_format, file_format"))
    assert [p.property for p in r.properties] == ["file_format"]


def test_labels_are_escaped_in_the_summary():
    labels = ["\x1b[31mred"] * 30 + ["plain"] * 30
    r = find_spurious_correlations(_ids(60), ["f"] * 60, labels, {"file_format": ["JPEG"] * 30 + ["PNG"] * 30})
    assert "\x1b" not in r.summary() and "\\x1b[31mred" in r.summary()
    assert all("\x1b" not in reason for p in r.properties for reason in p.reasons)


# ------------------------------------------------------------------------------------ in the audit

def _photo(seed: int, fmt: str, path) -> None:
    rng = np.random.default_rng(seed)
    base = rng.integers(40, 220, 3)
    pixels = np.clip(base + rng.normal(0, 25, (40, 48, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, fmt, **({"quality": 30} if fmt == "JPEG" else {}))


def test_the_audit_finds_a_format_shortcut_and_every_output_shows_it(tmp_path, unique_name):
    """A real audit (CLI, FiftyOne's database): one class of three saved as JPEG quality 30, the others PNG.
    JSON, summary, gate, report (class names escaped) and the App's tag and view carry it; with the image
    quality check skipped, its measures are still taken for this check."""
    import fiftyone as fo

    from tests.catalogue.harness import run_cli, untouched

    root = tmp_path / "photos"
    classes = {"cat": "PNG", "<b>dog": "JPEG", "eel": "PNG"}
    for k, (name, fmt) in enumerate(classes.items()):
        (root / "train" / name).mkdir(parents=True)
        for i in range(24):
            _photo(100 * k + i, fmt, root / "train" / name / f"{i:02d}.{'jpg' if fmt == 'JPEG' else 'png'}")
    out_json, report = tmp_path / "out" / "audit.json", tmp_path / "out" / "report.html"
    with untouched(root):
        out = run_cli("audit", root, "--name", unique_name, "--embedder", "none", "--quiet", "--json", out_json,
                      "--report", report, "--fail-on", "spurious", "--skip-check", "image_quality")
    assert out.code == 1 and "spurious>0:" in out.stderr, out.text[-2000:]
    doc = json.loads(out_json.read_text())
    props = {p["property"]: p for p in doc["spurious_correlations"]["properties"]}
    assert props["file_format"]["flagged"]
    assert doc["spurious_correlations"]["skipped"]["jpeg_quality"] == "has a single value"  # all 24 JPEGs at 30
    assert [c["label"] for c in props["file_format"]["classes"]] == ["<b>dog"]
    assert "brightness" in props  # measured by the skipped image-quality check's measure, for this check
    assert doc["summary"]["spurious_correlations"] >= 1
    assert "spurious       " in out.stdout
    html = report.read_text()
    assert 'id="spurious-correlations"' in html and "<b>dog" not in html and "&lt;b&gt;dog" in html
    ds = fo.load_dataset(unique_name)
    tagged = ds.match_tags("wb:shortcut")
    assert len(tagged) == 24 and {s.ground_truth.label for s in tagged} == {"<b>dog"}
    assert len(ds.load_saved_view("wb-shortcuts")) == 24
