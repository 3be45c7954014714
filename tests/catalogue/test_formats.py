"""Inputs of every layout, tidy or not: each is recognised by content, or refused by name.

Each case builds a source (most of them with FiftyOne's own exporters, see
:mod:`tests.io.format_fixtures`), runs ``workbench audit`` through the CLI and states its
outcome: the exit code (0 audited, 2 input error) and a phrase of the summary or the message.
A stray JSON, YAML or text file at the root never decides the format; a layout workbench
doesn't read is refused with the list of layouts and the ``--format`` value of each. The
user's files are never changed (:func:`untouched`).
"""

from __future__ import annotations

import importlib.util
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Callable

import pytest

from tests.catalogue.harness import Case, run_cli, untouched
from tests.conftest import write_image
from tests.io.format_fixtures import export_layout, run_cli_with_pyarrow, write_hf

STRAY_FILES = {"truth.json": '{"a": 1}', "dataset_dict.json": '{"a": 1}', "config.yaml": "lr: 0.1\n",
               "data.yaml": "train: [unclosed\n", "notes.txt": "labelled by Ann\n"}


def _strays(root: Path) -> None:
    for name, text in STRAY_FILES.items():
        (root / name).write_text(text)


def _exported(kind: str, *, strays: bool = True) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        root = export_layout(kind, tmp / "dataset", tmp / "scratch")
        if strays:
            _strays(root)
        return root
    return build


def _class_tree(tmp: Path) -> Path:
    root = tmp / "dataset"
    for i in range(6):
        write_image(root / ("train" if i < 4 else "val") / ("cat" if i % 2 else "dog") / f"{i}.png", i)
    _strays(root)
    return root


def _coco2017(tmp: Path) -> Path:
    root = tmp / "dataset"
    for split, seeds in (("train", (1, 2)), ("val", (3,))):
        for s in seeds:
            write_image(root / f"{split}2017" / f"{s:012d}.jpg", s, size=40, fmt="JPEG")
        images = [{"id": s, "file_name": f"{s:012d}.jpg", "width": 40, "height": 40} for s in seeds]
        boxes = [{"id": s, "image_id": s, "category_id": 1, "bbox": [2, 2, 9, 9], "area": 81, "iscrowd": 0}
                 for s in seeds]
        (root / "annotations").mkdir(exist_ok=True)
        (root / "annotations" / f"instances_{split}2017.json").write_text(json.dumps(
            {"images": images, "annotations": boxes, "categories": [{"id": 1, "name": "person"}]}))
        (root / "annotations" / f"captions_{split}2017.json").write_text(json.dumps(
            {"images": images, "annotations": [{"id": s, "image_id": s, "caption": "a person"} for s in seeds]}))
    return root


def _voc_devkit(tmp: Path) -> Path:
    root = tmp / "VOC2012"
    for i in range(3):
        write_image(root / "JPEGImages" / f"2008_{i:06d}.jpg", i, size=40, fmt="JPEG")
        ann = ET.Element("annotation")
        ET.SubElement(ann, "filename").text = f"2008_{i:06d}.jpg"
        obj = ET.SubElement(ann, "object")
        ET.SubElement(obj, "name").text = "bird"
        box = ET.SubElement(obj, "bndbox")
        for tag, value in (("xmin", 2), ("ymin", 2), ("xmax", 20), ("ymax", 20)):
            ET.SubElement(box, tag).text = str(value)
        (root / "Annotations").mkdir(parents=True, exist_ok=True)
        ET.ElementTree(ann).write(root / "Annotations" / f"2008_{i:06d}.xml")
    (root / "ImageSets" / "Main").mkdir(parents=True)
    (root / "ImageSets" / "Main" / "train.txt").write_text("2008_000000\n2008_000001\n")
    (root / "ImageSets" / "Main" / "val.txt").write_text("2008_000002\n")
    return root


def _flat(tmp: Path) -> Path:
    root = tmp / "dataset"
    for i in range(4):
        write_image(root / f"photo{i}.png", i)
    (root / "copy.png").write_bytes((root / "photo0.png").read_bytes())
    _strays(root)
    return root


def _files(**files: str) -> Callable[[Path], Path]:
    def build(tmp: Path) -> Path:
        root = tmp / "dataset"
        root.mkdir(parents=True)
        for name, text in files.items():
            (root / name.replace("__", ".")).write_text(text)
        return root
    return build


