import copy

import pytest

from workbench.errors import SourceError
from workbench.io.coco_checks import clip_bbox, validate_coco


def _coco(**overrides):
    data = {"images": [{"id": 1, "file_name": "a.jpg", "width": 40, "height": 30},
                       {"id": 2, "file_name": "b.jpg", "width": 40, "height": 30}],
            "annotations": [{"id": 10, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}],
            "categories": [{"id": 1, "name": "cat"}]}
    data.update(overrides)
    return data


def test_clean_input_is_kept_whole():
    data = _coco()
    clean, problems = validate_coco(data)
    assert problems == [] and clean == data
    assert clean["annotations"][0] is data["annotations"][0]  # nothing copied that needn't be


@pytest.mark.parametrize("ann,needle", [
    ({"id": 11, "image_id": 99, "category_id": 1, "bbox": [0, 0, 1, 1]}, "matches no image"),
    ({"id": 12, "image_id": 1, "category_id": 7, "bbox": [0, 0, 1, 1]}, "matches no category"),
    ({"id": 13, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1]}, "not [x, y, width, height]"),
    ({"id": 14, "image_id": 1, "category_id": 1, "bbox": [0, 0, "w", 1]}, "not [x, y, width, height]"),
    ({"id": 15, "image_id": 1, "category_id": 1, "bbox": [0, 0, 0, 5]}, "non-positive"),
    ({"id": 16, "image_id": 1, "category_id": 1, "bbox": [5, 5, 4, -1]}, "no area"),
    ({"id": 17, "image_id": 1, "category_id": 1, "bbox": [40, 5, 4, 4]}, "entirely outside the 40x30 image"),
    ({"id": 18, "image_id": 1, "category_id": 1, "bbox": [-9, 5, 4, 4]}, "entirely outside"),
    ({"id": 19, "image_id": 1, "category_id": 1, "bbox": [5, 31, 4, 4]}, "entirely outside"),
    ({"id": 20, "image_id": 1, "category_id": 1, "bbox": [0, 0, float("nan"), 4]}, "not [x, y, width, height]"),
])
def test_malformed_annotation_is_dropped_and_reported(ann, needle):
    data = _coco()
    data["annotations"].append(ann)
    clean, problems = validate_coco(data)
    assert [a["id"] for a in clean["annotations"]] == [10]
    assert len(problems) == 1 and needle in problems[0]["message"]
    assert problems[0]["kind"] == "annotation"


@pytest.mark.parametrize("bbox,clipped,edges", [
    ([30, 5, 20, 10], [30, 5, 10, 10], "right edge of the 40x30 image (x + width = 50)"),
    ([5, 25, 10, 10], [5, 25, 10, 5], "bottom edge of the 40x30 image (y + height = 35)"),
    ([-5, -2, 10, 10], [0, 0, 5, 8], "left and top edges"),
    ([-1, 0, 50, 30], [0, 0, 40, 30], "left and right edges"),
])
def test_box_past_an_edge_is_clipped_and_reported(bbox, clipped, edges):
    data = _coco()
    data["annotations"][0]["bbox"] = bbox
    original = copy.deepcopy(data)
    clean, problems = validate_coco(data)
    assert clean["annotations"][0]["bbox"] == clipped
    assert len(problems) == 1 and edges in problems[0]["message"] and "clipped" in problems[0]["message"]
    assert problems[0]["file_name"] == "a.jpg"
    assert data == original  # the caller's data is never modified


def test_rounding_overshoot_is_clipped_silently():
    data = _coco()
    data["annotations"][0]["bbox"] = [30.0, 0.0, 10.3, 30.0]
    clean, problems = validate_coco(data)
    assert problems == [] and clean["annotations"][0]["bbox"] == [30.0, 0.0, 10.0, 30.0]


def test_image_without_size_is_measured_from_its_file():
    data = _coco(images=[{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "b.jpg", "width": 0}])
    data["annotations"].append({"id": 11, "image_id": 2, "category_id": 1, "bbox": [10, 10, 50, 5]})
    asked = []
    clean, problems = validate_coco(data, measure=lambda name: asked.append(name) or (20, 20))
    assert asked == ["a.jpg", "b.jpg"]
    assert [(i["width"], i["height"]) for i in clean["images"]] == [(20, 20), (20, 20)]
    messages = [p["message"] for p in problems]
    assert sum("no usable width/height" in m and "took 20x20 from the file" in m for m in messages) == 2
    assert any("right edge of the 20x20 image" in m for m in messages)  # checked against the measured size
    assert [a["bbox"] for a in clean["annotations"]] == [[1, 2, 3, 4], [10, 10, 10, 5]]


def test_image_without_size_and_unreadable_file_keeps_no_annotations():
    data = _coco(images=[{"id": 1, "file_name": "a.jpg", "height": 30}])
    clean, problems = validate_coco(data, measure=lambda name: None)
    assert clean["images"] == [{"id": 1, "file_name": "a.jpg", "width": None, "height": None}]
    assert clean["annotations"] == []
    assert "can't be measured" in problems[0]["message"]
    assert "annotation 10" in problems[1]["message"] and "no known width/height" in problems[1]["message"]


def test_duplicate_image_id_reported():
    data = _coco(images=[{"id": 1, "file_name": "a.jpg", "width": 9, "height": 9},
                         {"id": 1, "file_name": "c.jpg", "width": 9, "height": 9}])
    clean, problems = validate_coco(data)
    assert [i["file_name"] for i in clean["images"]] == ["a.jpg"]
    assert "appears twice" in problems[0]["message"]


def test_clip_bbox_keeps_an_inside_box():
    assert clip_bbox([1, 2, 3, 4], 40, 30) == ([1, 2, 3, 4], None)


def test_unusable_top_level_raises():
    with pytest.raises(SourceError, match="top level"):
        validate_coco([1, 2])
    with pytest.raises(SourceError, match="'images' must be a list"):
        validate_coco({"images": {}, "annotations": []})
