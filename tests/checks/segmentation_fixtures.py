"""A tiny real FiftyOne semantic segmentation dataset with one planted mislabelled region.

Six 32x32 images; masks written as PNG (``background``, ``road`` below the middle, a ``car`` square in
some). In ``img2`` the car square is labelled ``road``; the model's probabilities (``probs/<stem>.npy``,
``(K, H, W)``) say car there and agree with the masks everywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tests.conftest import write_image

TARGETS = {0: "background", 1: "road", 2: "car"}
BAD = "img2"


@dataclass(frozen=True)
class PlantedSegmentation:
    dataset: object
    root: Path
    probs: Path


def _true_mask(n: int) -> np.ndarray:
    mask = np.zeros((32, 32), dtype=np.uint8)
    mask[16:] = 1
    if n % 2 == 0:
        mask[4:12, 4 + n:12 + n] = 2
    return mask


def _probabilities(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``(3, 32, 32)``: the true class gets 0.75-0.95, the rest split at random."""
    top = rng.uniform(0.75, 0.95, mask.shape)
    rest = rng.uniform(0.1, 1.0, (3, *mask.shape))
    truth = np.eye(3, dtype=bool)[mask].transpose(2, 0, 1)
    rest = np.where(truth, 0.0, rest)
    return np.where(truth, top, rest / rest.sum(axis=0) * (1 - top)).astype(np.float32)


def planted_segmentation(root: Path, name: str, *, n: int = 6, layout: str = "KHW") -> PlantedSegmentation:
    """The dataset (``ground_truth`` Segmentation with ``mask_path``, ``default_mask_targets``, its folder
    recorded as the boundary) and the probabilities folder ``root/probs``."""
    import fiftyone as fo
    from PIL import Image

    rng = np.random.default_rng(0)
    probs = root / "probs"
    (root / "masks").mkdir(parents=True)
    probs.mkdir()
    ds = fo.Dataset(name)
    ds.default_mask_targets = dict(TARGETS)
    for k in range(n):
        stem = f"img{k}"
        image = write_image(root / "images" / f"{stem}.png", k, size=32)
        truth = _true_mask(k)
        given = truth.copy()
        if stem == BAD:
            given[truth == 2] = 1  # the car painted as road
        Image.fromarray(given).save(root / "masks" / f"{stem}.png")
        p = _probabilities(truth, rng)
        np.save(probs / f"{stem}.npy", p if layout == "KHW" else np.moveaxis(p, 0, 2))
        ds.add_sample(fo.Sample(filepath=str(image),
                                ground_truth=fo.Segmentation(mask_path=str(root / "masks" / f"{stem}.png"))))
    ds.info["workbench"] = {"roots": [str(root)]}
    ds.save()
    return PlantedSegmentation(ds, root, probs)
