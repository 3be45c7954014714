"""Masks and annotators' boxes drawn over thumbnails, from real audits (FiftyOne's database, real image and mask
files): an instance mask sits inside its box, a mislabelled segmentation region and a mask's unknown values sit
where their pixels are, each annotator's boxes are drawn in its own colour with a legend, every name from the
dataset is escaped, the new fields survive the JSON round trip and results saved without them still load."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.render.test_box_overlays import HOSTILE
from workbench.results.serialize import from_jsonable, to_jsonable

#: How the report and the panels write :data:`HOSTILE` (``html.escape(quote=True)``).
ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&#x27;"
#: An annotator field name FiftyOne accepts that would break markup unescaped.
HOSTILE_ANNOTATOR = '<i>"ann\''
BOX = [0.25, 0.25, 0.5, 0.5]  # 64 x 32 px of a 128 x 64 image


def _section(html: str, anchor: str) -> str:
    start = html.index(f'<section id="{anchor}">')
    return html[start:html.index("</section>", start)]


def _row(section: str, filename: str) -> str:
    return next(r for r in section.split("<tr>") if f'alt="{filename}"' in r)


def _cells(svg: str) -> list[tuple[float, float, float, float]]:
    """The rectangles ``(x0, y0, x1, y1)`` of every mask path in ``svg``."""
    found = []
    for d in re.findall(r'<path class="mask" d="([^"]+)"', svg):
        for x0, y0, x1, y1 in re.findall(r"M([\d.]+) ([\d.]+)H([\d.]+)V([\d.]+)H[\d.]+Z", d):
            found.append((float(x0), float(y0), float(x1), float(y1)))
    return found


def _extent(cells: list[tuple[float, float, float, float]]) -> tuple[tuple[float, ...], float]:
    """The box around ``cells`` and their total area."""
    box = (min(c[0] for c in cells), min(c[1] for c in cells), max(c[2] for c in cells), max(c[3] for c in cells))
    return box, sum((c[2] - c[0]) * (c[3] - c[1]) for c in cells)


@pytest.fixture
def masked(tmp_path: Path, unique_name: str) -> Any:
    """128 x 64 images, one box each: a mask covering only the right 3/8 of its box (class :data:`HOSTILE`),
    an empty mask, a good ellipse."""
    import fiftyone as fo
    from PIL import Image

    from tests.conftest import write_image

    shifted = np.zeros((32, 64), bool)
    shifted[:, 40:] = True
    rows, cols = np.mgrid[0:32, 0:64]
    ellipse = ((cols - 31.5) / 32) ** 2 + ((rows - 15.5) / 16) ** 2 <= 1
    ds = fo.Dataset(unique_name)
    for n, (name, label, mask) in enumerate((("shifted", HOSTILE, shifted), ("empty", "cat", np.zeros((32, 64), bool)),
                                             ("good", "cat", ellipse))):
        path = write_image(tmp_path / "images" / f"{name}.png", 40 + n)
        Image.open(path).resize((128, 64)).save(path)
        ds.add_sample(fo.Sample(filepath=str(path), ground_truth=fo.Detections(detections=[
            fo.Detection(label=label, bounding_box=BOX, mask=mask)])))
    ds.info["workbench"] = {"source": str(tmp_path / "images")}
    ds.save()
    return ds


def test_an_instance_mask_is_drawn_inside_its_box_in_the_report_and_the_panel(masked: Any) -> None:
    import workbench
    from tests.panels.test_panels import html_text
    from workbench.panels.objects import objects_panel
    from workbench.render.html_report import render_html

    result = workbench.run_audit(masked, workbench.AuditConfig(embedder="none"), progress=False)
    issue = next(i for i in result.findings["objects"].issues if "shifted" in i.filepath)
    assert issue.kinds == ("mask_box_mismatch",) and issue.mask is not None
    assert issue.mask.box == pytest.approx((0.5625, 0.25, 0.1875, 0.5))
    assert (issue.mask.columns, issue.mask.rows, issue.mask.n_on) == (12, 16, 192)  # 24 x 32 px halved, all on
    html = render_html(result)
    assert HOSTILE not in html
    svg = re.search(r"<svg .*?</svg>", _row(_section(html, "objects"), "shifted.png"), re.DOTALL).group(0)
    assert 'viewBox="0 0 96 48"' in svg  # 128 x 64 shown at 96 px
    box, area = _extent(_cells(svg))
    assert box == pytest.approx((54, 12, 72, 36)) and area == pytest.approx(18 * 24)  # the box's right 3/8
    assert '<rect x="24" y="12" width="48" height="24"' in svg  # inside the flagged box, drawn over the mask
    assert svg.index('<path class="mask"') < svg.index("<rect")
    assert f"<title>{ESCAPED}: mask_box_mismatch</title></path>" in svg and 'fill-opacity="0.4"' in svg
    assert "1 flagged box, 1 mask" in svg
    empty = _row(_section(html, "objects"), "empty.png")  # an empty mask has nothing to fill: its box only
    assert "<rect" in empty and '<path class="mask"' not in empty
    text = html_text(objects_panel(result))  # the panel's 80 px thumbnails: 128 x 64 shown at 80 x 40
    [panel_svg] = [s for s in re.findall(r'<svg [^>]*viewBox="0 0 80 40".*?</svg>', text, re.DOTALL)
                   if 'class="mask"' in s]  # the shifted mask's thumbnail; the empty mask has no cells
    box, area = _extent(_cells(panel_svg))
    assert box == pytest.approx((45, 10, 60, 30)) and area == pytest.approx(15 * 20)
    assert HOSTILE not in text and f"{ESCAPED}: mask_box_mismatch" in panel_svg


def test_mask_grids_round_trip_through_json_and_old_results_still_load(masked: Any, tmp_path: Path) -> None:
    import workbench
    from workbench.checks.objects import ObjectsResult
    from workbench.render.overlays import overlays_for
    from workbench.results import AuditResult

    result = workbench.run_audit(masked, workbench.AuditConfig(embedder="none"), progress=False)
    path = tmp_path / "audit.json"
    result.to_json(path)
    back = AuditResult.from_json(path).findings["objects"]
    assert back == result.findings["objects"] and any(i.mask is not None for i in back.issues)
    stored = json.loads(path.read_text())
    issue = next(i for i in stored["findings"]["objects"]["issues"] if "shifted" in i["filepath"])
    assert len(json.dumps(issue["mask"])) < 200  # a few numbers, not the mask
    flagged = next(i for i in result.findings["objects"].issues if "shifted" in i.filepath)
    exported = next(i for i in result.findings["objects"].to_export()["objects"]["issues"] if "shifted" in i["path"])
    assert exported["mask"] == {"box": list(flagged.mask.box), "grid": flagged.mask.to_list()}  # --json shows it
    old = to_jsonable(result.findings["objects"])
    for i in old["issues"]:
        del i["mask"]
    loaded = from_jsonable(ObjectsResult, old)
    assert all(i.mask is None for i in loaded.issues)
    assert all(o.mask is None and o.box is not None for boxes in overlays_for(loaded).values() for o in boxes)


def test_a_coco_export_keeps_its_mask_grid_through_the_import(masked: Any, tmp_path: Path, unique_name: str) -> None:
    """FiftyOne's COCO exporter writes the masks as polygons; workbench summarises them with a grid on import."""
    import fiftyone as fo

    import workbench

    export = tmp_path / "coco"
    masked.export(export_dir=str(export), dataset_type=fo.types.COCODetectionDataset, label_field="ground_truth")
    before = (export / "labels.json").read_bytes()
    ds = workbench.load(export / "labels.json", name=f"{unique_name}-coco")
    try:
        result = workbench.run_audit(ds, workbench.AuditConfig(embedder="none"), progress=False)
        issue = next(i for i in result.findings["objects"].issues if "shifted" in i.filepath)
        assert issue.mask is not None and issue.mask.box == pytest.approx((0.5625, 0.25, 0.1875, 0.5), abs=0.02)
        assert issue.mask.n_on >= 0.9 * issue.mask.columns * issue.mask.rows  # the polygon fills its tight box
        assert (export / "labels.json").read_bytes() == before  # the grid lives on the objects, not in the file
    finally:
        fo.delete_dataset(ds.name)


