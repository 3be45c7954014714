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
