"""Sliding windows as background examples, and the out-of-fold crop classifiers trained with them.

Nearly every window away from the annotated boxes is background, and many of them show part of an
object. Adding them to the background class teaches the crop classifier what a detector's training
teaches it: a view that cuts through an object is not the object. Two judgements of the crops path
need that: a box moved off its object looks like background where it is and like its class when
moved back (``badly_located``), and a window that merely resembles a class is outvoted by the many
similar windows (``overlooked``).

A few windows do hold an unannotated object, so the images are split into folds and each image's
boxes and windows are only ever scored by a classifier that saw no crop of that image.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.checks.crop_windows import sliding_windows, window_sizes

if TYPE_CHECKING:
    from collections.abc import Callable

    from workbench.checks.inputs import CheckInputs
    from workbench.checks.object_crops import CropOptions


@dataclass(frozen=True)
class CropSet:
    """Crops a classifier is fitted on: ``vectors [N, D]`` (L2-normalised), class indices, image rows."""

    vectors: np.ndarray
    labels: np.ndarray
    rows: np.ndarray


@dataclass(frozen=True)
class WindowCrops:
    """The embedded sliding windows: image row, relative box and vector of each, and how they were made."""

    rows: list[int]
    boxes: list[Any]
    vectors: np.ndarray
    facts: dict[str, Any]


@dataclass(frozen=True)
class FoldModels:
    """One classifier per fold of images: ``fold_of`` maps an image row to its fold; ``models[f]`` and
    ``train[f]`` are fold ``f``'s classifier and its training crops (no crop of a fold-``f`` image)."""

    fold_of: dict[int, int]
    models: list[Callable[[np.ndarray], np.ndarray]]
    train: list[CropSet]


def embed_windows(inputs: CheckInputs, o: CropOptions, readable: list[int], per_row: dict[int, list[Any]],
                  sizes: np.ndarray, labels: list[str]) -> WindowCrops:
    """Sliding windows at the classes' median box sizes away from every box, embedded (cached)."""
    scales = window_sizes(sizes, labels, o.proposal_scales) if len(sizes) else []
    rows, boxes = [], []
    for r in readable:
        for w in sliding_windows(per_row[r], scales, max_windows=o.max_proposals_per_image,
                                 max_overlap_iou=o.proposal_max_iou):
            rows.append(r)
            boxes.append(w)
    facts: dict[str, Any] = {"proposal_sizes": scales, "proposals_scored": 0, "proposals_cached": 0}
    if not boxes:
        return WindowCrops([], [], np.zeros((0, 1), np.float32), facts)
    emb = inputs.crop_features(rows, boxes, padding=o.padding, min_side_px=o.min_crop_side)
    ok = np.flatnonzero(emb.ok)
    facts.update(proposals_scored=len(ok), proposals_cached=emb.n_cached, proposals_embedded=emb.n_computed)
    return WindowCrops([rows[j] for j in ok], [boxes[j] for j in ok], emb.vectors[ok], facts)


def fold_models(crops: CropSet, windows: WindowCrops, rows: list[int], o: CropOptions, bg: int,
                n_classes: int) -> FoldModels:
    """Classifiers on ``crops`` plus up to ``o.max_window_negatives`` windows labelled background, one per
    fold of the image ``rows`` (``o.folds`` folds, at least 2), each fitted without its fold's crops."""
    from workbench.checks.probe import probability_model

    negatives = _negatives(len(windows.rows), o.max_window_negatives, o.seed)
    every = CropSet(np.r_[crops.vectors, windows.vectors[negatives]] if len(negatives) else crops.vectors,
                    np.r_[crops.labels, np.full(len(negatives), bg, dtype=np.int64)],
                    np.r_[crops.rows, np.asarray(windows.rows, dtype=np.int64)[negatives]])
    folds = max(2, min(o.folds, len(rows)))
    fold_of = {r: n % folds for n, r in enumerate(sorted(set(rows)))}
    models, train = [], []
    for fold in range(folds):
        held = np.isin(every.rows, [r for r, f in fold_of.items() if f == fold])
        part = CropSet(every.vectors[~held], every.labels[~held], every.rows[~held])
        models.append(probability_model(part.vectors, part.labels, n_classes))
        train.append(part)
    return FoldModels(fold_of, models, train)


def _negatives(n: int, most: int, seed: int) -> np.ndarray:
    """Which of ``n`` windows join the background class: all, or ``most`` drawn without replacement."""
    if n <= most:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, most, replace=False))
