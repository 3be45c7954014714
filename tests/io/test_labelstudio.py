"""Label Studio's JSON export read into COCO's shape (:mod:`workbench.io.labelstudio`): image references,
boxes from percent (rotated rectangles, polygons, clipping), annotators, cancelled annotations and
predictions. Pure: no FiftyOne (the export reaching a dataset is in tests/catalogue/test_annotators.py)."""

from __future__ import annotations

import json
import math

import pytest

from workbench.io.labelstudio import (
    image_names,
    is_labelstudio,
    read_labelstudio,
    read_tasks,
)


def rect(x, y, w, h, label="cat", rotation=0, size=(200, 100), **extra) -> dict:
    return {"type": "rectanglelabels", "from_name": "label", "to_name": "image", "original_width": size[0],
            "original_height": size[1], "value": {"x": x, "y": y, "width": w, "height": h, "rotation": rotation,
                                                  "rectanglelabels": [label]}, **extra}


def task(image: str, *annotations: dict, **extra) -> dict:
    return {"id": 1, "data": {"image": image}, "annotations": list(annotations), **extra}


def ann(who, *results, cancelled: bool = False) -> dict:
    return {"id": 1, "completed_by": who, "was_cancelled": cancelled, "result": list(results)}


@pytest.mark.parametrize("ref,names", [
    ("/data/upload/3/1a2b3c4d-img_001.jpg", ("img_001.jpg", "1a2b3c4d-img_001.jpg")),
    ("/data/upload/3/img_001.jpg", ("img_001.jpg",)),  # no prefix: nothing stripped
    ("/data/upload/3/1a2b3c4z-img_001.jpg", ("1a2b3c4z-img_001.jpg",)),  # not 8 hex digits
    ("http://localhost:8080/data/upload/3/0badcafe-a%20b.png", ("a b.png", "0badcafe-a b.png")),
    ("/data/local-files/?d=sub%2Fimg_001.jpg", ("sub/img_001.jpg", "img_001.jpg")),
    ("/data/local-files/?d=photos/sub/img 1.jpg", ("photos/sub/img 1.jpg", "sub/img 1.jpg", "img 1.jpg")),
    ("https://cdn.example.com/bucket/img_001.jpg?X-Amz-Signature=abc", ("bucket/img_001.jpg", "img_001.jpg")),
    ("s3://bucket/key/img_001.jpg", ("bucket/key/img_001.jpg", "key/img_001.jpg", "img_001.jpg")),
    ("images\\img_001.jpg", ("images/img_001.jpg", "img_001.jpg")),
    ("img_001.jpg", ("img_001.jpg",)),
    # climbing out or absolute: no candidate at all (a shorter tail must not sneak back in)
    ("/data/local-files/?d=..%2Fdataset%2Fimg_001.jpg", ()),
    ("/data/local-files/?d=%2Fetc%2Fimg_001.jpg", ()),
    ("/data/local-files/?d=C:%5Cdata%5Cimg_001.jpg", ()),
    ("https://example.com/a/../img_001.jpg", ()),
    ("../img_001.jpg", ()),
    ("/home/user/img_001.jpg", ()),
    ("C:\\data\\img_001.jpg", ()),
    ("", ()),
    (None, ()),
    (42, ()),
])
def test_image_references_become_candidate_names(ref, names):
    assert image_names(ref) == names


def test_rectangles_are_read_in_percent():
    export = read_tasks([task("a.png", ann(3, rect(10, 20, 30, 40)))])
    part = export.annotators[0]
    assert export.kind == "detections" and part.annotator == "3" and export.n_tasks == 1
    assert part.images[0]["width"] == part.images[0]["height"] == 100
    assert part.annotations == [{"image_id": 0, "category_id": "cat", "bbox": [10.0, 20.0, 30.0, 40.0]}]
    assert part.names == {"cat": "cat"}