def test_a_mislabelled_segmentation_region_is_drawn_where_its_pixels_are(tmp_path: Path, unique_name: str) -> None:
    """The planted segmentation set (32 x 32 masks; img2's car square, rows 4-11 and columns 6-13, painted as
    road), its road class renamed to a hostile string."""
    import workbench
    from tests.checks.segmentation_fixtures import BAD, planted_segmentation
    from workbench.render.html_report import render_html
    from workbench.results.object_labels import ObjectLabelIssuesResult

    planted = planted_segmentation(tmp_path / "seg", unique_name)
    planted.dataset.default_mask_targets = {0: "background", 1: HOSTILE, 2: "car"}
    planted.dataset.save()
    cfg = workbench.AuditConfig(embedder="none", predictions=str(planted.probs))
    result = workbench.run_audit(planted.dataset, cfg, progress=False, label_field="ground_truth")
    found = result.findings["object_labels"]
    [issue] = found.issues
    assert issue.label == HOSTILE and issue.mask is not None and issue.mask.n_on == issue.pixels  # native grid
    html = render_html(result)
    assert HOSTILE not in html
    svg = re.search(r"<svg .*?</svg>", _row(_section(html, "object-labels"), f"{BAD}.png"), re.DOTALL).group(0)
    cells = _cells(svg)
    (x0, y0, x1, y1), area = _extent(cells)
    assert 6 <= x0 and x1 <= 14 and 4 <= y0 and y1 <= 12 and area == issue.pixels  # inside the painted square
    assert f"<title>{ESCAPED} → car: swapped</title>" in svg and "<rect" not in svg  # a region has no box
    assert ">&lt;script&gt;alert(&quot;x&quot;)&lt;/scri</text>" in svg  # its class named below it, escaped
    again = from_jsonable(ObjectLabelIssuesResult, json.loads(json.dumps(to_jsonable(found))))
    assert again == found
    old = to_jsonable(found)
    del old["issues"][0]["mask"]
    assert from_jsonable(ObjectLabelIssuesResult, old).issues[0].mask is None


