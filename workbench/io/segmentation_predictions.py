"""A segmentation model's per-pixel class probabilities: a folder of ``.npy`` files, one per image.

``--predictions FOLDER`` on a semantic segmentation dataset (a ``Segmentation`` ground-truth field):

- one file per image with a mask, named like the image with ``.npy`` (``road/0001.jpg`` ->
  ``FOLDER/0001.npy``; the folder is not searched recursively, so image stems must be unique);
- each a float array of shape ``(K, H, W)`` or ``(H, W, K)``, ``H x W`` the mask's size and ``K`` the
  number of classes in the dataset's ``mask_targets``; channel ``k`` is the ``k``-th mask value in
  ascending order (``{0: background, 1: road, 5: car}``: channels background, road, car);
- probabilities, not logits: finite, in [0, 1], each pixel summing to 1 within 0.01 (then renormalised
  exactly); anything else is refused, never normalised silently (apply a softmax before saving).

The dataset needs ``mask_targets`` (the channel order). The folder and every file must lie inside the
dataset's folder (``workbench.io.boundary``) unless ``allow_outside_root``. Images whose mask holds values
the targets don't name are left out (the ``masks`` check reports them). Masks and probabilities are
brought to one working grid: the masks' own size when all share one no larger than ``grid`` pixels a
side, else every image sampled (nearest pixel, a regular lattice) at ``grid x grid``, so memory stays
``N * K * grid^2 * 4`` bytes. Every problem is a :class:`~workbench.errors.PredictionsError`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from workbench.checks.inputs import SegmentationPredictions
from workbench.errors import PredictionsError
from workbench.io.boundary import is_within

log = logging.getLogger(__name__)

NPY_SHAPE = ("a folder of <image name>.npy files, each (K, H, W) or (H, W, K) float class probabilities in "
             "mask_targets order")
SUM_TOLERANCE = 0.01


def _lattice(n: int, size: int) -> Any:
    """``size`` indices spread evenly over ``range(n)`` (pixel centres, nearest)."""
    import numpy as np

    return np.minimum(((np.arange(size) + 0.5) * n / size).astype(np.int64), n - 1)


def _mask_array(value: Any) -> Any:
    """A ground-truth value as a 2-D array (``None``: no mask; raises ``OSError``/``ValueError`` if unreadable)."""
    import numpy as np

    if value is None:
        return None
    if isinstance(value, np.ndarray):
        return value
    if getattr(value, "mask", None) is None and not getattr(value, "mask_path", None):
        return None
    return np.asarray(value.get_mask())


def _read_probs(path: Path, k: int, shape: tuple[int, int], where: str) -> Any:
    """One ``.npy`` as a validated ``(K, H, W)`` float32 array."""
    import numpy as np

    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise PredictionsError(f"{where}: not a NumPy .npy array ({exc}); expected {NPY_SHAPE}") from None
    h, w = shape
    if arr.ndim == 3 and arr.shape == (k, h, w):
        probs = arr
    elif arr.ndim == 3 and arr.shape == (h, w, k):
        probs = np.moveaxis(arr, 2, 0)
    elif arr.ndim == 3 and (arr.shape[1:] == (h, w) or arr.shape[:2] == (h, w)):
        got = arr.shape[0] if arr.shape[1:] == (h, w) else arr.shape[2]
        raise PredictionsError(f"{where}: {got} class channels, but the dataset's mask_targets name {k} classes; "
                               "give one channel per class, in mask_targets order")
    else:
        raise PredictionsError(f"{where}: shape {tuple(arr.shape)} does not match the mask ({h}x{w}) with "
                               f"{k} classes; expected ({k}, {h}, {w}) or ({h}, {w}, {k})")
    if probs.dtype.kind != "f":
        raise PredictionsError(f"{where}: dtype {probs.dtype} is not floating point; expected probabilities")
    if not np.isfinite(probs).all():
        raise PredictionsError(f"{where}: holds NaN or infinite values; expected probabilities in [0, 1]")
    if probs.min() < 0 or probs.max() > 1:
        raise PredictionsError(f"{where}: values outside [0, 1] (min {float(probs.min()):.3g}, max "
                               f"{float(probs.max()):.3g}); these look like logits: apply a softmax before saving")
    sums = probs.sum(axis=0, dtype=np.float64)
    worst = np.unravel_index(int(np.abs(sums - 1).argmax()), sums.shape)
    if abs(sums[worst] - 1) > SUM_TOLERANCE:
        raise PredictionsError(f"{where}: pixel (row {worst[0]}, column {worst[1]}) sums to {sums[worst]:.4g} over "
                               f"the classes, not 1 (tolerance {SUM_TOLERANCE}); refused rather than normalised: "
                               "save per-pixel probabilities (a softmax over the class axis)")
    return (probs / sums).astype(np.float32)


def _files_by_stem(folder: Path, roots: Sequence[str], allow_outside_root: bool) -> dict[str, Path]:
    out = {}
    for entry in sorted(folder.iterdir()):
        if entry.suffix.lower() != ".npy":
            continue
        if roots and not allow_outside_root and not is_within(str(entry), roots):
            raise PredictionsError(f"predictions file {entry} resolves outside the dataset folder "
                                   f"({', '.join(roots)}); move it inside or pass --allow-outside-root")
        out[entry.stem] = entry
    return out


def read_segmentation_predictions(spec: str | Path, *, filepaths: Sequence[str], masks: Sequence[Any],
                                  targets: Mapping[Any, str] | None, roots: Sequence[str] = (),
                                  allow_outside_root: bool = False, grid: int = 64) -> SegmentationPredictions:
    """``--predictions FOLDER`` of a segmentation dataset, with the masks, on one working grid.

    Args:
        filepaths: the table's image paths; ``masks``: per row, the ground-truth ``Segmentation`` (or a 2-D
            array; ``None``: no mask), aligned.
        targets: the dataset's ``mask_targets`` (mask value -> class).
        roots: the dataset's folders; the folder and its files must lie inside one unless ``allow_outside_root``.
        grid: the working grid's side when the masks differ in size or exceed it (see the module docstring).

    Raises:
        PredictionsError: no such folder, no targets, a missing, misshapen or non-probability file.

    Example:
        >>> preds = read_segmentation_predictions("probs/", filepaths=fps, masks=ds.values("ground_truth"),
        ...                                       targets=ds.default_mask_targets)  # doctest: +SKIP
        >>> preds.probs.shape  # doctest: +SKIP
        (3, 2, 32, 32)
    """
    import numpy as np

    folder = Path(spec).expanduser()
    if not folder.is_dir():
        what = "is a file" if folder.is_file() else "does not exist"
        raise PredictionsError(f"predictions {spec} {what}; a segmentation dataset takes {NPY_SHAPE}")
    if roots and not allow_outside_root and not is_within(str(folder), roots):
        raise PredictionsError(f"predictions folder {folder} resolves outside the dataset folder ({', '.join(roots)}); "
                               "move it inside the dataset folder or pass --allow-outside-root")
    named = {int(v): str(c) for v, c in (targets or {}).items() if str(v).isdigit()}
    if not named:
        raise PredictionsError("segmentation predictions need the dataset's integer mask_targets (mask value -> "
                               "class) to know the order of the probability channels; set dataset.mask_targets")
    values = sorted(named)
    index = np.full(max(values) + 1, -1, dtype=np.int64)
    index[values] = np.arange(len(values))
    files = _files_by_stem(folder, roots, allow_outside_root)
    left_out = {"no_mask": 0, "unreadable_mask": 0, "unknown_values": 0}
    kept: list[tuple[int, Any]] = []
    stems: dict[str, int] = {}
    for row, (fp, value) in enumerate(zip(filepaths, masks)):
        try:
            mask = _mask_array(value)
        except (OSError, ValueError):
            left_out["unreadable_mask"] += 1
            continue
        if mask is None or mask.ndim != 2:
            left_out["no_mask" if mask is None else "unreadable_mask"] += 1
            continue
        if mask.min() < 0 or mask.max() >= len(index) or (index[mask] < 0).any():
            left_out["unknown_values"] += 1
            continue
        stem = Path(fp).stem
        if stem in stems:
            raise PredictionsError(f"images {filepaths[stems[stem]]} and {fp} share the name {stem!r}; one "
                                   f"{stem}.npy cannot serve both: rename the images or audit them apart")
        stems[stem] = row
        if stem not in files:
            raise PredictionsError(f"predictions folder {folder} has no {stem}.npy for the image {fp}; every image "
                                   f"with a mask needs one ({NPY_SHAPE})")
        kept.append((row, index[mask]))
    if not kept:
        raise PredictionsError(f"predictions {spec}: no image has a readable mask with named values to compare with")
    shapes = {m.shape for _, m in kept}
    native = len(shapes) == 1 and max(next(iter(shapes))) <= grid
    out_h, out_w = next(iter(shapes)) if native else (grid, grid)
    labels = np.empty((len(kept), out_h, out_w), dtype=np.int64)
    probs = np.empty((len(kept), len(values), out_h, out_w), dtype=np.float32)
    for n, (row, mask) in enumerate(kept):
        path = files[Path(filepaths[row]).stem]
        ys, xs = _lattice(mask.shape[0], out_h), _lattice(mask.shape[1], out_w)
        full = _read_probs(path, len(values), mask.shape, f"{path} (image {filepaths[row]})")
        labels[n] = mask[np.ix_(ys, xs)]
        probs[n] = full[:, ys][:, :, xs]
    unused = len(files) - len(kept)
    if unused:
        log.info("%s: %d .npy files name no assessed image; ignored", folder, unused)
    return SegmentationPredictions(rows=tuple(r for r, _ in kept), labels=labels, probs=probs,
                                   classes=tuple(named[v] for v in values), source=os.path.abspath(folder),
                                   grid=f"{'native' if native else 'sampled'} {out_h}x{out_w}",
                                   left_out={k: v for k, v in left_out.items() if v})
