"""The ``.npy`` probabilities reader: channel order from mask_targets, both layouts, and the working grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from workbench.errors import PredictionsError
from workbench.io.segmentation_predictions import read_segmentation_predictions


def _one_hot(mask: np.ndarray, values: list[int]) -> np.ndarray:
    """``(K, H, W)``: 0.8 on the pixel's class, the rest shared."""
    k = len(values)
    index = np.searchsorted(values, mask)
    return np.where(np.eye(k, dtype=bool)[index].transpose(2, 0, 1), 0.8, 0.2 / (k - 1)).astype(np.float32)


def test_sparse_mask_values_map_to_channels_in_ascending_order_and_unequal_sizes_are_sampled(tmp_path: Path):
    """Targets {0, 1, 5}: value 5 is channel 2. Masks of 100x80 and 50x50 go to one 64x64 grid, the lattice
    keeping each region's share; an (H, W, K) file reads like a (K, H, W) one; unknown values leave the image out."""
    targets = {5: "car", 0: "background", 1: "road"}
    big = np.zeros((100, 80), dtype=np.uint8)
    big[50:] = 5
    small = np.ones((50, 50), dtype=np.uint8)
    small[:, :10] = 0
    unknown = np.full((20, 20), 7, dtype=np.uint8)
    np.save(tmp_path / "big.npy", _one_hot(big, [0, 1, 5]))
    np.save(tmp_path / "small.npy", np.moveaxis(_one_hot(small, [0, 1, 5]), 0, 2))
    preds = read_segmentation_predictions(tmp_path, filepaths=["/d/big.jpg", "/d/small.jpg", "/d/unknown.jpg",
                                                                "/d/none.jpg"],
                                          masks=[big, small, unknown, None], targets=targets)
    assert preds.classes == ("background", "road", "car") and preds.rows == (0, 1)
    assert preds.grid == "sampled 64x64" and preds.labels.shape == (2, 64, 64) and preds.probs.shape == (2, 3, 64, 64)
    assert preds.left_out == {"unknown_values": 1, "no_mask": 1}
    assert (preds.labels[0, :32] == 0).all() and (preds.labels[0, 32:] == 2).all()  # car: channel 2, half the image
    assert (preds.labels[1] == 0).mean() == pytest.approx(0.2, abs=0.02)
    assert (preds.probs.argmax(axis=1) == preds.labels).all()
    np.testing.assert_allclose(preds.probs.sum(axis=1), 1, atol=1e-6)


def test_masks_of_one_small_size_keep_it_and_a_grid_option_samples(tmp_path: Path):
    mask = np.zeros((20, 30), dtype=np.uint8)
    mask[:, 15:] = 1
    for name in ("a", "b"):
        np.save(tmp_path / f"{name}.npy", _one_hot(mask, [0, 1]))
    kwargs = {"filepaths": ["/d/a.png", "/d/b.png"], "masks": [mask, mask], "targets": {0: "bg", 1: "road"}}
    assert read_segmentation_predictions(tmp_path, **kwargs).grid == "native 20x30"
    assert read_segmentation_predictions(tmp_path, grid=16, **kwargs).labels.shape == (2, 16, 16)


def test_two_images_with_one_name_are_refused(tmp_path: Path):
    mask = np.zeros((8, 8), dtype=np.uint8)
    np.save(tmp_path / "a.npy", _one_hot(mask, [0, 1]))
    with pytest.raises(PredictionsError, match="share the name 'a'"):
        read_segmentation_predictions(tmp_path, filepaths=["/d/x/a.png", "/d/y/a.png"], masks=[mask, mask],
                                      targets={0: "bg", 1: "road"})


def test_the_source_is_the_folder_s_absolute_path_whatever_the_user_typed(tmp_path: Path, monkeypatch):
    mask = np.zeros((8, 8), dtype=np.uint8)
    (tmp_path / "probs").mkdir()
    np.save(tmp_path / "probs" / "a.npy", _one_hot(mask, [0, 1]))
    monkeypatch.chdir(tmp_path)
    preds = read_segmentation_predictions("probs", filepaths=["/d/a.png"], masks=[mask], targets={0: "bg", 1: "road"})
    assert preds.source == str(tmp_path / "probs")

