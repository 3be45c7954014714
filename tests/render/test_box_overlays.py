"""Box histograms and box overlays in the HTML report, from a real detection audit (FiftyOne's database,
real image files, ``embedder="none"``): the flagged boxes sit where the objects are on each thumbnail,
class names are escaped in the overlays and the plots, and the histograms survive the JSON round trip."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from workbench.checks.objects import (
    ASPECT_BIN_EDGES,
    SIZE_BIN_EDGES,
    ObjectsResult,
    find_object_issues,
)
from workbench.render.overlays import Overlay, overlay_svg, overlays_for
from workbench.results.serialize import from_jsonable, to_jsonable

#: A class name that would run or break markup if shown unescaped.
HOSTILE = '<script>alert("x")</script>\''


def detection_audit(folder: Path, name: str) -> Any:
    """Audit four images (64 × 32 px): a repeated hostile-named box, a tiny cat, a box past the edge, a negative."""
    import fiftyone as fo
    import numpy as np
    from PIL import Image

    import workbench

    boxes = {"a": [(HOSTILE, [0.1, 0.1, 0.4, 0.4]), (HOSTILE, [0.1, 0.1, 0.4, 0.4]), ("dog", [0.5, 0.5, 0.3, 0.3])],
             "b": [("cat", [0.5, 0.25, 0.02, 0.5]), ("cat", [0.1, 0.1, 0.3, 0.6])],
             "c": [("dog", [0.8, 0.2, 0.4, 0.2])], "d": []}
    ds = fo.Dataset(name)
    for n, (stem, objects) in enumerate(boxes.items()):
        path = folder / "images" / f"{stem}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = np.random.default_rng(n).integers(0, 255, (4, 8, 3), dtype=np.uint8)
        Image.fromarray(pixels).resize((64, 32), Image.Resampling.NEAREST).save(path)
        ds.add_sample(fo.Sample(filepath=str(path), ground_truth=fo.Detections(detections=[
            fo.Detection(label=lab, bounding_box=box) for lab, box in objects])))
    ds.info["workbench"] = {"source": str(folder / "images")}
    ds.save()
    return workbench.audit(ds, workbench.AuditConfig(embedder="none"))


@pytest.fixture
def audited(tmp_path: Path, unique_name: str) -> Any:
    return detection_audit(tmp_path, unique_name)


def _section(html: str, anchor: str) -> str:
    start = html.index(f'<section id="{anchor}">')
    return html[start:html.index("</section>", start)]


def _figures(html: str, section: str) -> list[dict[str, Any]]:
    ids = re.findall(r'data-figure="(wb-fig-\d+-data)"', section)
    return [json.loads(re.search(rf'<script type="application/json" id="{i}">(.*?)</script>', html, re.DOTALL).group(1))
            for i in ids]


def test_report_draws_each_flagged_box_on_its_thumbnail(audited: Any) -> None:
    from workbench.render.html_report import render_html

    html = render_html(audited)
    objects = _section(html, "objects")
    # b.png: the tiny cat at (0.5, 0.25, 0.02, 0.5) of a 64 × 32 image, thumbnail kept at 64 × 32 (never upscaled)
    row = next(r for r in objects.split("<tr>") if "b.png" in r)
    svg = re.search(r'<div class="thumb-box ">.*?(<svg .*?</svg>)</div>', row, re.DOTALL).group(1)
    assert 'viewBox="0 0 64 32"' in svg
    assert re.findall(r'<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"', svg) == [
        ("32", "8", "1.3", "16")]  # only the flagged box; the good cat is not drawn
    assert "<title>cat: tiny</title>" in svg
    # the box past the edge of c.png and both repeated boxes of a.png are drawn too
    row_c = next(r for r in objects.split("<tr>") if "c.png" in r)
    assert '<rect x="51.2" y="6.4" width="25.6" height="6.4"' in row_c
    row_a = next(r for r in objects.split("<tr>") if "a.png" in r)
    assert row_a.count('<rect x="6.4" y="3.2" width="25.6" height="12.8"') == 1  # the duplicate only
    # the histograms: size and aspect, one trace per class
    figures = _figures(html, objects)
    assert [len(f["data"]) for f in figures] == [3, 3]
    cat = next(t for t in figures[0]["data"] if t["name"] == "cat")
    assert sum(k for _, k in cat["customdata"]) == 2 and figures[0]["layout"]["xaxis"]["type"] == "log"
    assert len(cat["x"]) < len(SIZE_BIN_EDGES) - 1  # the empty bins at both ends are left out


def test_hostile_class_names_are_escaped_in_overlays_and_plots(audited: Any) -> None:
    from workbench.render.html_report import render_html

    html = render_html(audited)
    assert HOSTILE not in html and "<script>alert" not in html
    objects = _section(html, "objects")
    escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#x27;"
    row_a = next(r for r in objects.split("<tr>") if "a.png" in r)
    svg = re.search(r"<svg .*?</svg>", row_a, re.DOTALL).group(0)
    assert f"<title>{escaped}: duplicate</title>" in svg and escaped[:40] in svg.split("<text")[1]
    for fig in _figures(html, objects):
        names = [t["name"] for t in fig["data"]]
        assert '&lt;script&gt;alert("x")&lt;/script&gt;\'' in names and HOSTILE not in names
        assert all("alert" not in t["hovertemplate"] for t in fig["data"])  # names reach hovers as data only


def test_histograms_are_counted_on_log_bins_and_round_trip_through_json(audited: Any, tmp_path: Path) -> None:
    from workbench.results import AuditResult

    objects = audited.findings["objects"]
    dog = next(c for c in objects.classes if c.label == "dog")
    assert len(dog.size_hist) == len(SIZE_BIN_EDGES) - 1 and len(dog.aspect_hist) == len(ASPECT_BIN_EDGES) - 1
    # dog boxes: 0.3 × 0.3 of 64 × 32 → √(19.2 · 9.6) ≈ 13.6 px, aspect 2; 0.4 × 0.2 → √(25.6 · 6.4) = 12.8 px, aspect 4
    assert dog.size_hist[SIZE_BIN_EDGES.index(8.0)] == 0 and sum(dog.size_hist) == 2
    assert dog.size_hist[7] == 2  # the bin [11.31, 16)
    assert dog.aspect_hist[ASPECT_BIN_EDGES.index(2.0)] == 1 and dog.aspect_hist[ASPECT_BIN_EDGES.index(4.0)] == 1
    path = tmp_path / "audit.json"
    audited.to_json(path)
    back = AuditResult.from_json(path).findings["objects"]
    assert back == objects and back.classes[0].size_hist == objects.classes[0].size_hist
    export = objects.to_export()["objects"]
    assert export["classes"]["dog"]["aspect_hist"] == list(dog.aspect_hist)
    assert len(json.dumps(export["classes"]["dog"])) < 600  # compact: counts, not boxes


def test_overlays_come_from_any_finding_with_boxes() -> None:
    from workbench.results.object_labels import ObjectLabelIssue

    @__import__("dataclasses").dataclass(frozen=True)
    class OtherResult:  # a result type no renderer knows: its boxes are found by shape
        issues: tuple[ObjectLabelIssue, ...] = ()

    other = OtherResult((ObjectLabelIssue("s1", "/a.png", None, "car", (0.1, 0.2, 0.3, 0.4), "overlooked", 0.1,
                                          None, "crops"),))
    found = overlays_for(other)
    assert found == {"s1": [Overlay((0.1, 0.2, 0.3, 0.4), "car", "overlooked", "dashed")]}
    objects = find_object_issues(["s1", "s2"], ["/a", "/b"], [["cat"], ["cat"]],
                                 [[None], [(0.0, 0.0, 0.5, 0.5)]], [(10, 10), (10, 10)])
    assert overlays_for(objects) == {}  # the degenerate (no box) object has nothing to draw
    assert 'stroke-dasharray="3 2"' in overlay_svg(found["s1"], 10, 10)
    assert overlay_svg(found["s1"], 0, 0) == "" and overlay_svg([], 10, 10) == ""


def test_a_result_saved_without_histograms_still_loads() -> None:
    r = find_object_issues(["a"], ["/a"], [["cat"]], [[(0.1, 0.1, 0.5, 0.5)]], [(50, 50)])
    data = to_jsonable(r)
    for c in data["classes"]:
        del c["size_hist"], c["aspect_hist"]
    del data["size_bin_edges"]
    old = from_jsonable(ObjectsResult, data)
    assert old.classes[0].size_hist == () and old.size_bin_edges == SIZE_BIN_EDGES


def copies_audit(folder: Path, name: str) -> Any:
    """Two byte-identical 40 px images in train and val, one car each, in different places, and three others."""
    import shutil

    import fiftyone as fo

    import workbench
    from tests.conftest import write_image

    first = write_image(folder / "images" / "x.png", 7, size=40)
    shutil.copyfile(first, folder / "images" / "y.png")
    others = [write_image(folder / "images" / f"o{n}.png", 20 + n, size=40) for n in range(3)]
    ds = fo.Dataset(name)
    for path, split, box in [(first, "train", [0.1, 0.1, 0.3, 0.3]), (folder / "images" / "y.png", "val",
                                                                       [0.6, 0.5, 0.3, 0.3]),
                             *((p, "train", [0.2, 0.2, 0.5, 0.5]) for p in others)]:
        ds.add_sample(fo.Sample(filepath=str(path), tags=[split], ground_truth=fo.Detections(
            detections=[fo.Detection(label="car", bounding_box=box)])))
    ds.info["workbench"] = {"source": str(folder / "images")}
    ds.save()
    return workbench.audit(ds, workbench.AuditConfig(embedder="none"))


def test_copies_whose_boxes_disagree_carry_their_boxes_to_the_report(tmp_path: Path, unique_name: str) -> None:
    """A duplicate cluster and a leak pair with a box conflict: each thumbnail is drawn with its own copy's box
    (dashed)."""
    from workbench.render.html_report import render_html
    from workbench.results import AuditResult

    result = copies_audit(tmp_path, unique_name)
    cluster = next(c for c in result.duplicates.clusters if len(c.sample_ids) == 2)
    pair = result.leakage.pairs[0]
    assert cluster.box_conflict and pair.box_conflict
    assert sorted(o.box for o in pair.objects) == [(0.1, 0.1, 0.3, 0.3), (0.6, 0.5, 0.3, 0.3)]
    found = overlays_for(result)
    by_path = {Path(fp).stem: sid for sid, fp in zip(cluster.sample_ids, cluster.filepaths)}
    assert found[by_path["x"]] == [Overlay((0.1, 0.1, 0.3, 0.3), "car", "conflict", "dashed")]  # once: cluster and pair
    assert len(found) == 2  # the agreeing images carry nothing to draw
    html = render_html(result)
    for anchor in ("duplicates", "leakage"):
        section = _section(html, anchor)
        assert '<rect x="4" y="4" width="12" height="12"' in section  # x.png: 40 px, box at 0.1 of it
        assert '<rect x="24" y="20" width="12" height="12"' in section  # y.png: 0.6, 0.5
    path = tmp_path / "audit.json"
    result.to_json(path)
    assert AuditResult.from_json(path).leakage.pairs[0].objects == pair.objects


@pytest.mark.browser
def test_browser_draws_the_box_over_the_object(audited: Any, tmp_path: Path) -> None:
    """In Chromium, the duplicate box of a.png (64 × 32 px, shown letterboxed in a 96 px square) lands on the
    displayed object, no script runs from the hostile class, and the legend shows the class as text."""
    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM, CHROMIUM_ARGS
    from workbench.render.html_report import render_html

    if not CHROMIUM.exists():
        pytest.fail("install Chromium: apt-get install chromium")
    report = tmp_path / "objects.html"
    render_html(audited, report)
    dialogs: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1360, "height": 900})
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(report.as_uri(), wait_until="load")
            page.wait_for_function("document.querySelectorAll('#objects .js-plotly-plot').length >= 2",
                                   timeout=30_000)
            box = page.locator('#objects .thumb-box:has(img[alt="a.png"])').first
            img = box.locator("img").bounding_box()
            rect = box.locator("svg.overlay rect").bounding_box()
            legend = page.locator("#objects g.legendtext, #objects text.legendtext").all_text_contents()
        finally:
            browser.close()
    assert not dialogs and not errors
    assert img["width"] == pytest.approx(96, abs=0.5) and img["height"] == pytest.approx(96, abs=0.5)
    scale = 96 / 64  # contain: the 64 px side fills the box, the 32 px side is centred (24 px above and below)
    half = 0.75  # the bounding box includes the 1.5 px stroke (non-scaling), half on each side
    expected = (img["x"] + 6.4 * scale - half, img["y"] + 24 + 3.2 * scale - half, 25.6 * scale + 2 * half,
                12.8 * scale + 2 * half)
    assert [rect["x"], rect["y"], rect["width"], rect["height"]] == pytest.approx(expected, abs=0.3)
    assert HOSTILE in legend


def test_the_detection_demo_report_draws_each_planted_duplicate_box(unique_name: str) -> None:
    """The committed detection demo (150 photos, COCO labels): every planted duplicate box is flagged and drawn
    on its image's thumbnail at the box's place, scaled to the thumbnail's size."""
    from PIL import Image

    import workbench
    from workbench.render.html_report import render_html

    root = Path(__file__).resolve().parents[2] / "data" / "detection-demo"
    ds = workbench.load(root / "labels.json", name=unique_name)
    skip = ("duplicates", "leakage", "label_issues", "bias", "image_quality", "outliers", "masks")
    result = workbench.run_audit(ds, workbench.AuditConfig(embedder="none", skip_checks=skip), progress=False)
    planted = {Path(e["file_name"]).name for e in json.loads((root / "PLANTED.json").read_text())["planted"]
               if e["kind"] == "duplicate"}
    issues = result.findings["objects"].issues
    assert {Path(i.filepath).name for i in issues} == planted and len(issues) == 5
    objects = _section(render_html(result, thumbnail_px=96), "objects")
    for issue in issues:
        with Image.open(issue.filepath) as img:
            width, height = img.size
        scale = min(96 / width, 96 / height, 1.0)
        row = next(r for r in objects.split("<tr>") if f'alt="{Path(issue.filepath).name}"' in r)
        box = re.search(r'viewBox="0 0 (\d+) (\d+)".*?<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" '
                        r'height="([\d.]+)"', row, re.DOTALL)
        tw, th, *rect = (float(v) for v in box.groups())
        assert tw == pytest.approx(width * scale, abs=1) and th == pytest.approx(height * scale, abs=1)
        x, y, w, h = issue.box
        assert rect == pytest.approx([x * tw, y * th, w * tw, h * th], abs=0.06)
