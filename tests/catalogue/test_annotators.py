"""Bad annotator inputs (``--annotators``, ``--annotator-file``): each case states its outcome (exit code and
a phrase of the message) and checks that no user file changed (:func:`untouched`).

The dataset is the catalogue's two-image COCO set (one cat each at ``[5, 5, 10, 10]`` on 40x40 images);
the second annotator's COCO export shifts each box one pixel right (IoU 90 / 110). Label Studio exports give
the same boxes in percent of the 40 x 40 images (:func:`_rect`; ``x`` 15 % is 6 px).
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


def _rect(x: float, y: float = 12.5, w: float = 25, h: float = 25, label: str = "cat", rotation: float = 0) -> dict:
    """A Label Studio rectangle in percent of a 40 x 40 image."""
    return {"type": "rectanglelabels", "from_name": "label", "to_name": "image", "original_width": 40,
            "original_height": 40, "value": {"x": x, "y": y, "width": w, "height": h, "rotation": rotation,
                                             "rectanglelabels": [label]}}


def _task(image: str, *annotations: dict, **extra) -> dict:
    return {"id": 1, "data": {"image": image}, "annotations": list(annotations), **extra}


def _ann(who, *results: dict, cancelled: bool = False) -> dict:
    return {"id": 1, "completed_by": who, "was_cancelled": cancelled, "result": list(results)}


def _ls(path: Path, tasks: list) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(tasks))
    return path


UPLOADED = "/data/upload/3/1a2b3c4d-img1.png"  # img1.png, uploaded to Label Studio
LOCAL = "/data/local-files/?d=dataset%2Fdata%2Fimg2.png"  # img2.png, served from local storage


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


def test_label_studio_export_of_two_annotators_is_compared_with_hand_computed_ious(tmp_path: Path,
                                                                                    unique_name: str):
    """Outcome: exit 0; a Label Studio export of annotators 3 and 12 adds ls_3 and ls_12. Annotator 3: img1 a
    rectangle [6, 5, 10, 10] px, img2 a polygon around the same; annotator 12 (``completed_by`` as an object):
    img1 a 10 x 12 px rectangle at (17, 5) turned 90 degrees clockwise around its top-left corner, so the box
    around it is [5, 5, 12, 10], img2 exactly the ground truth. A cancelled annotation and the predictions are
    left out (a prediction read as an annotation would add a field and a box)."""
    root = tmp_path / "dataset"
    src = coco(root)
    polygon = {"type": "polygonlabels", "from_name": "poly", "to_name": "image",
               "value": {"points": [[15, 12.5], [40, 12.5], [40, 37.5], [15, 37.5]], "polygonlabels": ["cat"]}}
    ghost = {"model_version": "v1", "result": [_rect(60, label="ghost")]}
    export = _ls(root / "annotators" / "label_studio.json", [
        _task(UPLOADED, _ann(3, _rect(15)), _ann({"id": 12, "email": "b@example.org"}, _rect(42.5, w=25, h=30,
                                                                                            rotation=90)),
              predictions=[ghost]),
        _task(LOCAL, _ann(3, polygon), _ann(12, _rect(12.5)), _ann(5, _rect(0), cancelled=True), predictions=[ghost])])
    out = tmp_path / "out" / "audit.json"
    with untouched(root):
        result = _audit(src, unique_name, out, "--annotators", "ground_truth", "--annotator-file", f"ls={export}")
    assert result.code == 0, result.text
    agreement = json.loads(out.read_text())["agreement"]
    assert agreement["annotators"] == ["ground_truth", "ls_3", "ls_12"] and agreement["n_images"] == 2
    shifted, wider = 90 / 110, 100 / 120  # [6, 5, 10, 10] and [5, 5, 12, 10] against [5, 5, 10, 10]: 100 / 120
    # [6, 5, 10, 10] against [5, 5, 12, 10]: intersection 10 x 10, union 100 + 120 - 100
    expected = {("ground_truth", "ls_3"): [shifted, shifted], ("ground_truth", "ls_12"): [wider, 1.0],
                ("ls_3", "ls_12"): [wider, shifted]}
    pairs = {(p["a"], p["b"]): p for p in agreement["pairs"]}
    for pair, ious in expected.items():
        assert pairs[pair]["n_matched"] == 2 and pairs[pair]["unmatched_a"] == pairs[pair]["unmatched_b"] == 0
        assert pairs[pair]["mean_iou"] == pytest.approx(sum(ious) / 2, abs=1e-6), pair
    everything = [v for ious in expected.values() for v in ious]
    assert agreement["mean_iou"] == pytest.approx(sum(everything) / len(everything), abs=1e-6)
    assert "ghost" not in json.dumps(agreement["classes"])


def test_label_studio_choices_are_compared_as_class_labels(tmp_path: Path, unique_name: str):
    """Outcome: exit 0; an export of ``choices`` only adds Classification fields, compared as class labels:
    annotators 3 and 12 agree on img1 (cat) and not on img2 (dog / cat): observed agreement 1/2, Cohen's
    kappa (0.5 - 0.5) / (1 - 0.5) = 0."""
    import fiftyone as fo

    root = tmp_path / "dataset"
    src = coco(root)

    def choice(label: str) -> dict:
        return {"type": "choices", "from_name": "species", "to_name": "image", "value": {"choices": [label]}}

    export = _ls(root / "choices.json", [_task(UPLOADED, _ann(3, choice("cat")), _ann(12, choice("cat"))),
                                          _task(LOCAL, _ann(3, choice("dog")), _ann(12, choice("cat")))])
    out = tmp_path / "out" / "audit.json"
    with untouched(root):
        result = _audit(src, unique_name, out, "--annotator-file", f"species={export}")
    assert result.code == 0, result.text
    agreement = json.loads(out.read_text())["agreement"]
    assert agreement["kind"] == "classification" and agreement["annotators"] == ["species_3", "species_12"]
    pair = agreement["pairs"][0]
    assert pair["observed"] == pytest.approx(0.5) and pair["kappa"] == pytest.approx(0, abs=1e-9)
    assert [i["given"] for i in agreement["images_below_alarm"]] == [["dog", "cat"]]
    dataset = fo.load_dataset(unique_name)
    assert dataset.get_field("species_3").document_type is fo.Classification


#: Label Studio exports that still compare: the tasks, the expected mean IoU of ground_truth and ls, the images
#: compared, and a phrase of the warning (or None).
LS_KEPT = {
    "ls-task-without-annotations": ([_task(UPLOADED, _ann(3, _rect(15))), _task(LOCAL)], 90 / 110, 1, None),
    "ls-unknown-result-types": ([_task(UPLOADED, _ann(3, _rect(15), {"type": "keypointlabels", "value": {
        "x": 1, "y": 1, "keypointlabels": ["eye"]}}, {"type": "textarea", "value": {"text": ["?"]}})),
                                 _task(LOCAL, _ann(3, _rect(15), {"type": "brushlabels", "value": {"rle": [1]}}))],
                                90 / 110, 2, "3 results of other types"),
    # x -5 % .. 40 % is clipped to 0 .. 16 px: [0, 5, 16, 10] against [5, 5, 10, 10] is 100 / 160; a NaN width
    # and a box wholly right of the image are left out
    "ls-out-of-range-and-nan": ([_task(UPLOADED, _ann(3, _rect(-5, w=45), _rect(15, w=float("nan")), _rect(150))),
                                 _task(LOCAL, _ann(3, _rect(15)))], (100 / 160 + 90 / 110) / 2, 2,
                                "2 boxes without a usable box"),
    "ls-partly-unknown": ([_task(UPLOADED, _ann(3, _rect(15))), _task(LOCAL, _ann(3, _rect(15))),
                           _task("/data/upload/3/deadbeef-ghost.png", _ann(3, _rect(15)))], 90 / 110, 2,
                          "1 of its images match no sample"),
    "ls-cancelled": ([_task(UPLOADED, _ann(3, _rect(15))), _task(LOCAL, _ann(3, _rect(0)), _ann(3, _rect(15)),
                                                                 _ann(3, _rect(30), cancelled=True))],
                     90 / 110, 2, "1 cancelled annotations"),
    # annotator 9 cancelled all it did: no field, but counted and named
    "ls-annotator-only-cancelled": ([_task(UPLOADED, _ann(3, _rect(15)), _ann(9, _rect(0), cancelled=True)),
                                     _task(LOCAL, _ann(3, _rect(15)), _ann(9, _rect(0), cancelled=True))],
                                    90 / 110, 2, "2 cancelled annotations of annotators who have nothing else were "
                                                 "left out (no field for annotator 9)"),
    # an unknown image's name holding terminal control characters is shown escaped in the warning
    "ls-control-characters-in-a-name": ([_task(UPLOADED, _ann(3, _rect(15))), _task(LOCAL, _ann(3, _rect(15))),
                                         _task("/data/upload/3/deadbeef-\x1b[2J\x1b]0;pwned\x07evil.png",
                                               _ann(3, _rect(15)))], 90 / 110, 2,
                                        "1 of its images match no sample and were left out (e.g. /data/upload/3/"
                                        "deadbeef-\\x1b[2J\\x1b]0;pwned\\x07evil.png)"),
}


def _compare_with_ground_truth(src: Path, tasks: list, name: str):
    """``audit SRC --annotators ground_truth --annotator-file ls=export.json`` (the export of ``tasks`` beside
    ``src``; nothing under that folder may change): the outcome and where its JSON goes."""
    root = src.parent
    export = _ls(root / "export.json", tasks)
    out = root.parent / "out" / "audit.json"
    with untouched(root):
        result = _audit(src, name, out, "--annotators", "ground_truth", "--annotator-file", f"ls={export}")
    return result, out


@pytest.mark.parametrize("tasks,mean_iou,n_images,phrase", list(LS_KEPT.values()), ids=list(LS_KEPT))
def test_label_studio_export_with_bad_parts_still_compares(tasks, mean_iou, n_images, phrase, tmp_path: Path,
                                                           unique_name: str):
    result, out = _compare_with_ground_truth(coco(tmp_path / "dataset"), tasks, unique_name)
    assert result.code == 0, result.text
    agreement = json.loads(out.read_text())["agreement"]
    assert agreement["annotators"] == ["ground_truth", "ls"] and agreement["n_images"] == n_images
    assert agreement["mean_iou"] == pytest.approx(mean_iou, abs=1e-6)
    assert phrase is None or phrase in result.stderr, result.stderr
    assert "\x1b" not in result.text and "\x07" not in result.text


def test_formats_are_told_by_content_not_extension(tmp_path: Path, unique_name: str):
    """Outcome: exit 0; a Label Studio export named .xml and a COCO export without an extension are read as
    what they hold, and agree as the shifted boxes do."""
    root = tmp_path / "dataset"
    src = coco(root)
    export = _ls(root / "ls_export.xml", [_task(UPLOADED, _ann(3, _rect(15))), _task(LOCAL, _ann(3, _rect(15)))])
    plain = _export(root / "coco_export", ["img1.png", "img2.png"])
    out = tmp_path / "out" / "audit.json"
    with untouched(root):
        result = _audit(src, unique_name, out, "--annotator-file", f"ls={export}", "--annotator-file", f"cc={plain}")
    assert result.code == 0, result.text
    agreement = json.loads(out.read_text())["agreement"]
    assert agreement["annotators"] == ["ls", "cc"] and agreement["mean_iou"] == pytest.approx(1.0, abs=1e-6)


def _with_ground_truth(export: str, phrase: str) -> tuple[tuple[str, ...], str]:
    """A case comparing ground_truth with the Label Studio export ``export`` of the dataset folder."""
    return ("--annotators", "ground_truth", "--annotator-file", f"ls={{root}}/{export}"), phrase


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
    "ls-malformed-json": _with_ground_truth("ls_broken.json", "not a readable Label Studio JSON file"),
    "ls-json-min-not-json": _with_ground_truth("ls_min.json", "task 0 is not a Label Studio task with a data object"),
    "ls-empty-list": _with_ground_truth("ls_empty.json", "the export holds no tasks"),
    "ls-no-annotations": _with_ground_truth("ls_none.json", "none of its 2 tasks has an annotation (1 cancelled"),
    "ls-all-unknown": _with_ground_truth("ls_unknown.json", ("none of its 2 images is a sample",
                                                             "each task's data.image must end with the image's path")),
    "ls-climbs-out": _with_ground_truth("ls_climb.json", "none of its 3 images is a sample"),
    "ls-one-annotator-alone": (("--annotator-file", "ls={root}/ls_one.json"), "two or more different field names"),
    "ls-annotator-field-clobbers": (("--annotator-file", "ground={root}/ls_clobber.json"),
                                    "already has a field 'ground_truth'"),
    "ls-outside-root": (("--annotators", "ground_truth", "--annotator-file", "ls={tmp}/elsewhere/ls.json"),
                        "outside the dataset folder"),
    # annotators 3 and 12 give ls_3 and ls_12; a second export named ls_3 would overwrite one of them
    "annotator-file-fields-clash": (("--annotator-file", "ls={root}/ls_two.json", "--annotator-file",
                                     "ls_3={root}/ok.json"),
                                    "--annotator-file ls_3={root}/ok.json and --annotator-file ls={root}/ls_two.json "
                                    "(annotator 3 of a Label Studio export) both give the field 'ls_3'"),
    "annotator-file-same-name-twice": (("--annotators", "ground_truth", "--annotator-file", "ann_b={root}/ok.json",
                                        "--annotator-file", "ann_b={root}/ls_one.json"), "both give the field 'ann_b'"),
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
    (root / "ls_broken.json").write_text('[{"data": {"image": "img1.png"}, "annotations": [')
    _ls(root / "ls_min.json", [{"image": "img1.png", "label": [{"x": 1, "y": 1, "rectanglelabels": ["cat"]}]}])
    _ls(root / "ls_empty.json", [])
    _ls(root / "ls_none.json", [_task(UPLOADED, predictions=[{"result": [_rect(15)]}]),
                                _task(LOCAL, _ann(3, _rect(15), cancelled=True))])
    _ls(root / "ls_unknown.json", [_task("/data/upload/1/0badcafe-nothere.png", _ann(3, _rect(15))),
                                   _task("https://example.com/also-not.png", _ann(3, _rect(15)))])
    _ls(root / "ls_climb.json", [_task("/data/local-files/?d=..%2Fdataset%2Fdata%2Fimg1.png", _ann(3, _rect(15))),
                                 _task(f"/data/local-files/?d={root}/data/img2.png", _ann(3, _rect(15))),
                                 _task(str(root / "data" / "img2.png"), _ann(3, _rect(15)))])
    _ls(root / "ls_one.json", [_task(UPLOADED, _ann(3, _rect(15))), _task(LOCAL, _ann(3, _rect(15)))])
    _ls(root / "ls_clobber.json", [_task(UPLOADED, _ann("truth", _rect(15)), _ann(3, _rect(15)))])
    _ls(root / "ls_two.json", [_task(UPLOADED, _ann(3, _rect(15)), _ann(12, _rect(12.5)))])
    _ls(tmp_path / "elsewhere" / "ls.json", [_task(UPLOADED, _ann(3, _rect(15)))])
    out = tmp_path / "out" / "audit.json"
    argv = [o.format(root=root, tmp=tmp_path) for o in options]
    with untouched(root, tmp_path / "elsewhere"):
        result = _audit(src, unique_name, out, *argv)
    assert result.code == 2, result.text
    for one in (phrase,) if isinstance(phrase, str) else phrase:
        assert one.format(root=root) in result.stderr, result.stderr
    assert "Traceback" not in result.text and not out.exists()
    assert _label_fields(unique_name) == ["ground_truth"]  # the failed run left no annotator field behind


def _label_fields(name: str) -> list[str]:
    """The dataset's Detections and Classification fields (none when it was never loaded)."""
    import fiftyone as fo

    if not fo.dataset_exists(name):
        return ["ground_truth"]
    dataset = fo.load_dataset(name)
    return sorted(f for kind in (fo.Detections, fo.Classification)
                  for f in dataset.get_field_schema(embedded_doc_type=kind))


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


