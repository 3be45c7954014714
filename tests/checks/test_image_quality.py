"""Image-quality measures and relative thresholds on real (synthetic) images made with Pillow."""

import io
import json
import math

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

from workbench.checks.image_quality import (ISSUE_KINDS, THRESHOLD_KEYS, ImageQualityResult, find_quality_issues,
                                            quality_measures)
from workbench.results.serialize import from_jsonable as _from_jsonable, to_jsonable as _to_jsonable


def scene(seed: int, size=(128, 96)) -> Image.Image:
    """A sharp colour picture: random rectangles and ellipses over a gradient, with fine noise."""
    rng = np.random.default_rng(seed)
    w, h = size
    base = np.linspace(40, 200, w)[None, :, None] * np.ones((h, 1, 3)) * rng.uniform(0.6, 1.0, 3)
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(14):
        x0, y0 = rng.integers(0, w - 8), rng.integers(0, h - 8)
        box = (x0, y0, x0 + rng.integers(6, w // 2), y0 + rng.integers(6, h // 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.rectangle if rng.random() < 0.5 else draw.ellipse)(box, fill=colour)
    noisy = np.asarray(img, dtype=np.int16) + rng.integers(-6, 7, (h, w, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def blurred(img):
    return img.filter(ImageFilter.GaussianBlur(3))


def dark(img):
    return ImageEnhance.Brightness(img).enhance(0.3)


def washed(img):
    x = np.asarray(img, dtype=np.float64)
    return Image.fromarray(np.rint(255 - 0.4 * (255 - x)).astype(np.uint8))


def grey(img):
    return img.convert("L").convert("RGB")


def run(images, overrides=None, **kw):
    ms = [None if im is None else quality_measures(im) for im in images]
    n = len(images)
    return find_quality_issues([f"s{i}" for i in range(n)], [f"/d/{i}.png" for i in range(n)], ["a"] * n, ms,
                               overrides=overrides, **kw)


def kinds_by_row(result):
    return {int(i.sample_id[1:]): set(i.kinds) for i in result.issues}


# ------------------------------------------------------------------------------------ measures

def test_sharpness_and_blur_separate_sharp_from_blurred():
    img = scene(0)
    sharp, soft = quality_measures(img), quality_measures(blurred(img))
    assert sharp["sharpness"] > 20 * soft["sharpness"]
    assert sharp["blur"] > 20 * soft["blur"]


def test_sharpness_is_contrast_free_but_classic_blur_is_not():
    img = scene(1)
    sharp, darker = quality_measures(img), quality_measures(dark(img))
    assert darker["blur"] < 0.2 * sharp["blur"]  # the classic variance of the Laplacian calls it blurrier
    assert darker["sharpness"] == pytest.approx(sharp["sharpness"], rel=0.25)


def test_measured_at_a_bounded_size_so_sizes_compare():
    big = scene(2, size=(1024, 768))
    small = big.resize((256, 192), Image.Resampling.BOX)
    a, b = quality_measures(big), quality_measures(small)
    assert (a["width"], a["height"]) == (1024.0, 768.0)
    assert a["sharpness"] == pytest.approx(b["sharpness"], rel=0.1)


def test_brightness_measures_separate_dark_and_washed_out():
    img = scene(3)
    m, d, b = quality_measures(img), quality_measures(dark(img)), quality_measures(washed(img))
    assert d["brightness"] < m["brightness"] < b["brightness"]
    assert d["highlights"] < 0.45 < m["highlights"]
    assert b["shadows"] > 0.5 > m["shadows"]
    assert d["dark_share"] > m["dark_share"] and b["bright_share"] >= m["bright_share"]


def test_black_background_drawing_keeps_its_highlights():
    drawing = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(drawing).rectangle((20, 20, 44, 44), fill=230)
    m = quality_measures(drawing)
    assert m["brightness"] < 0.2 and m["dark_share"] > 0.8  # mostly black...
    assert m["highlights"] > 0.8  # ...but not a dark picture


def test_entropy_and_grayscale():
    flat = quality_measures(Image.new("RGB", (50, 50), (90, 140, 30)))
    colour, g = quality_measures(scene(4)), quality_measures(grey(scene(4)))
    assert flat["entropy"] == 0.0 and colour["entropy"] > 4.0
    single_channel = quality_measures(scene(4).convert("L"))
    assert (colour["grayscale"], g["grayscale"], single_channel["grayscale"]) == (0.0, 1.0, 1.0)
    buf = io.BytesIO()
    grey(scene(4)).save(buf, "JPEG", quality=70)  # chroma noise of a re-encoded grey picture
    assert quality_measures(Image.open(buf))["grayscale"] == 1.0


def _odd_images():
    rgba = Image.new("RGBA", (30, 20), (255, 0, 0, 0))
    palette = scene(5).convert("P")
    palette.info["transparency"] = 3
    return {
        "1x1": Image.new("RGB", (1, 1), (200, 10, 10)), "0x0": Image.new("RGB", (0, 0)),
        "1x400": Image.new("L", (1, 400), 128), "bilevel": scene(5).convert("1"), "palette+transparency": palette,
        "rgba": rgba, "la": scene(5).convert("LA"), "cmyk": scene(5).convert("CMYK"),
        "ycbcr": scene(5).convert("YCbCr"),
        "i16": Image.fromarray(np.arange(600, dtype=np.uint16).reshape(20, 30) * 99),
        "i32": Image.fromarray(np.arange(600, dtype=np.int32).reshape(20, 30) - 300),
        "float": Image.fromarray(np.linspace(-5, 900, 600, dtype=np.float32).reshape(20, 30)),
        "float-nan": Image.fromarray(np.full((8, 8), np.nan, dtype=np.float32)),
    }


@pytest.mark.parametrize("name", sorted(_odd_images()))
def test_odd_images_never_raise_and_give_plain_finite_floats(name):
    m = quality_measures(_odd_images()[name])
    assert all(type(v) is float and math.isfinite(v) for v in m.values()), m
    assert json.loads(json.dumps(m)) == m
    assert 0.0 <= m["brightness"] <= 1.0 and 0.0 <= m["entropy"] <= 8.0 and m["grayscale"] in (0.0, 1.0)


def test_transparent_pixels_are_seen_on_white():
    assert quality_measures(_odd_images()["rgba"])["brightness"] == 1.0


# ---------------------------------------------------------------------------------- thresholds

def planted_dataset():
    clean = [scene(100 + i) for i in range(40)]
    planted = {"blurry": blurred(scene(7)), "dark": dark(scene(8)), "bright": washed(scene(9)),
               "low_information": Image.new("RGB", (128, 96), (120, 120, 130)), "grayscale": grey(scene(10)),
               "odd_size": Image.new("RGB", (1, 1), (10, 200, 30)), "odd_aspect": scene(11, size=(400, 90))}
    return clean, planted


def test_relative_thresholds_flag_the_planted_images_and_not_the_clean_ones():
    clean, planted = planted_dataset()
    result = run(clean + list(planted.values()))
    found = kinds_by_row(result)
    assert set(found) == set(range(40, 40 + len(planted))), f"clean flagged: {sorted(set(found) - set(range(40, 47)))}"
    for row, kind in enumerate(planted, start=40):
        assert kind in found[row], (kind, found[row])
    assert result.threshold_sources["sharpness"].startswith("relative")


def test_a_clean_uniform_dataset_flags_nothing():
    result = run([scene(200 + i) for i in range(30)])
    assert result.n_findings == 0 and result.summary() == "no issues in 30 images"


def test_least_sharp_of_an_all_sharp_dataset_is_not_blurry():
    m = {"width": 64.0, "height": 64.0, "contrast": 0.3, "highlights": 0.9, "shadows": 0.05, "entropy": 6.0,
         "grayscale": 0.0, "blur": 900.0}
    ms = [{**m, "sharpness": 2.0 + 0.01 * i} for i in range(95)] + [{**m, "sharpness": 0.8}] * 5
    result = find_quality_issues([str(i) for i in range(100)], ["/f"] * 100, [None] * 100, ms)
    assert result.counts()["blurry"] == 0
    assert result.threshold_sources["sharpness"] == "relative, capped" and result.thresholds["sharpness"] == 0.5


def test_tiny_dataset_falls_back_to_absolute_levels():
    images = [scene(300), scene(301), Image.new("RGB", (64, 64), 0), scene(302).filter(ImageFilter.GaussianBlur(12))]
    result = run(images)
    assert set(result.threshold_sources.values()) <= {"absolute", "default"}
    found = kinds_by_row(result)
    assert 0 not in found and 1 not in found
    assert {"dark", "low_information"} <= found[2] and "blurry" in found[3]


def test_overrides_replace_the_thresholds():
    clean = [scene(400 + i) for i in range(12)]
    assert run(clean).n_findings == 0
    strict = run(clean, overrides={"sharpness": 1000.0})
    assert strict.counts()["blurry"] == 12 and strict.threshold_sources["sharpness"] == "override"
    classic = run(clean, overrides={"blur": 1e9})
    assert classic.counts()["blurry"] == 12 and classic.thresholds["blur"] == 1e9
    assert run(clean, overrides={"highlights": 1.01}).counts()["dark"] == 12
    with pytest.raises(ValueError, match="unknown image-quality threshold"):
        run(clean, overrides={"blurry": 3.0})
    assert set(THRESHOLD_KEYS) >= set(strict.thresholds)


def test_grayscale_flagged_only_in_a_colour_dataset():
    colour = [scene(500 + i) for i in range(12)]
    assert kinds_by_row(run(colour + [grey(scene(9))])) == {12: {"grayscale"}}
    all_grey = run([grey(scene(520 + i)) for i in range(12)])
    assert all_grey.counts()["grayscale"] == 0 and all_grey.colour_share == 0.0


def test_unreadable_samples_are_skipped_and_counted():
    result = run([scene(600 + i) for i in range(11)] + [None, None])
    assert result.n_measured == 11 and result.n_unmeasured == 2 and result.n_findings == 0
    assert "2 not measured" in result.summary()


# ---------------------------------------------------------------------------------- result protocol

def test_result_frame_export_summary_and_json_round_trip():
    clean, planted = planted_dataset()
    result = run(clean + list(planted.values()))
    assert result.n_findings == len(result.issues) == len(planted)
    assert result.summary().startswith(f"{len(planted)} of 47 images flagged: ")
    assert [i.score for i in result.issues] == sorted(i.score for i in result.issues)
    frame = result.to_frame()
    assert list(frame.columns[:3]) == ["sample_id", "filepath", "label"] and len(frame) == len(planted)
    for kind in ISSUE_KINDS:
        flagged = frame[f"is_{kind}_issue"]
        assert flagged.dtype == bool and frame[f"{kind}_score"].between(0, 1).all()
        assert (frame.loc[flagged, f"{kind}_score"] < 0.5).all() and (frame.loc[~flagged, f"{kind}_score"] >= 0.5).all()
    export = json.loads(json.dumps(result.to_export(), allow_nan=False))["image_quality"]
    assert {i["path"] for i in export["issues"]} == {f"/d/{r}.png" for r in range(40, 47)}
    assert export["thresholds"] == result.thresholds
    data = json.loads(json.dumps(_to_jsonable(result), allow_nan=False))
    assert _from_jsonable(ImageQualityResult, data) == result


# ------------------------------------------------------------------------------------ in the audit

def test_the_audit_measures_in_the_file_pass_and_every_output_shows_the_findings(tmp_path, unique_name):
    """A real audit (CLI, FiftyOne's database) of 14 sharp pictures, one blurred and one darkened:
    the JSON, the summary, the gate, the report and the App's tag and view all carry the two."""
    import fiftyone as fo

    from tests.catalogue.harness import run_cli, untouched

    root = tmp_path / "photos"
    for i in range(16):
        img = scene(i)
        img = blurred(img) if i == 14 else dark(img) if i == 15 else img
        (root / "train" / ("a" if i % 2 else "b")).mkdir(parents=True, exist_ok=True)
        img.save(root / "train" / ("a" if i % 2 else "b") / f"{i:02d}.png")
    out_json, report = tmp_path / "out" / "audit.json", tmp_path / "out" / "report.html"
    with untouched(root):
        out = run_cli("audit", root, "--name", unique_name, "--embedder", "none", "--quiet", "--json", out_json,
                      "--report", report, "--fail-on", "image-quality")
    assert out.code == 1 and "image-quality>0: 2 images with quality issues" in out.stderr, out.text[-2000:]
    doc = json.loads(out_json.read_text())
    flagged = {issue["path"].rsplit("/", 1)[-1]: issue["kinds"] for issue in doc["image_quality"]["issues"]}
    assert flagged == {"14.png": ["blurry"], "15.png": ["dark"]}
    assert doc["summary"]["quality_issues"] == 2 and doc["schema_version"] == "2.0"
    assert "image quality  2 of 16 images flagged: 1 blurry, 1 dark" in out.stdout
    html = report.read_text()
    assert 'id="image-quality"' in html and "15.png" in html and "relative" in html
    ds = fo.load_dataset(unique_name)
    assert sorted(s.filepath.rsplit("/", 1)[-1] for s in ds.match_tags("wb:quality")) == ["14.png", "15.png"]
    assert ds.load_saved_view("wb-image-quality").first()["wb_quality_issues"] in (["blurry"], ["dark"])
    with untouched(root):  # an override changes the verdict; the measures come from the facts cache
        again = run_cli("audit", root, "--name", unique_name, "--embedder", "none", "--quiet", "--json", out_json,
                        "--check-option", "image_quality.highlights=0.01")
    assert again.code == 0 and [i["kinds"] for i in json.loads(out_json.read_text())["image_quality"]["issues"]] \
        == [["blurry"]]
