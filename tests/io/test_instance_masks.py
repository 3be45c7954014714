"""Instance masks that disagree with their boxes, on a real FiftyOne dataset and on its COCO export.

Four 128x64 images each hold one 64x32 box: a good mask (an ellipse filling the box), an empty
mask, a mask whose pixels cover only the right 3/8 of its box (drawn 40 px too far right), and no mask.
Audited as a FiftyOne dataset, and written by FiftyOne's ``COCODetectionDataset`` exporter (masks
become polygons, the empty one ``[]``) and audited from the folder with ``workbench audit --json``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.catalogue.harness import run_cli, untouched
from tests.conftest import write_image

BOX = [0.25, 0.25, 0.5, 0.5]  # 64 x 32 px


def _ellipse() -> np.ndarray:
    rows, cols = np.mgrid[0:32, 0:64]
    return ((cols - 31.5) / 32) ** 2 + ((rows - 15.5) / 16) ** 2 <= 1


def _shifted() -> np.ndarray:
    mask = np.zeros((32, 64), bool)
    mask[:, 40:] = True
    return mask


MASKS = {"good": _ellipse(), "empty": np.zeros((32, 64), bool), "shifted": _shifted(), "plain": None}
EXPECTED = {("empty", ("empty_mask",)), ("shifted", ("mask_box_mismatch",))}


@pytest.fixture
def masked(tmp_path, unique_name):
    """The four-image dataset with instance masks in ``ground_truth``."""
    import fiftyone as fo
    from PIL import Image

    ds = fo.Dataset(unique_name)
    for n, (name, mask) in enumerate(MASKS.items()):
        path = write_image(tmp_path / "images" / f"{name}.png", 40 + n)
        Image.open(path).resize((128, 64)).save(path)
        ds.add_sample(fo.Sample(filepath=str(path), ground_truth=fo.Detections(detections=[
            fo.Detection(label="cat", bounding_box=BOX, mask=mask)])))
    ds.info["workbench"] = {"source": str(tmp_path / "images")}
    ds.save()
    return ds


def test_a_fiftyone_dataset_with_instance_masks_gets_the_mask_box_kinds(masked):
    import workbench
    from workbench.checks.mask_box import MaskShape
    from workbench.io.table import to_table

    shapes = dict(zip((Path(p).stem for p in masked.values("filepath")), to_table(masked).frame["mask_shapes"]))
    assert all(isinstance(s, MaskShape) for name in ("good", "empty", "shifted") for s in shapes[name])
    assert shapes["plain"] == [None] and shapes["empty"] == [MaskShape(None, 0.0)]
    assert shapes["shifted"][0].box == pytest.approx((0.5625, 0.25, 0.1875, 0.5))

    objects = workbench.run_audit(masked, workbench.AuditConfig(embedder="none"), progress=False).findings["objects"]
    assert {(Path(i.filepath).stem, i.kinds) for i in objects.issues} == EXPECTED
    assert objects.n_masks == 3 and {i.mask_iou for i in objects.issues} == {0.0, 0.375}
    relaxed = workbench.run_audit(masked, workbench.AuditConfig(embedder="none", check_options={
        "objects": {"mask_iou": 0.3}}), progress=False).findings["objects"]
    assert {(Path(i.filepath).stem, i.kinds) for i in relaxed.issues} == {("empty", ("empty_mask",))}


def test_a_coco_instance_segmentation_export_is_read_back_with_its_mask_summaries(masked, tmp_path):
    import fiftyone as fo

    export = tmp_path / "coco"
    masked.export(export_dir=str(export), dataset_type=fo.types.COCODetectionDataset, label_field="ground_truth")
    annotations = json.loads((export / "labels.json").read_text())["annotations"]
    assert sum("segmentation" in a for a in annotations) == 3  # the plain box has none, the empty mask []
    with untouched(export):
        result = run_cli("audit", export, "--embedder", "none", "--no-write-back", "--quiet", "--name",
                         f"{masked.name}-coco", "--json", tmp_path / "audit.json")
    assert result.code == 0, result.text[-3000:]
    objects = json.loads((tmp_path / "audit.json").read_text())["objects"]
    assert {(Path(i["path"]).stem, tuple(i["kinds"])) for i in objects["issues"]} == EXPECTED
    assert objects["n_masks"] == 3 and objects["counts"]["mask_box_mismatch"] == 1
    shifted = next(i for i in objects["issues"] if "shifted" in i["path"])
    assert 0.3 < shifted["mask_iou"] < 0.45  # polygons drawn back from the exported contour: close to 0.375
    assert "1 empty_mask, 1 mask_box_mismatch" in " ".join(result.stdout.split())


def test_masks_stored_in_files_are_read_and_an_unreadable_one_counts_as_none(tmp_path, unique_name):
    import fiftyone as fo
    from PIL import Image

    from workbench.checks.mask_box import MaskShape
    from workbench.io.table import to_table

    Image.fromarray(_shifted().astype(np.uint8) * 255).save(tmp_path / "shifted-mask.png")
    (tmp_path / "broken-mask.png").write_bytes(b"not a png")
    ds = fo.Dataset(unique_name)
    ds.add_sample(fo.Sample(filepath=str(write_image(tmp_path / "a.png", 1)), ground_truth=fo.Detections(detections=[
        fo.Detection(label="cat", bounding_box=BOX, mask_path=str(tmp_path / "shifted-mask.png")),
        fo.Detection(label="cat", bounding_box=BOX, mask_path=str(tmp_path / "broken-mask.png"))])))
    shapes = to_table(ds).frame["mask_shapes"][0]
    assert isinstance(shapes[0], MaskShape) and shapes[0].box == pytest.approx((0.5625, 0.25, 0.1875, 0.5))
    assert shapes[1] is None


#: Two objects on one 128 x 64 image: a 32 x 32 square on the left, a 48 x 16 bar on the right.
LEFT, RIGHT = [8, 8, 32, 32], [72, 24, 48, 16]


def _square(x: float, y: float, w: float, h: float) -> list[list[float]]:
    return [[x, y, x + w, y, x + w, y + h, x, y + h]]


def _coco(*annotations: tuple[list[int], object]) -> dict:
    """A COCO JSON of one 128 x 64 image holding ``(bbox, segmentation)`` objects."""
    return {"images": [{"id": 1, "file_name": "two.png", "width": 128, "height": 64}],
            "annotations": [{"id": n + 1, "image_id": 1, "category_id": 1 + n % 2, "bbox": box, "area": 512,
                             "iscrowd": 0, "segmentation": seg} for n, (box, seg) in enumerate(annotations)],
            "categories": [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]}


def _verdicts(coco: dict) -> list[tuple[str | None, float]]:
    from workbench.checks.mask_box import MaskShape, mask_disagreement
    from workbench.io.instance_masks import add_coco_mask_shapes

    out = []
    for ann in add_coco_mask_shapes(coco)["annotations"]:
        x, y, w, h = ann["bbox"]
        box = (x / 128, y / 64, w / 128, h / 64)
        out.append(mask_disagreement(MaskShape.from_list(ann["wb_mask"]), box, min_iou=0.7, min_fill=0.02))
    return out


def _rle(x: int, y: int, w: int, h: int) -> dict:
    """Uncompressed COCO RLE (column-major, from a run of zeros) of a rectangle on the 128 x 64 image."""
    mask = np.zeros((64, 128), np.uint8)
    mask[y:y + h, x:x + w] = 1
    flat = np.concatenate([[0], mask.T.ravel(), [2]])
    edges = np.flatnonzero(flat[1:] != flat[:-1])
    return {"size": [64, 128], "counts": np.diff(np.concatenate([[0], edges])).tolist()}


def test_coco_masks_outside_their_boxes_are_judged_on_their_whole_extent():
    """COCO draws segmentations in image pixels: a mask swapped with another object's, or shifted past its box, is
    summarised where its pixels are (FiftyOne would crop it to its box; workbench used to, and called a swapped mask
    empty)."""
    from workbench.io.instance_masks import add_coco_mask_shapes

    swapped = _coco((LEFT, _square(*RIGHT)), (RIGHT, _square(*LEFT)))
    assert _verdicts(swapped) == [("mask_box_mismatch", 0.0), ("mask_box_mismatch", 0.0)]
    left, right = add_coco_mask_shapes(swapped)["annotations"]
    assert left["wb_mask"] == pytest.approx([72 / 128, 24 / 64, 48 / 128, 16 / 64, 0.0])  # the right object's place
    assert right["wb_mask"] == pytest.approx([8 / 128, 8 / 64, 32 / 128, 32 / 64, 0.0])
    columns, rows, *runs = left["wb_mask_grid"]
    assert (columns, rows) == (16, 5) and runs == [0, 80]  # the whole bar, on a grid over its own tight box
    # shifted right by half its width: only half of it lies in its box (IoU 1/3, not 1 as on the part inside)
    assert _verdicts(_coco((LEFT, _square(24, 8, 32, 32)))) == [("mask_box_mismatch", 0.3333)]
    # the box filled and half as much again past its right edge: the part inside fits, the whole mask doesn't
    assert _verdicts(_coco((LEFT, _square(8, 8, 48, 32)))) == [("mask_box_mismatch", 0.6667)]
    assert _verdicts(_coco((LEFT, _rle(72, 24, 48, 16)), (RIGHT, _rle(*RIGHT)))) == [
        ("mask_box_mismatch", 0.0), (None, 1.0)]  # RLE covers the whole image too
    # masks inside their boxes (a polygon's last vertex on the box's far edge) are as before; pixels off the image
    # don't count
    edge = [80, 24, 48, 16]  # on the image's right edge
    assert _verdicts(_coco((LEFT, _square(*LEFT)), (edge, _square(80, 24, 100, 16)))) == [(None, 1.0), (None, 1.0)]


def test_a_coco_file_with_two_masks_swapped_is_audited_as_two_mismatches(tmp_path, unique_name):
    """The trial's case, end to end: a COCO JSON whose two objects' polygons are swapped, audited from the folder
    (FiftyOne's importer, ``--json``): both are ``mask_box_mismatch`` with ``mask_iou`` 0, and each exported mask
    lies where its pixels are, on the other object, not an empty sliver of its own box."""
    root = tmp_path / "swapped"
    write_image(root / "data" / "two.png", 9, size=128)
    from PIL import Image

    Image.open(root / "data" / "two.png").resize((128, 64)).save(root / "data" / "two.png")
    (root / "labels.json").write_text(json.dumps(_coco((LEFT, _square(*RIGHT)), (RIGHT, _square(*LEFT)))))
    with untouched(root):
        result = run_cli("audit", root, "--embedder", "none", "--no-write-back", "--quiet", "--name", unique_name,
                         "--json", tmp_path / "audit.json")
    assert result.code == 0, result.text[-3000:]
    objects = json.loads((tmp_path / "audit.json").read_text())["objects"]
    issues = {i["label"]: i for i in objects["issues"]}
    assert objects["counts"]["empty_mask"] == 0 and objects["counts"]["mask_box_mismatch"] == 2
    assert {label: (tuple(i["kinds"]), i["mask_iou"]) for label, i in issues.items()} == {
        "cat": (("mask_box_mismatch",), 0.0), "dog": (("mask_box_mismatch",), 0.0)}
    assert issues["cat"]["mask"]["box"] == pytest.approx([72 / 128, 24 / 64, 48 / 128, 16 / 64])
    assert issues["dog"]["mask"]["box"] == pytest.approx([8 / 128, 8 / 64, 32 / 128, 32 / 64])
    assert "2 mask_box_mismatch" in " ".join(result.stdout.split())