def test_unknown_mask_values_are_drawn_where_the_mask_holds_them(tmp_path: Path, unique_name: str) -> None:
    import fiftyone as fo

    import workbench
    from tests.conftest import write_image
    from tests.panels.test_panels import html_text
    from workbench.checks.masks import MasksResult
    from workbench.panels.findings import findings_panel
    from workbench.render.html_report import render_html

    good = np.zeros((16, 16), dtype=np.uint8)
    good[2:8, 2:8] = 1
    unnamed = good.copy()
    unnamed[10:14, 2:6] = 7
    ds = fo.Dataset(unique_name)
    ds.default_mask_targets = {0: "background", 1: "road"}
    for n, (name, mask) in enumerate((("good", good), ("unnamed", unnamed))):
        path = write_image(tmp_path / f"{name}.png", n, size=16)
        ds.add_sample(fo.Sample(filepath=str(path), ground_truth=fo.Segmentation(mask=mask)))
    ds.save()
    result = workbench.run_audit(ds, workbench.AuditConfig(embedder="none"), progress=False, label_field="ground_truth")
    [problem] = result.findings["masks"].problems
    assert problem.detail == "unknown values: 7" and problem.mask is not None
    assert problem.mask.box == pytest.approx((2 / 16, 10 / 16, 4 / 16, 4 / 16)) and problem.mask.n_on == 16
    section = _section(render_html(result), "masks")
    svg = re.search(r"<svg .*?</svg>", _row(section, "unnamed.png"), re.DOTALL).group(0)
    assert _extent(_cells(svg)) == ((2, 10, 6, 14), 16)
    assert "<title>unknown values: 7</title>" in svg
    panel = html_text(findings_panel(result, check="masks"))
    assert _extent(_cells(panel)) == ((2, 10, 6, 14), 16)
    [exported] = result.findings["masks"].to_export()["masks"]["problems"]
    assert exported["mask"]["box"] == pytest.approx([2 / 16, 10 / 16, 4 / 16, 4 / 16])
    old = to_jsonable(result.findings["masks"])
    del old["problems"][0]["mask"]
    assert from_jsonable(MasksResult, old).problems[0].mask is None