def _class_tree_with_non_images(tmp: Path) -> Path:
    """Class folders holding what file managers and people leave there: none of it is an image."""
    root = _class_tree(tmp)
    for folder in ("train/cat", "train/dog", "val/cat"):
        (root / folder / "Thumbs.db").write_bytes(b"\xd0\xcf\x11\xe0" + bytes(60))
        (root / folder / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
        (root / folder / "README.txt").write_text("labelled by Ann\n")
        (root / folder / "notes.json").write_text('{"a": 1}')
    return root


def _flat_class_folders_with_thumbs(tmp: Path) -> Path:
    root = tmp / "dataset"
    for i in range(4):
        write_image(root / ("cat" if i % 2 else "dog") / f"{i}.png", i)
    (root / "cat" / "Thumbs.db").write_bytes(bytes(64))
    return root


def _class_tree_with_non_utf8_name(tmp: Path) -> Path:
    root = _class_tree(tmp)
    with open(os.fsencode(root / "train" / "cat") + b"/caf\xe9.png", "wb") as fh:  # Latin-1 name: not UTF-8
        fh.write((root / "train" / "cat" / "1.png").read_bytes())
    return root


def _voc_with_one_malformed_xml(tmp: Path) -> Path:
    root = _voc_devkit(tmp)
    write_image(root / "JPEGImages" / "0000_broken.jpg", 9, size=40, fmt="JPEG")
    (root / "Annotations" / "0000_broken.xml").write_text("<annotation><broken")  # sorts first
    return root


def _cvat_video(tmp: Path) -> Path:
    root = tmp / "dataset"
    write_image(root / "images" / "frame0.png", 1)
    (root / "annotations.xml").write_text('<annotations><version>1.1</version><track id="0" label="car">'
                                          '<box frame="0" xtl="1" ytl="1" xbr="5" ybr="5"/></track></annotations>')
    return root


def _nested(tmp: Path) -> Path:
    _class_tree(tmp / "outer")
    return tmp / "outer"  # the dataset lies one level down, in outer/dataset/


def _classification_export_with_unlabelled(root: Path) -> Path:
    """A FiftyOne image-classification export (``data/`` + ``labels.json``) where 4 of 12 images have a null label:
    pandas 3 reads a missing label as ``nan``, which once crashed balance, spurious correlations and the split."""
    labels = {}
    for i in range(12):
        write_image(root / "data" / f"img{i:02d}.png", 500 + i)
        labels[f"img{i:02d}"] = None if i % 3 == 0 else i % 2
    (root / "labels.json").write_text(json.dumps({"classes": ["cat", "dog"], "labels": labels}))
    return root


CASES = {
    "fiftyone-classification-export-with-null-labels": Case(_classification_export_with_unlabelled, 0, (
        "(classification, 12 samples, 2 classes", "balance        smallest/largest", "resplit        fresh split")),
    # Recognised by content, stray files at the root notwithstanding.
    "imagefolder-with-stray-json-yaml-txt": Case(_class_tree, 0, ("(classification, 6 samples, 2 classes, "
                                                                  "splits: train, val)",)),
    "coco-fiftyone-export-with-strays": Case(_exported("coco"), 0, ("(detection, 6 samples, 2 classes",)),
    "coco-2017-layout": Case(_coco2017, 0, ("(detection, 3 samples, 1 classes, splits: train, val)",)),
    "yolo-fiftyone-export-with-strays": Case(_exported("yolo"), 0, ("(detection, 6 samples, 2 classes, "
                                                                    "splits: train, val)",)),
    "voc-fiftyone-export-with-strays": Case(_exported("voc"), 0, ("(detection, 6 samples, 2 classes",)),
    "voc-devkit-with-imagesets": Case(_voc_devkit, 0, ("(detection, 3 samples, 1 classes, splits: train, val)",)),
    "cvat-fiftyone-export-with-strays": Case(_exported("cvat"), 0, ("(detection, 6 samples, 2 classes",)),
    "segmentation-fiftyone-export-with-strays": Case(_exported("segmentation"), 0, (
        "(segmentation, 6 samples, 2 classes", "below the 50-images minimum: 1, 2")),
    "fiftyone-dataset-export-with-strays": Case(_exported("fiftyone"), 0, ("(classification, 6 samples, 2 classes, "
                                                                          "splits: train, val)",)),
    "fiftyone-classification-export-with-strays": Case(_exported("fiftyone-classification"), 0, (
        "(classification, 6 samples, 2 classes",)),
    "fiftyone-detection-export-with-strays": Case(_exported("fiftyone-detection"), 0, (
        "(detection, 6 samples, 2 classes",)),
    "flat-folder-runs-the-checks-without-labels": Case(_flat, 0, (
        "5 samples, 0 classes", "duplicates     1 clusters (1 exact", "skipped        balance: the dataset has no labels",
        "skipped        label_issues: needs image-level class labels")),
    # Files that are not images inside class folders are skipped, never a reason to stop.
    "imagefolder-non-images-in-class-folders": Case(_class_tree_with_non_images, 0, (
        "(classification, 6 samples, 2 classes, splits: train, val)", "are not images and were skipped",
        "Thumbs.db")),
    "imagefolder-forced-with-thumbs-db-in-a-class": Case(_flat_class_folders_with_thumbs, 0, (
        "(classification, 4 samples, 2 classes", "cat/Thumbs.db"), ("--format", "imagefolder")),
    "imagefolder-file-name-not-utf8-is-named": Case(_class_tree_with_non_utf8_name, 0, (
        "(classification, 6 samples", "caf\\xe9.png: the file name is not valid UTF-8")),
    # One malformed annotation doesn't change what the dataset is.
    "voc-one-malformed-xml-among-valid-ones": Case(_voc_with_one_malformed_xml, 0, (
        "(detection, 3 samples, 1 classes", "0000_broken.xml is not readable XML")),
    "voc-one-malformed-xml-forced": Case(_voc_with_one_malformed_xml, 0, (
        "(detection, 3 samples, 1 classes", "0000_broken.xml is not readable XML"), ("--format", "voc")),
    # Refused by name, exit 2.
    "unknown-layout-lists-every-format": Case(_files(notes__txt="hi", table__csv="a,b\n"), 2, (
        "can't tell what", "--format voc ", "--format huggingface ", "--format imagedir ")),
    "only-non-image-files": Case(_files(report__pdf="%PDF-1.4", scan__docx="PK", readme__md="# data"), 2, (
        "can't tell what",)),
    "empty-folder": Case(_files(), 2, ("is empty",)),
    "broken-data-yaml-alone-is-named": Case(_files(data__yaml="train: [unclosed\n"), 2, (
        "data.yaml is not valid YAML",)),
    "cvat-video-is-refused-by-name": Case(_cvat_video, 2, ("is a CVAT for video export",)),
    "dataset-one-folder-down-is-pointed-to": Case(_nested, 2, (
        "dataset/ looks like a dataset (imagefolder): pass",)),
    "format-forced-to-voc-on-a-class-tree": Case(_class_tree, 2, ("--format voc:", "is not a Pascal VOC dataset"),
                                                 ("--format", "voc")),
    "format-forced-to-coco-on-a-class-tree": Case(_class_tree, 2, ("no COCO annotation JSON",), ("--format", "coco")),
    "format-forced-to-an-unknown-name": Case(_class_tree, 2, ("invalid choice: 'pascal'",), ("--format", "pascal")),
}


def _audit(src: Path, name: str, *args: str):
    return run_cli("audit", src, "--embedder", "none", "--no-write-back", "--quiet", "--name", name, *args)


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_format_case(case: Case, tmp_path: Path, unique_name: str):
    src = case.build(tmp_path / "in")
    with untouched(src):
        result = _audit(src, unique_name, *case.args)
    assert result.code == case.code, result.text[-3000:]
    flowing = " ".join(result.text.split())  # the summary wraps long lines
    for phrase in case.phrases:
        assert phrase in result.text or phrase in flowing, (phrase, result.text[-3000:])


@pytest.mark.parametrize("kind", ["dict", "parquet"])
def test_hugging_face_folder_is_audited_with_its_splits_and_leak(kind, pyarrow_deps, tmp_path, unique_name):
    root = write_hf(kind, tmp_path / "hf", pyarrow_deps)
    for name in ("truth.json", "config.yaml", "notes.txt"):
        (root / name).write_text(STRAY_FILES[name])
    with untouched(root):
        result = run_cli_with_pyarrow(pyarrow_deps, "audit", root, "--embedder", "none", "--no-write-back",
                                      "--quiet", "--name", unique_name)
    assert result.returncode == 0, result.stderr[-3000:]
    for phrase in ("(classification, 6 samples, 2 classes, splits: train, val)", "leaks          1 cross-split"):
        assert phrase in result.stdout, (phrase, result.stdout)


def test_hugging_face_without_pyarrow_is_an_input_error_saying_what_to_install(pyarrow_deps, tmp_path, unique_name):
    if importlib.util.find_spec("pyarrow") is not None:
        pytest.skip("pyarrow is importable in this environment")
    root = write_hf("single", tmp_path / "hf", pyarrow_deps)
    with untouched(root):
        result = _audit(root, unique_name)
    assert result.code == 2 and "needs pyarrow" in result.stderr and "workbench[hf]" in result.stderr