def test_rotated_rectangle_becomes_the_box_around_it_in_pixels():
    """A 40 x 20 px box at (100, 50) px of a 200 x 100 image, turned 30 degrees clockwise around its top-left
    corner: corners (100, 50), (100 + 40 cos30, 50 + 40 sin30), (that - 20 sin30, + 20 cos30), (100 - 20 sin30,
    50 + 20 cos30) = (100, 50), (134.641, 70), (124.641, 87.321), (90, 67.321)."""
    r3 = math.sqrt(3)
    box = read_tasks([task("a.png", ann(1, rect(50, 50, 20, 20, rotation=30)))]).annotators[0].annotations[0]["bbox"]
    x0, y0, x1, y1 = 90, 50, 100 + 20 * r3, 50 + 20 + 10 * r3  # pixels; percent: x / 2, y / 1
    assert box == pytest.approx([x0 / 2, y0, (x1 - x0) / 2, y1 - y0], abs=1e-9)
    # 90 degrees on a non-square image: the box's width in pixels becomes its height
    box = read_tasks([task("a.png", ann(1, rect(50, 20, 10, 20, rotation=90)))]).annotators[0].annotations[0]["bbox"]
    assert box == pytest.approx([40.0, 20.0, 10.0, 20.0], abs=1e-9)  # 20 px wide, 20 px tall -> x 80..100 px


def test_rotation_without_the_image_size_is_left_out():
    result = rect(10, 10, 10, 10, rotation=45)
    del result["original_width"]
    assert read_tasks([task("a.png", ann(1, result))]).annotators[0].annotations[0]["bbox"] is None
    full_turn = rect(10, 10, 10, 10, rotation=360)
    del full_turn["original_width"]  # no turn at all: no size needed
    assert read_tasks([task("a.png", ann(1, full_turn))]).annotators[0].annotations[0]["bbox"] == [10, 10, 10, 10]


def test_polygon_becomes_the_box_around_its_points():
    polygon = {"type": "polygonlabels", "from_name": "poly", "value": {
        "points": [[10, 20], [50, 25], [30, 60]], "polygonlabels": ["dog"]}}
    part = read_tasks([task("a.png", ann(1, polygon))]).annotators[0]
    assert part.annotations == [{"image_id": 0, "category_id": "dog", "bbox": [10.0, 20.0, 40.0, 40.0]}]


@pytest.mark.parametrize("value,bbox", [
    ({"x": -5, "y": 10, "width": 45, "height": 20}, [0.0, 10.0, 40.0, 20.0]),  # clipped at the left edge
    ({"x": 90, "y": 90, "width": 20, "height": 20}, [90.0, 90.0, 10.0, 10.0]),  # clipped at the far edges
    ({"x": 150, "y": 10, "width": 10, "height": 10}, None),  # wholly outside the image
    ({"x": float("nan"), "y": 10, "width": 10, "height": 10}, None),
    ({"x": 10, "y": 10, "width": float("inf"), "height": 10}, None),
    ({"x": 10, "y": 10, "width": 0, "height": 10}, None),
    ({"x": 10, "y": 10, "width": -5, "height": 10}, None),
    ({"x": "ten", "y": 10, "width": 5, "height": 10}, None),
    ({"y": 10, "width": 5, "height": 10}, None),
])
def test_boxes_are_clipped_to_the_image_or_left_out(value, bbox):
    result = {"type": "rectanglelabels", "value": {**value, "rectanglelabels": ["cat"]}}
    # through JSON text, as an export is read: NaN and Infinity are JSON literals Python reads
    tasks = json.loads(json.dumps([task("a.png", ann(1, result))]))
    assert read_tasks(tasks).annotators[0].annotations[0]["bbox"] == bbox


def test_one_field_per_annotator_cancelled_and_predictions_left_out():
    tasks = [task("a.png", ann(12, rect(1, 1, 5, 5)), ann({"id": 3, "email": "x@example.org"}, rect(2, 2, 5, 5)),
                  ann(7, rect(3, 3, 5, 5), cancelled=True),
                  predictions=[{"model_version": "m", "result": [rect(50, 50, 5, 5, label="ghost")]}]),
             task("b.png", ann(3, rect(4, 4, 5, 5), cancelled=True), ann(3, rect(5, 5, 5, 5))),
             task("c.png")]
    export = read_tasks(tasks)
    assert [p.annotator for p in export.annotators] == ["3", "12"]  # numeric order
    three, twelve = export.annotators
    assert sorted(three.images) == [0, 1] and sorted(twelve.images) == [0]
    assert three.n_cancelled == 1 and twelve.n_cancelled == 0
    assert export.n_cancelled_elsewhere == 1 and export.cancelled_annotators == ("7",)  # nothing kept: no field
    assert export.unannotated == ("c.png",)
    assert all(a["category_id"] != "ghost" for p in export.annotators for a in p.annotations)


