import pytest

from workbench.errors import SourceError
from workbench.io.coco_checks import validate_coco


def _coco(**overrides):
    data = {"images": [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "b.jpg"}],
            "annotations": [{"id": 10, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}],
            "categories": [{"id": 1, "name": "cat"}]}
    data.update(overrides)
    return data


def test_clean_input_is_kept_whole():
    clean, problems = validate_coco(_coco())
    assert problems == [] and len(clean["annotations"]) == 1 and len(clean["images"]) == 2


@pytest.mark.parametrize("ann,needle", [
    ({"id": 11, "image_id": 99, "category_id": 1, "bbox": [0, 0, 1, 1]}, "matches no image"),
    ({"id": 12, "image_id": 1, "category_id": 7, "bbox": [0, 0, 1, 1]}, "matches no category"),
    ({"id": 13, "image_id": 1, "category_id": 1, "bbox": [0, 0, 1]}, "not [x, y, width, height]"),
    ({"id": 14, "image_id": 1, "category_id": 1, "bbox": [0, 0, "w", 1]}, "not [x, y, width, height]"),
    ({"id": 15, "image_id": 1, "category_id": 1, "bbox": [0, 0, 0, 5]}, "non-positive"),
])
def test_malformed_annotation_is_dropped_and_reported(ann, needle):
    data = _coco()
    data["annotations"].append(ann)
    clean, problems = validate_coco(data)
    assert len(clean["annotations"]) == 1
    assert len(problems) == 1 and needle in problems[0]["message"]


def test_duplicate_image_id_reported():
    data = _coco(images=[{"id": 1, "file_name": "a.jpg"}, {"id": 1, "file_name": "c.jpg"}])
    clean, problems = validate_coco(data)
    assert [i["file_name"] for i in clean["images"]] == ["a.jpg"]
    assert "appears twice" in problems[0]["message"]


def test_unusable_top_level_raises():
    with pytest.raises(SourceError, match="top level"):
        validate_coco([1, 2])
    with pytest.raises(SourceError, match="'images' must be a list"):
        validate_coco({"images": {}, "annotations": []})
