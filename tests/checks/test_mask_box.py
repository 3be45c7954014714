"""Instance masks against their boxes: the pure geometry and the objects check's two mask kinds."""

import numpy as np
import pytest

from workbench.checks.mask_box import (
    MaskShape,
    mask_disagreement,
    mask_shape,
    polygon_extent,
    polygon_mask,
    rle_mask,
)
from workbench.checks.objects import ObjectsResult, find_object_issues
from workbench.results.serialize import from_jsonable, to_jsonable

BOX = (0.25, 0.5, 0.5, 0.25)  # 64 x 16 px of a 128 x 64 image


def _mask(rows: slice, cols: slice, shape=(16, 64)) -> np.ndarray:
    mask = np.zeros(shape, bool)
    mask[rows, cols] = True
    return mask


def test_the_tight_box_is_placed_in_image_coordinates_at_any_mask_resolution():
    full = mask_shape(np.ones((16, 64), np.uint8), BOX)
    assert full.box == pytest.approx(BOX) and full.fill == 1.0
    for shape in ((16, 64), (32, 128), (8, 32)):  # the right half of the box, at three resolutions
        w = shape[1]
        right = mask_shape(_mask(slice(None), slice(w // 2, None), shape), BOX)
        assert right.box == pytest.approx((0.5, 0.5, 0.25, 0.25)) and right.fill == pytest.approx(0.5)
    assert mask_shape(np.zeros((16, 64)), BOX) == MaskShape(None, 0.0)
    rgb = np.zeros((16, 64, 3), np.uint8)
    rgb[4:8, 10:20, 1] = 255
    assert mask_shape(rgb, BOX).fill == pytest.approx(40 / 1024)


@pytest.mark.parametrize("mask, kind, overlap", [
    (_mask(slice(1, 15), slice(2, 62)), None, 0.8203),            # a good mask, a pixel or two inside its box
    (np.zeros((16, 64), bool), "empty_mask", 0.0),
    (_mask(slice(None), slice(40, None)), "mask_box_mismatch", 0.375),  # only the right 3/8 of the box
    (_mask(slice(0, 1), slice(0, 64)) | _mask(slice(15, 16), slice(0, 64)), None, 1.0),  # two edges: fills 1/8
    (_mask(slice(0, 1), slice(0, 1)) | _mask(slice(15, 16), slice(63, 64)), "mask_box_mismatch", 1.0),  # two specks
])
def test_each_disagreement_is_named(mask, kind, overlap):
    assert mask_disagreement(mask_shape(mask, BOX), BOX, min_iou=0.7, min_fill=0.02) == (kind, overlap)


def test_thresholds_decide_and_the_summary_round_trips_as_stored():
    right = mask_shape(_mask(slice(None), slice(32, None)), BOX)  # IoU 0.5
    assert mask_disagreement(right, BOX, min_iou=0.7, min_fill=0.02)[0] == "mask_box_mismatch"
    assert mask_disagreement(right, BOX, min_iou=0.4, min_fill=0.02)[0] is None
    assert mask_disagreement(right, BOX, min_iou=0.4, min_fill=0.6)[0] == "mask_box_mismatch"
    back = MaskShape.from_list(right.to_list())
    assert back.box == pytest.approx(right.box) and back.fill == pytest.approx(right.fill)
    assert MaskShape.from_list([]) == MaskShape(None, 0.0)
    assert MaskShape.from_list(None) is None and MaskShape.from_list([1, 2]) is None


IMAGE = (0.0, 0.0, 1.0, 1.0)  # a mask drawn over the whole 128 x 64 image, as COCO draws one


def test_a_mask_drawn_over_the_image_is_judged_on_all_its_pixels_not_only_those_inside_its_box():
    elsewhere = _mask(slice(0, 16), slice(0, 64), (64, 128))  # another object's place: the top-left quarter
    shape = mask_shape(elsewhere, BOX, covers=IMAGE)
    assert shape.box == pytest.approx((0.0, 0.0, 0.5, 0.25)) and shape.fill == 0.0
    assert shape.grid.box == shape.box and shape.grid.n_on == shape.grid.columns * shape.grid.rows
    assert mask_disagreement(shape, BOX, min_iou=0.7, min_fill=0.02) == ("mask_box_mismatch", 0.0)
    wider = _mask(slice(32, 48), slice(32, 128), (64, 128))  # the box and as much again to its right
    shape = mask_shape(wider, BOX, covers=IMAGE)
    assert shape.box == pytest.approx((0.25, 0.5, 0.75, 0.25)) and shape.fill == 1.0
    assert mask_disagreement(shape, BOX, min_iou=0.7, min_fill=0.02) == ("mask_box_mismatch", 0.6667)
    half = mask_shape(_mask(slice(32, 48), slice(64, 128), (64, 128)), BOX, covers=IMAGE)  # half in, half out
    assert half.box == pytest.approx((0.5, 0.5, 0.5, 0.25)) and half.fill == pytest.approx(0.5)
    assert mask_disagreement(half, BOX, min_iou=0.7, min_fill=0.02) == ("mask_box_mismatch", 0.3333)
    inside = mask_shape(_mask(slice(16, 24), slice(16, 48), (32, 64)), BOX, covers=IMAGE)  # half resolution
    assert inside.box == pytest.approx(BOX) and inside.fill == 1.0
    assert mask_shape(_mask(slice(32, 48), slice(32, 96), (64, 128)), BOX, covers=IMAGE)[:2] == \
        mask_shape(np.ones((16, 64)), BOX)[:2]  # a mask inside its box: the same summary either way
    assert polygon_extent([[1, 2, 5, 2, 5, 9], [7, 0]]) == (1.0, 0.0, 7.0, 9.0)
    assert polygon_extent([]) is None and polygon_extent([[1, "y"]]) is None
    assert polygon_extent([[1, float("nan")]]) is None


def test_coco_polygons_and_uncompressed_rle_are_rasterised():
    square = polygon_mask([[12, 22, 16, 22, 16, 26, 12, 26]], (10, 20), (10, 10))
    assert square.shape == (10, 10) and square[2:7, 2:7].all() and square.sum() == 25
    assert polygon_mask([["x", 1, 2]], (0, 0), (4, 4)) is None
    rle = rle_mask([3, 2, 7], 3, 4)  # column-major: zeros 3 (column 0), ones 2, zeros 7
    assert rle.tolist() == [[0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]]
    assert rle_mask([3, 2], 3, 4) is None and rle_mask("abc", 3, 4) is None


def test_the_objects_check_flags_mask_kinds_and_keeps_them_through_json():
    shapes = [[mask_shape(_mask(slice(1, 15), slice(2, 62)), BOX), MaskShape(None, 0.0), None],
              [mask_shape(_mask(slice(None), slice(40, None)), BOX)]]
    r = find_object_issues(["a", "b"], ["/a", "/b"], [["cat", "dog", "cat"], ["dog"]],
                           [[BOX, (0.0, 0.0, 0.2, 0.2), (0.6, 0.1, 0.2, 0.2)], [BOX]], [(128, 64)] * 2,
                           object_ids=[["o1", "o2", "o3"], ["o4"]], mask_shapes=shapes)
    assert {i.object_id: (i.kinds, i.mask_iou) for i in r.issues} == {"o2": (("empty_mask",), 0.0),
                                                                      "o4": (("mask_box_mismatch",), 0.375)}
    assert r.n_masks == 3 and r.counts()["empty_mask"] == 1 and "1 empty_mask, 1 mask_box_mismatch" in r.summary()
    assert from_jsonable(ObjectsResult, to_jsonable(r)) == r
    frame = r.to_frame()
    assert frame["is_mask_box_mismatch_issue"].tolist() == [False, True] and frame["mask_iou"].tolist() == [0.0, 0.375]
    assert r.to_export()["objects"]["issues"][1]["mask_iou"] == 0.375
    relaxed = find_object_issues(["b"], ["/b"], [["dog"]], [[BOX]], [(128, 64)], mask_shapes=shapes[1:], mask_iou=0.3)
    assert relaxed.issues == ()


def test_the_mask_grid_is_bounded_keeps_thin_masks_and_refuses_malformed_stored_grids():
    from workbench.results.mask_grid import MAX_RUNS, MaskGrid, mask_grid

    shape = mask_shape(_mask(slice(None), slice(40, None)), BOX)  # the right 3/8 of the box: 24 x 16 px
    assert shape.grid.box == shape.box and (shape.grid.columns, shape.grid.rows) == (16, 11)
    assert shape.grid.n_on == 16 * 11
    back = MaskShape.from_list(shape.to_list(), shape.grid.to_list())
    assert back.grid.runs == shape.grid.runs and back.grid.box == pytest.approx(shape.grid.box)
    checkers = np.indices((64, 64)).sum(axis=0) % 2 == 0  # every other pixel: 4,096 runs at full resolution
    speckled = mask_grid(checkers, cells=64)
    assert len(speckled.runs) <= MAX_RUNS and speckled.columns < 64
    line = np.zeros((100, 100), bool)
    line[50, :] = True  # one pixel high: no cell of a 16-cell grid is 40% on, but the line is kept
    thin = mask_grid(line)
    assert thin.rows == 1 and thin.n_on == thin.columns == 16 and thin.box == pytest.approx((0, 0.5, 1, 0.01))
    assert mask_grid(np.zeros((4, 4))) is None
    for bad in ([4, 4, 10, 10], [4, 4, -1, 2], [0, 4, 1], ["x"], "4 4 1", [4, 4, *([1] * (MAX_RUNS + 1))], [99, 1, 1]):
        assert MaskGrid.from_list((0, 0, 1, 1), bad) is None, bad
    assert MaskShape.from_list([0.1, 0.1, 0.2, 0.2, 0.5], ["<script>"]) == MaskShape((0.1, 0.1, 0.2, 0.2), 0.5)
    broken = MaskGrid((0, 0, 1, 1), 2, 2, (1, 9))  # runs past its 4 cells: nothing past them is drawn
    assert list(broken.spans()) == []
