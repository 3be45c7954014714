"""Bad annotations: each is a finding naming its file (and line), the rest of the dataset is audited.

Every case runs ``workbench audit`` in-process on a small YOLO or COCO dataset with one
planted defect and states its outcome: the exit code (0 audit done, 2 the source can't be
used at all), the phrase expected among the JSON's annotation file problems (or in the
error), the number of samples audited and the class counts, which never include a dropped
box. The user's files are never changed (:func:`untouched`).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest

from tests.catalogue.harness import run_cli, untouched
from tests.conftest import write_image

GOOD = "0 0.5 0.5 0.2 0.2\n"


def yolo(root: Path, *, extra: str = "", yaml: str = "train: images/train\nval: images/val\nnames: [car, bus]\n"
         ) -> Path:
    """images/{train: a, b; val: c}.png (40x40), each labelled with one car; ``extra`` is appended to a.txt."""
    for seed, (split, name) in enumerate((("train", "a"), ("train", "b"), ("val", "c"))):
        write_image(root / "images" / split / f"{name}.png", seed, size=40)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split / f"{name}.txt").write_text(GOOD + (extra if name == "a" else ""))
    (root / "data.yaml").write_text(yaml)
    return root


def coco(root: Path, *, ann: dict | None = None, image: dict | None = None, missing_file: bool = False) -> Path:
    """Two 40x40 images with one cat each; ``ann`` is added (on image 1), ``image`` replaces image 2's entry."""
    for i in (1, 2):
        if not (missing_file and i == 2):
            write_image(root / "data" / f"img{i}.png", i, size=40)
    images = [{"id": i, "file_name": f"img{i}.png", "width": 40, "height": 40} for i in (1, 2)]
    if image is not None:
        images[1] = image
    anns = [{"id": i, "image_id": i, "category_id": 1, "bbox": [5, 5, 10, 10], "area": 100, "iscrowd": 0}
            for i in (1, 2)]
    if ann is not None:
        anns.append({"id": 9, "image_id": 1, "iscrowd": 0, "area": 1, **ann})
    (root / "labels.json").write_text(json.dumps({
        "images": images, "annotations": anns,
        "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]}))
    return root / "labels.json"


def voc(root: Path, *, extra_box: tuple[float, float, float, float] | None = None) -> Path:
    """VOC's JPEGImages/ + Annotations/: img1, img2 (40x40) with one cat each; ``extra_box`` (xmin, ymin,
    xmax, ymax) is a dog added to img1."""
    for i in (1, 2):
        write_image(root / "JPEGImages" / f"img{i}.png", i, size=40)
        boxes = [("cat", (5, 5, 15, 15))] + ([("dog", extra_box)] if extra_box and i == 1 else [])
        objects = "".join(
            f"<object><name>{n}</name><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin><xmax>{b[2]}</xmax>"
            f"<ymax>{b[3]}</ymax></bndbox></object>" for n, b in boxes)
        _write(root / "Annotations" / f"img{i}.xml",
               f"<annotation><filename>img{i}.png</filename><size><width>40</width><height>40</height>"
               f"<depth>3</depth></size>{objects}</annotation>")
    return root


def cvat(root: Path, *, extra_box: tuple[float, float, float, float] | None = None) -> Path:
    """CVAT's images/ + annotations.xml: img1, img2 (40x40) with one cat each; ``extra_box`` (xtl, ytl, xbr,
    ybr) is a dog added to img1."""
    images = []
    for i in (1, 2):
        write_image(root / "images" / f"img{i}.png", i, size=40)
        boxes = [("cat", (5, 5, 15, 15))] + ([("dog", extra_box)] if extra_box and i == 1 else [])
        shapes = "".join(f'<box label="{n}" xtl="{b[0]}" ytl="{b[1]}" xbr="{b[2]}" ybr="{b[3]}" occluded="0"/>'
                         for n, b in boxes)
        images.append(f'<image id="{i - 1}" name="img{i}.png" width="40" height="40">{shapes}</image>')
    _write(root / "annotations.xml", '<?xml version="1.0" encoding="utf-8"?><annotations><version>1.1</version>'
           "<meta><task><labels><label><name>cat</name></label><label><name>dog</name></label></labels></task>"
           f"</meta>{''.join(images)}</annotations>")
    return root


def _write(path: Path, content: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())


@dataclass(frozen=True)
class Case:
    build: Callable[[Path], Path]
    phrases: tuple[str, ...] = ()  # each in one annotation file problem, one problem per phrase
    counts: dict[str, int] = field(default_factory=dict)  # class -> instances over all splits
    samples: int = 3
    code: int = 0
    problem_path: str | None = None  # where the first problem points, relative to the dataset folder


def _yolo_line(line: str) -> Callable[[Path], Path]:
    return lambda root: yolo(root, extra=line + "\n")


def _then(build: Callable[[Path], Path], change: Callable[[Path], object]) -> Callable[[Path], Path]:
    def both(root: Path) -> Path:
        src = build(root)
        change(root)
        return src
    return both


CASES = {
    "yolo-class-id-out-of-range": Case(
        _yolo_line("7 0.5 0.5 0.2 0.2"), ("labels/train/a.txt line 2: class id 7 is out of range",),
        {"car": 3}, problem_path="images/train/a.png"),
    "yolo-pixel-coordinates": Case(
        _yolo_line("1 320 240 50 50"), ("line 2: box '1 320 240 50 50' lies entirely outside the image; box dropped "
                                        "(values above 1 look like pixels",), {"car": 3}),
    "yolo-negative-coordinates": Case(
        _yolo_line("1 -0.3 0.5 0.2 0.2"), ("lies entirely outside the image; box dropped",), {"car": 3}),
    "yolo-slightly-past-the-edge-is-clipped": Case(
        _yolo_line("1 0.95 0.5 0.2 0.2"), ("extends past the right edge; clipped to the image",),
        {"car": 3, "bus": 1}),
    "yolo-zero-width": Case(
        _yolo_line("1 0.5 0.5 0 0.2"), ("zero or negative width or height; box dropped",), {"car": 3}),
    "yolo-too-few-fields": Case(
        _yolo_line("1 0.5 0.5 0.2"), ("line 2: '1 0.5 0.5 0.2' is not 'class x_center y_center width height' "
                                      "(4 fields",), {"car": 3}),
    "yolo-messages-name-the-yaml-they-read": Case(
        _then(_yolo_line("7 0.5 0.5 0.2 0.2"), lambda r: (r / "data.yaml").rename(r / "dataset.yaml")),
        ("class id 7 is out of range (dataset.yaml names ids 0-1)",), {"car": 3}),
    "cvat-coordinate-nan": Case(
        lambda r: cvat(r, extra_box=("nan", 5, 15, 15)),  # type: ignore[arg-type]
        ("image 'img1.png': box 1 ('dog') has a coordinate that is not a finite number (xtl='nan'); shape dropped",),
        {"cat": 2}, samples=2, problem_path="images/img1.png"),
    "cvat-coordinate-not-a-number": Case(
        lambda r: cvat(r, extra_box=(5, "abc", 15, 15)),  # type: ignore[arg-type]
        ("box 1 ('dog') has a coordinate that is not a finite number (ytl='abc')",), {"cat": 2}, samples=2),
    "coco-file-name-without-extension-escaping": Case(
        lambda r: coco(r, image={"id": 2, "file_name": "../../etc/hostname", "width": 40, "height": 40}),
        ("file_name '../../etc/hostname' resolves outside the dataset folder",), {"cat": 1}, samples=1),
    "coco-file-name-absolute-non-image": Case(
        lambda r: coco(r, image={"id": 2, "file_name": "/etc/hostname", "width": 40, "height": 40}),
        ("file_name '/etc/hostname' resolves outside the dataset folder",), {"cat": 1}, samples=1),
    "yolo-too-many-fields": Case(
        _yolo_line("1 0.5 0.5 0.2 0.2 0.9 0.1 0.3"), ("(8 fields",), {"car": 3}),
    "yolo-garbage-lines": Case(
        _yolo_line("hello world\n1 0.5 zero 0.2 0.2\n\n1 0.5 0.5 0.2 0.2"),
        ("line 2: 'hello world' is not 'class", "line 3: '1 0.5 zero 0.2 0.2' has a value that is not a finite number"),
        {"car": 3, "bus": 1}),
    "yolo-not-text": Case(
        _then(yolo, lambda r: _write(r / "labels/val/c.txt", b"\xff\xd8\xff\xe0 binary")),
        ("labels/val/c.txt can't be read as text",), {"car": 2}, problem_path="images/val/c.png"),
    "yolo-empty-label-file-is-a-negative": Case(
        _then(yolo, lambda r: _write(r / "labels/train/a.txt", "")), (), {"car": 2}),
    "yolo-missing-label-file-is-a-negative": Case(
        _then(yolo, lambda r: (r / "labels/train/a.txt").unlink()), (), {"car": 2}),
    "yolo-labels-without-an-image": Case(
        _then(yolo, lambda r: _write(r / "labels/train/ghost.txt", GOOD)),
        ("labels/train/ghost.txt has no image",), {"car": 3}, problem_path="labels/train/ghost.txt"),
    "yolo-names-as-a-mapping": Case(
        lambda r: yolo(r, extra="1 0.3 0.3 0.1 0.1\n", yaml="train: images/train\nval: images/val\n"
                                                            "names:\n  0: car\n  1: bus\n"),
        (), {"car": 3, "bus": 1}),
    "yolo-split-folder-missing": Case(
        lambda r: yolo(r, yaml="train: images/train\nval: images/valid\nnames: [car, bus]\n"),
        ("data.yaml val: images/valid does not exist",), {"car": 2}, samples=2),
    "coco-bbox-past-the-right-edge": Case(
        lambda r: coco(r, ann={"category_id": 2, "bbox": [30, 5, 20, 10]}),
        ("annotation 9: bbox [30, 5, 20, 10] extends past the right edge of the 40x40 image",),
        {"cat": 2, "dog": 1}, samples=2, problem_path="img1.png"),
    "coco-bbox-past-the-bottom": Case(
        lambda r: coco(r, ann={"category_id": 2, "bbox": [5, 35, 10, 10.5]}),
        ("extends past the bottom edge of the 40x40 image (y + height = 45.5); clipped",),
        {"cat": 2, "dog": 1}, samples=2),
    "coco-bbox-entirely-outside": Case(
        lambda r: coco(r, ann={"category_id": 2, "bbox": [41, 5, 10, 10]}),
        ("annotation 9: bbox [41, 5, 10, 10] lies entirely outside the 40x40 image; dropped",),
        {"cat": 2}, samples=2),
    "coco-zero-area": Case(
        lambda r: coco(r, ann={"category_id": 2, "bbox": [5, 5, 0, 10]}),
        ("non-positive width or height (no area); dropped",), {"cat": 2}, samples=2),
    "coco-image-without-size-is-measured": Case(
        lambda r: coco(r, image={"id": 2, "file_name": "img2.png"}),
        ("image 'img2.png' (id 2) has no usable width/height in the JSON (width None, height None); "
         "took 40x40 from the file",), {"cat": 2}, samples=2, problem_path="img2.png"),
    "coco-image-without-size-or-file": Case(
        lambda r: coco(r, image={"id": 2, "file_name": "img2.png", "width": "40"}, missing_file=True),
        ("its file can't be measured; its annotations were dropped", "annotation 2: image 'img2.png' has no known "
                                                                      "width/height; dropped"),
        {"cat": 1}, samples=2),
    "coco-unknown-category": Case(
        lambda r: coco(r, ann={"category_id": 5, "bbox": [5, 5, 10, 10]}),
        ("annotation 9: category_id 5 matches no category",), {"cat": 2}, samples=2),
    "coco-bbox-not-numbers": Case(
        lambda r: coco(r, ann={"category_id": 2, "bbox": [5, 5, "10", 10]}),
        ("is not [x, y, width, height] numbers",), {"cat": 2}, samples=2),
    "voc-box-past-the-right-edge": Case(
        lambda r: voc(r, extra_box=(30, 5, 50, 15)),
        ("box of 'dog' extends past the right edge of the 40x40 image (x + width = 50); clipped",),
        {"cat": 2, "dog": 1}, samples=2, problem_path="JPEGImages/img1.png"),
    "voc-box-entirely-outside": Case(
        lambda r: voc(r, extra_box=(45, 5, 60, 15)),
        ("box of 'dog' lies entirely outside the 40x40 image; dropped",), {"cat": 2}, samples=2),
    "voc-box-without-area": Case(
        lambda r: voc(r, extra_box=(20, 5, 20, 15)),
        ("img1.xml: object 1 ('dog') has an empty box (xmin 20, ymin 5, xmax 20, ymax 15): no area; dropped",),
        {"cat": 2}, samples=2, problem_path="Annotations/img1.xml"),
    "cvat-box-past-the-bottom": Case(
        lambda r: cvat(r, extra_box=(5, 30, 15, 48)),
        ("box of 'dog' extends past the bottom edge of the 40x40 image (y + height = 48); clipped",),
        {"cat": 2, "dog": 1}, samples=2, problem_path="images/img1.png"),
    "cvat-box-entirely-outside": Case(
        lambda r: cvat(r, extra_box=(-30, 5, -10, 15)),
        ("box of 'dog' lies entirely outside the 40x40 image; dropped",), {"cat": 2}, samples=2),
}

UNUSABLE = {  # the YAML is named directly: a folder whose YAML is unusable is not recognised as YOLO at all
    "yolo-yaml-invalid": (lambda r: _write(r / "data.yaml", "train: [unclosed\n") or r / "data.yaml",
                          "is not valid YAML"),
    "yolo-yaml-without-names": (lambda r: yolo(r, yaml="train: images/train\n") / "data.yaml", "has no 'names' list"),
    "yolo-names-not-ids": (lambda r: yolo(r, yaml="train: images/train\nnames: {car: 0}\n") / "data.yaml",
                           "names key 'car' is not an integer class id"),
    "yolo-no-images": (lambda r: yolo(r, yaml="train: nowhere\nnames: [car]\n") / "data.yaml", "no images found"),
    "coco-json-invalid": (lambda r: _write(r / "labels.json", '{"images": [') or r / "labels.json",
                          "is not valid JSON"),
}


def _audit(src: Path, name: str, out: Path):
    return run_cli("audit", src, "--embedder", "none", "--no-write-back", "--quiet", "--name", name,
                   "--json", out)


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_annotation_is_a_finding_and_the_rest_is_audited(case: Case, tmp_path: Path, unique_name: str):
    root = tmp_path / "dataset"
    root.mkdir()
    src = case.build(root)
    out = tmp_path / "out" / "audit.json"
    with untouched(root):
        result = _audit(src, unique_name, out)
    assert result.code == case.code, result.text
    doc = json.loads(out.read_text())
    assert doc["dataset"]["n_samples"] == case.samples
    problems = [p for p in doc["file_problems"] if p["kind"] == "annotation"]
    assert len(problems) == len(case.phrases), problems
    for phrase, problem in zip(case.phrases, problems):
        assert phrase in problem["message"], (phrase, problems)
    if case.problem_path is not None:
        assert problems[0]["path"].endswith(case.problem_path)
    totals: Counter = Counter()
    for per_class in doc["class_counts"].values():
        totals.update(per_class)
    assert {c: n for c, n in totals.items() if n} == case.counts  # dropped boxes are never counted


@pytest.mark.parametrize("build,phrase", list(UNUSABLE.values()), ids=list(UNUSABLE))
def test_unusable_source_is_an_input_error(build, phrase, tmp_path: Path, unique_name: str):
    root = tmp_path / "dataset"
    root.mkdir()
    src = build(root)
    with untouched(root):
        result = _audit(src, unique_name, tmp_path / "out.json")
    assert result.code == 2, result.text
    assert phrase in result.stderr


def test_missing_image_of_a_coco_entry_is_reported_once_as_missing(tmp_path: Path, unique_name: str):
    root = tmp_path / "dataset"
    root.mkdir()
    src = coco(root, missing_file=True)
    out = tmp_path / "audit.json"
    with untouched(root):
        result = _audit(src, unique_name, out)
    assert result.code == 0, result.text
    doc = json.loads(out.read_text())
    assert [(Path(p["path"]).name, p["kind"]) for p in doc["file_problems"]] == [("img2.png", "missing")]
    assert doc["class_counts"] == {"all": {"cat": 2}}  # its box is kept: the JSON knows the image's size


LICENCE_CASES = [
    # (licenses block, image 1's "license", licences reported as (id, kind, images), images without an id)
    ("CC BY 4.0", 1, [("1", "unknown", 1)], 1),  # a block that is not a list: the ids are still counted
    ([{"name": "CC BY"}], {"id": 1}, [], 2),  # an entry without an id, an id that is an object: neither counts
    ([{"id": 1, "name": None, "url": 5}], 1, [("1", "unknown", 1)], 1),
    ([{"id": 1, "name": "CC BY-NC"}, {"id": 1, "name": "CC BY"}], "1", [("1", "non-commercial", 1)], 1),
    ([{"id": 2, "name": "Attribution License"}], True, [("2", "attribution", 0)], 2),  # a bool is not an id
    ([{"id": 4, "name": "Attribution License"}], 4.0, [("4", "attribution", 1)], 1),  # a whole float is its int
    ([{"id": 4, "name": "Attribution License"}], 2.5, [("4", "attribution", 0)], 2),  # a fraction is no id
]


@pytest.mark.parametrize("block, image_licence, expected, without", LICENCE_CASES,
                         ids=[f"licenses={c[0]!r:.30}-license={c[1]!r}" for c in LICENCE_CASES])
def test_odd_coco_licence_entries_are_read_or_left_out_never_fatal(block, image_licence, expected, without,
                                                                   tmp_path: Path, unique_name: str):
    root = tmp_path / "dataset"
    root.mkdir()
    src = coco(root)
    doc = json.loads(src.read_text())
    doc["licenses"] = block
    doc["images"][0]["license"] = image_licence
    src.write_text(json.dumps(doc))
    out = tmp_path / "out" / "audit.json"
    with untouched(root):
        result = _audit(src, unique_name, out)
    assert result.code == 0, result.text[-2000:]
    licences = json.loads(out.read_text())["licences"]
    assert [(u["id"], u["kind"], u["n_images"]) for u in licences["licences"]] == expected
    assert licences["n_without_licence"] == without