def test_an_annotation_without_completed_by_is_annotator_unknown():
    export = read_tasks([task("a.png", {"result": [rect(1, 1, 5, 5)]}, ann(None, rect(2, 2, 5, 5)),
                              ann(4, rect(3, 3, 5, 5)))])
    assert [p.annotator for p in export.annotators] == ["4", "unknown"]
    assert export.annotators[1].n_superseded == 1  # both unattributed annotations are one "unknown" annotator


def test_an_annotator_annotating_a_task_again_counts_once():
    export = read_tasks([task("a.png", ann(3, rect(1, 1, 5, 5)), ann(3, rect(9, 9, 5, 5)))])
    part = export.annotators[0]
    assert part.n_superseded == 1 and [a["bbox"][0] for a in part.annotations] == [9.0]


def test_labels_come_from_the_region_then_the_control():
    region = {"id": "r1", "type": "rectangle", "from_name": "box", "value": {"x": 1, "y": 1, "width": 5, "height": 5}}
    named = {"id": "r1", "type": "labels", "from_name": "kind", "value": {"labels": ["bird"], "x": 1, "y": 1,
                                                                           "width": 5, "height": 5}}
    bare = {"id": "r2", "type": "rectangle", "from_name": "box", "value": {"x": 9, "y": 9, "width": 5, "height": 5}}
    part = read_tasks([task("a.png", ann(1, region, named, bare))]).annotators[0]
    assert [a["category_id"] for a in part.annotations] == ["bird", "box"] and part.n_ignored == 0


def test_other_result_types_are_counted_and_left_out():
    others = [{"type": "keypointlabels", "value": {"x": 1, "y": 1, "keypointlabels": ["eye"]}},
              {"type": "textarea", "value": {"text": ["a note"]}}, {"type": "relation", "from_id": "a", "to_id": "b"},
              {"type": "choices", "from_name": "quality", "value": {"choices": ["blurry"]}}]
    part = read_tasks([task("a.png", ann(1, rect(1, 1, 5, 5), *others))]).annotators[0]
    assert len(part.annotations) == 1 and part.n_ignored == 4  # choices beside boxes are not the image's class


def test_choices_only_is_a_classification_from_the_first_control():
    def choice(name, *values):
        return {"type": "choices", "from_name": name, "value": {"choices": list(values)}}

    tasks = [task("a.png", ann(1, choice("species", "cat"), choice("quality", "sharp"))),
             task("b.png", ann(1, choice("species", "cat", "dog"))), task("c.png", ann(1, choice("species", "dog")))]
    export = read_tasks(tasks)
    part = export.annotators[0]
    assert export.kind == "classification"
    assert [(a["image_id"], a["category_id"]) for a in part.annotations] == [(0, "cat"), (1, None), (2, "dog")]
    assert part.n_ignored == 1 and part.names == {"cat": "cat", "dog": "dog"}


@pytest.mark.parametrize("data,error", [
    ([], "no tasks"),
    ([{"image": "a.png", "label": []}], "task 0 is not a Label Studio task"),  # JSON-MIN, not JSON
    ([{"data": {"image": "a.png"}, "annotations": {"result": []}}], "task 0: annotations is not a list"),
    ([{"data": {"image": "a.png"}, "annotations": [{"result": "box"}]}], "without a result list"),
    ("tasks", "not a list"),
])
def test_malformed_exports_are_refused(data, error):
    with pytest.raises((TypeError, ValueError), match=error):
        read_tasks(data)


def test_one_task_object_is_read_and_files_are_parsed(tmp_path):
    one = task("a.png", ann(1, rect(1, 1, 5, 5)))
    assert is_labelstudio(one) and not is_labelstudio({"images": [], "annotations": []})
    path = tmp_path / "export.json"
    path.write_text(json.dumps(one))
    assert read_labelstudio(str(path)).annotators[0].annotations[0]["bbox"] == [1.0, 1.0, 5.0, 5.0]
    path.write_text("[{")
    with pytest.raises(ValueError):
        read_labelstudio(str(path))