def _same_names(root: Path) -> Path:
    """A COCO dataset whose a/img1.png and b/img1.png share a name (and c/img2.png), one cat each."""
    names = ["a/img1.png", "b/img1.png", "c/img2.png"]
    for k, name in enumerate(names):
        write_image(root / name, k, size=40)
    (root / "labels.json").write_text(json.dumps({
        "images": [{"id": k, "file_name": n, "width": 40, "height": 40} for k, n in enumerate(names)],
        "annotations": [{"id": k, "image_id": k, "category_id": 1, "bbox": [5, 5, 10, 10], "area": 100,
                         "iscrowd": 0} for k in range(len(names))],
        "categories": [{"id": 1, "name": "cat"}]}))
    return root / "labels.json"


AMBIGUOUS = "/data/upload/3/1a2b3c4d-img1.png (a/img1.png, b/img1.png)"


@pytest.mark.parametrize("tasks,code,phrase", [
    ([_task(UPLOADED, _ann(3, _rect(15))), _task("/data/upload/3/1a2b3c4d-img2.png", _ann(3, _rect(15)))], 0,
     f"1 of its images name several samples and were left out (e.g. {AMBIGUOUS})"),
    ([_task(UPLOADED, _ann(3, _rect(15)))], 2,
     f"none of its 1 images is a sample of dataset '{{name}}' (1 name several samples, e.g. {AMBIGUOUS})"),
], ids=["ls-name-of-two-samples", "ls-only-names-of-two-samples"])
def test_a_name_of_several_samples_is_ambiguous_not_unknown(tasks, code, phrase, tmp_path: Path, unique_name: str):
    """Outcome: an uploaded img1.png when the dataset has a/img1.png and b/img1.png is left out as ambiguous,
    the candidates named (not "match no sample"); the other image is compared (exit 0). With no other image:
    exit 2 saying so."""
    result, out = _compare_with_ground_truth(_same_names(tmp_path / "dataset"), tasks, unique_name)
    assert result.code == code, result.text
    assert phrase.format(name=unique_name) in result.stderr and "match no sample" not in result.stderr
    if code == 0:
        agreement = json.loads(out.read_text())["agreement"]
        assert agreement["n_images"] == 1 and agreement["mean_iou"] == pytest.approx(IOU, abs=1e-6)