def test_each_annotator_s_boxes_are_drawn_in_its_own_style_with_a_legend(tmp_path: Path, unique_name: str) -> None:
    """Two box annotators (one named with markup) on four 48 px images; the worst image's boxes are drawn per
    annotator in the report's agreement section and the agreement panel, with a legend naming both."""
    import fiftyone as fo

    import workbench
    from tests.checks.test_agreement import _dataset
    from tests.panels.test_panels import html_text
    from workbench.panels.agreement import agreement_panel
    from workbench.render.html_report import render_html
    from workbench.results import AuditResult

    def d(*objs: tuple[str, tuple[float, ...]]) -> Any:
        return fo.Detections(detections=[fo.Detection(label=lab, bounding_box=list(b)) for lab, b in objs])

    car = (0.1, 0.1, 0.4, 0.4)
    ds = _dataset(tmp_path, unique_name, {
        HOSTILE_ANNOTATOR: [d((HOSTILE, car)), d(("car", (0.0, 0.0, 0.5, 0.5))), d(), d(("dog", (0.5, 0.5, 0.3, 0.3)))],
        "ann_b": [d((HOSTILE, (0.5, 0.5, 0.25, 0.25))), d(), d(), d(("dog", (0.5, 0.5, 0.3, 0.3)))]})
    cfg = workbench.AuditConfig(embedder="none", annotator_fields=(HOSTILE_ANNOTATOR, "ann_b"))
    result = workbench.run_audit(ds, cfg, progress=False)
    agreement = result.findings["agreement"]
    worst = {Path(i.filepath).name: i for i in agreement.images}
    assert [(o.annotator, o.label, o.box) for o in worst["im0.png"].objects] == [
        (HOSTILE_ANNOTATOR, HOSTILE, car), ("ann_b", HOSTILE, (0.5, 0.5, 0.25, 0.25))]
    assert worst["im3.png"].score == 1 and worst["im3.png"].objects == ()  # agreeing images carry none
    html = render_html(result)
    assert HOSTILE not in html and HOSTILE_ANNOTATOR not in html
    section = _section(html, "agreement")
    legend = re.search(r'<div class="wb-legend".*?</div>', section, re.DOTALL).group(0)
    assert legend.index('stroke="#1a73e8"') < legend.index("&lt;i&gt;&quot;ann&#x27;") < legend.index(
        'stroke="#e8710a" stroke-width="2" stroke-dasharray="3 2"') < legend.index("ann_b")
    svg = re.search(r"<svg .*?</svg>", _row(section, "im0.png"), re.DOTALL).group(0)
    rects = re.findall(r'<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"[^>]*stroke="(#\w+)"'
                       r'[^>]*?(?: stroke-dasharray="([\d ]+)")?><title>([^<]*)</title>', svg)
    assert rects == [("4.8", "4.8", "19.2", "19.2", "#1a73e8", "", f"&lt;i&gt;&quot;ann&#x27;: {ESCAPED}"),
                     ("24", "24", "12", "12", "#e8710a", "3 2", f"ann_b: {ESCAPED}")]
    assert "<text" not in svg  # the legend names the annotators; no class text crowds the thumbnail
    panel = html_text(agreement_panel(result))
    assert HOSTILE not in panel and HOSTILE_ANNOTATOR not in panel
    assert "Boxes by annotator" in panel and '<rect x="4.8" y="4.8" width="19.2" height="19.2"' in panel
    below = {Path(i["path"]).name: i for i in agreement.to_export()["agreement"]["images_below_alarm"]}
    assert below["im0.png"]["objects"] == [{"annotator": o.annotator, "label": o.label, "box": list(o.box)}
                                           for o in worst["im0.png"].objects]
    path = tmp_path / "audit.json"
    result.to_json(path)
    assert AuditResult.from_json(path).findings["agreement"] == agreement
    old = to_jsonable(agreement)
    for image in old["images"]:
        del image["objects"]
    from workbench.checks.agreement_result import AgreementResult

    assert all(i.objects == () for i in from_jsonable(AgreementResult, old).images)


def test_a_coco_mask_outside_its_box_is_drawn_where_its_pixels_are(tmp_path: Path, unique_name: str) -> None:
    """A COCO JSON whose two objects' polygons are swapped (a 32 x 32 square on the left, a 48 x 16 bar on the
    right of a 128 x 64 image): each flagged box is drawn with the other object's mask, whole, outside the box."""
    import fiftyone as fo
    from PIL import Image

    import workbench
    from tests.conftest import write_image
    from tests.io.test_instance_masks import LEFT, RIGHT, _coco, _square
    from workbench.render.html_report import render_html

    root = tmp_path / "swapped"
    path = write_image(root / "data" / "two.png", 9, size=128)
    Image.open(path).resize((128, 64)).save(path)
    (root / "labels.json").write_text(json.dumps(_coco((LEFT, _square(*RIGHT)), (RIGHT, _square(*LEFT)))))
    ds = workbench.load(root / "labels.json", name=unique_name)
    try:
        result = workbench.run_audit(ds, workbench.AuditConfig(embedder="none"), progress=False)
    finally:
        fo.delete_dataset(ds.name)
    issues = {i.label: i for i in result.findings["objects"].issues}
    assert {label: i.kinds for label, i in issues.items()} == {"cat": ("mask_box_mismatch",),
                                                               "dog": ("mask_box_mismatch",)}
    svg = re.search(r"<svg .*?</svg>", _row(_section(render_html(result), "objects"), "two.png"), re.DOTALL).group(0)
    assert 'viewBox="0 0 96 48"' in svg  # 128 x 64 shown at 96 px: 0.75 px a pixel
    assert '<rect x="6" y="6" width="24" height="24"' in svg and '<rect x="54" y="18" width="36" height="12"' in svg
    paths = re.findall(r'<path class="mask" d="[^"]+"[^>]*><title>([^<]*)</title>', svg)
    assert paths == ["cat: mask_box_mismatch", "dog: mask_box_mismatch"]
    cat, dog = (re.search(rf'<path class="mask" d="([^"]+)"[^>]*><title>{label}:', svg).group(0) for label in
                ("cat", "dog"))
    assert _extent(_cells(cat)) == ((54, 18, 90, 30), 36 * 12)  # the bar's place, all of it: not the cat's box
    assert _extent(_cells(dog)) == ((6, 6, 30, 30), 24 * 24)  # the square's place
