"""Bad annotator inputs (``--annotators``, ``--annotator-file``): each case states its outcome (exit code and
a phrase of the message) and checks that no user file changed (:func:`untouched`).

The dataset is the catalogue's two-image COCO set (one cat each at ``[5, 5, 10, 10]`` on 40x40 images);
the second annotator's COCO export shifts each box one pixel right (IoU 90 / 110).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.catalogue.harness import run_cli, untouched
from tests.catalogue.test_annotations import coco
from tests.conftest import write_image

IOU = 90 / 110  # [5, 5, 10, 10] vs [6, 5, 10, 10]: intersection 9 x 10, union 100 + 100 - 90


def _export(path: Path, file_names: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [{"id": i, "file_name": f, "width": 40, "height": 40} for i, f in enumerate(file_names, 1)]
    anns = [{"id": i, "image_id": i, "category_id": 1, "bbox": [6, 5, 10, 10], "area": 100, "iscrowd": 0}
            for i in range(1, len(file_names) + 1)]
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": [{"id": 1, "name": "cat"}]}))
    return path


def _audit(src: Path, name: str, out: Path, *options: str):
    return run_cli("audit", src, "--embedder", "none", "--no-write-back", "--quiet", "--name", name, "--json", out,
                   *options)


def test_annotator_file_is_matched_by_file_name_and_compared(tmp_path: Path, unique_name: str):
    """Outcome: exit 0; agreement of ground_truth and ann_b with the hand-computed IoU; one export image that
    is no sample is left out with a warning."""
    root = tmp_path / "dataset"
    src = coco(root)
    ann = _export(root / "annotators" / "ann_b.json", ["img1.png", "data/img2.png", "ghost.png"])
    out = tmp_path / "out" / "audit.json"
    with untouched(root):
        result = _audit(src, unique_name, out, "--annotators", "ground_truth", "--annotator-file", f"ann_b={ann}")
    assert result.code == 0, result.text
    agreement = json.loads(out.read_text())["agreement"]
    assert agreement["annotators"] == ["ground_truth", "ann_b"] and agreement["n_images"] == 2
    assert agreement["mean_iou"] == pytest.approx(IOU, abs=1e-6) and agreement["verdict"] == "below target"
    assert agreement["pairs"][0]["n_matched"] == 2 and agreement["images_below_alarm"] == []
    assert "1 of its images match no sample" in result.stderr


def test_cvat_annotator_file_is_read_like_coco(tmp_path: Path, unique_name: str):
    """Outcome: exit 0; a CVAT-for-images export (a box, and a polygon read as the box around it) compares
    like the COCO one; a box without coordinates is left out with a warning."""
    root = tmp_path / "dataset"
    src = coco(root)
    xml = root / "annotators" / "ann_c.xml"
    xml.parent.mkdir(parents=True)
    xml.write_text('<annotations><image id="0" name="img1.png" width="40" height="40">'
                   '<box label="cat" xtl="6" ytl="5" xbr="16" ybr="15"/><box label="cat" xtl="x"/></image>'
                   '<image id="1" name="img2.png" width="40" height="40">'
                   '<polygon label="cat" points="6,5;16,5;16,15;6,15"/></image></annotations>')
    out = tmp_path / "out" / "audit.json"
    with untouched(root):
        result = _audit(src, unique_name, out, "--annotators", "ground_truth", "--annotator-file", f"ann_c={xml}")
    assert result.code == 0, result.text
    agreement = json.loads(out.read_text())["agreement"]
    assert agreement["mean_iou"] == pytest.approx(IOU, abs=1e-6) and agreement["pairs"][0]["n_matched"] == 2
    assert "1 boxes without a usable box" in result.stderr


CASES = {
    "annotator-field-missing": (("--annotators", "ground_truth,nope"), "has no field 'nope'"),
    "only-one-annotator": (("--annotators", "ground_truth"), "two or more different field names"),
    "annotators-empty-name": (("--annotators", "ground_truth,,x"), "without empty names"),
    "annotator-file-not-name-path": (("--annotator-file", "ann_b"), "write NAME=PATH"),
    "annotator-file-all-unknown": (("--annotators", "ground_truth", "--annotator-file", "ann_b={root}/unknown.json"),
                                   "none of its 2 images is a sample"),
    "annotator-file-outside-root": (("--annotators", "ground_truth", "--annotator-file",
                                     "ann_b={tmp}/elsewhere/ann_b.json"), "outside the dataset folder"),
    "annotator-file-not-json": (("--annotators", "ground_truth", "--annotator-file", "ann_b={root}/broken.json"),
                                "not a readable COCO JSON file"),
    "annotator-file-climbs-out": (("--annotators", "ground_truth", "--annotator-file", "ann_b={root}/climb.json"),
                                  "none of its 2 images is a sample"),
    "annotator-file-bad-xml": (("--annotators", "ground_truth", "--annotator-file", "ann_b={root}/broken.xml"),
                               "not a readable CVAT XML file"),
    "annotator-file-clobbers-field": (("--annotator-file", "ground_truth={root}/ok.json", "--annotators", "x"),
                                      "already has a field 'ground_truth'"),
}


@pytest.mark.parametrize("options,phrase", list(CASES.values()), ids=list(CASES))
def test_bad_annotator_input_is_an_input_error(options, phrase, tmp_path: Path, unique_name: str):
    root = tmp_path / "dataset"
    src = coco(root)
    _export(root / "unknown.json", ["nothere.png", "data/also-not.png"])
    _export(tmp_path / "elsewhere" / "ann_b.json", ["img1.png", "img2.png"])
    _export(root / "ok.json", ["img1.png", "img2.png"])
    _export(root / "climb.json", ["../dataset/data/img1.png", str(root / "data" / "img2.png")])
    (root / "broken.json").write_text('{"images": [')
    (root / "broken.xml").write_text("<annotations><image name='a.png'>")
    out = tmp_path / "out" / "audit.json"
    argv = [o.format(root=root, tmp=tmp_path) for o in options]
    with untouched(root, tmp_path / "elsewhere"):
        result = _audit(src, unique_name, out, *argv)
    assert result.code == 2, result.text
    assert phrase in result.stderr and "Traceback" not in result.text
    assert not out.exists()


def test_annotator_fields_of_different_label_types_are_an_input_error(tmp_path: Path, unique_name: str):
    """Outcome: exit 2 naming both fields' tasks; the images are untouched."""
    import fiftyone as fo

    root = tmp_path / "images"
    ds = fo.Dataset(unique_name)
    for k in range(2):
        path = write_image(root / f"im{k}.png", k, size=32)
        ds.add_sample(fo.Sample(filepath=str(path), ann_a=fo.Classification(label="cat"),
                                ann_b=fo.Detections(detections=[fo.Detection(label="cat", bounding_box=[0, 0, 1, 1])])))
    with untouched(root):
        result = run_cli("audit", unique_name, "--embedder", "none", "--no-write-back", "--quiet",
                         "--annotators", "ann_a,ann_b")
    assert result.code == 2, result.text
    assert "same kind of label" in result.stderr and "ann_a: classification" in result.stderr