def test_a_failed_run_removes_the_annotator_fields_it_added(tmp_path: Path, unique_name: str):
    """Outcome: exit 0 adds ann_b; a later run adding ann_b again and a classification export `species` fails
    after writing them (exit 2: boxes and class labels can't be compared): species is removed, ann_b (added by
    the earlier run, given again) stays, and so does its record in dataset.info."""
    import fiftyone as fo

    root = tmp_path / "dataset"
    src = coco(root)
    ok = _export(root / "ok.json", ["img1.png", "img2.png"])
    choices = _ls(root / "choices.json", [_task(UPLOADED, _ann(3, {"type": "choices", "from_name": "species",
                                                                   "value": {"choices": ["cat"]}}))])
    out = tmp_path / "out" / "audit.json"
    with untouched(root):
        first = _audit(src, unique_name, out, "--annotators", "ground_truth", "--annotator-file", f"ann_b={ok}")
        failed = _audit(src, unique_name, tmp_path / "out" / "failed.json", "--annotators", "ground_truth",
                        "--annotator-file", f"ann_b={ok}", "--annotator-file", f"species={choices}")
    assert first.code == 0, first.text
    assert failed.code == 2 and "same kind of label" in failed.stderr, failed.text
    assert _label_fields(unique_name) == ["ann_b", "ground_truth"]
    assert set(fo.load_dataset(unique_name).info["workbench"]["annotator_files"]) == {"ann_b"}
