"""Objects no box covers, found without a detector: windows scored by the crop classifier, then refined.

The ``overlooked`` half of the crops path (:mod:`workbench.checks.object_crops`). Sliding windows
(:func:`workbench.checks.crop_windows.sliding_windows`) at the classes' typical box sizes are cut,
embedded and scored by one classifier fitted on every annotated and background crop. A coarse grid
of windows rarely lines up with an object (at half-window strides the best window can have IoU 0.4
with it), so the windows an object class already leads (``proposal_seed``) are *refined*: moved,
grown, shrunk and reshaped step by step (:func:`workbench.checks.crop_windows.refinement_steps`)
while the class's probability rises, the way a detector regresses its anchors. A refined window is
reported when its class reaches ``proposal_threshold`` and also wins the similarity-weighted vote of
its ``k`` nearest crops (the classifier alone is over-confident on textures), after non-maximum
suppression. Every crop goes through ``CheckInputs.crop_features`` and so is cached.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.checks.crop_evidence import BACKGROUND
from workbench.checks.crop_folds import CropSet, FoldModels, WindowCrops
from workbench.checks.crop_windows import away_from, non_max_suppression, refinement_steps
from workbench.results.object_labels import ObjectLabelIssue

if TYPE_CHECKING:
    from collections.abc import Callable

    from workbench.checks.inputs import CheckInputs
    from workbench.checks.object_crops import CropOptions

#: Probabilities below this count as this (float32's smallest normal number).
TINY = 1.2e-38
#: A refinement move must raise the class's log-odds over background by at least this much.
MIN_CLIMB = 0.01
#: Step (share of the window's size) of each refinement round: coarse moves first, then finer ones.
REFINE_STEPS = (0.25, 0.25, 0.125, 0.125)


@dataclass
class Window:
    """A candidate object: its image row, box, best object class, that class's probability, its vector."""

    row: int
    box: tuple[float, float, float, float]
    label: int
    conf: float
    background: float
    vector: np.ndarray


def find_overlooked(inputs: CheckInputs, o: CropOptions, per_row: dict[int, list[Any]], windows: WindowCrops,
                    folds: FoldModels, crops: CropSet, classes: list[str], method: str,
                    ) -> tuple[list[ObjectLabelIssue], dict[str, Any]]:
    """Windows away from every box that the crops say hold an object of a class, as ``overlooked`` issues.

    Seeds are the windows a classifier fitted on the annotated and background crops alone calls an
    object (it still likes a window that shows part of one); each is refined with its image's fold
    classifier (:func:`workbench.checks.crop_folds.fold_models`, which also learned from the windows
    that partial views are background), and reported when that classifier and the window's nearest
    annotated crops agree.

    Returns:
        ``(issues, facts)``: one issue per reported window (``object_id=None``, the class as the
        suggestion, score ``1 - probability``); facts count the seeds and refinement crops.
    """
    cols = inputs.columns
    facts: dict[str, Any] = {"proposal_seeds": 0, "refinement_crops": 0}
    if not windows.rows:
        return [], facts
    bg = classes.index(BACKGROUND)
    plain = _model(crops, len(classes))
    seeds = _seeds(_windows(plain, windows.rows, windows.boxes, windows.vectors, bg), o)
    hits: list[Window] = []
    n_refine = 0
    for fold, model in enumerate(folds.models):
        mine = [n for n, r in enumerate(windows.rows) if folds.fold_of[r] == fold]
        coarse = _windows(model, [windows.rows[n] for n in mine], [windows.boxes[n] for n in mine],
                          windows.vectors[mine], bg)
        start = [w for w in seeds if folds.fold_of[w.row] == fold]
        start = _windows(model, [w.row for w in start], [w.box for w in start],
                         np.stack([w.vector for w in start]) if start else np.zeros((0, 1)), bg)
        refined, n = refine(inputs, o, model, start, per_row, bg)
        n_refine += n
        found = [w for w in (*coarse, *refined) if w.conf >= o.proposal_threshold and w.conf > w.background]
        if found:  # the window's nearest annotated and background crops (its own image's left out) must agree
            near = ~np.isin(crops.rows, [r for r, f in folds.fold_of.items() if f == fold])
            votes = window_votes(np.stack([w.vector for w in found]), crops.vectors[near], crops.labels[near],
                                 len(classes), o.k)
            hits += [w for w, v in zip(found, votes) if v[w.label] >= o.proposal_min_votes]
    facts.update(proposal_seeds=len(seeds), refinement_crops=n_refine)
    out: list[ObjectLabelIssue] = []
    for r in sorted({w.row for w in hits}):
        mine_hits = [w for w in hits if w.row == r]
        for keep in non_max_suppression([w.box for w in mine_hits], [w.conf for w in mine_hits],
                                        max_iou=o.proposal_max_iou):
            w = mine_hits[keep]
            out.append(ObjectLabelIssue(cols.ids[r], cols.filepaths[r], None, None, w.box, "overlooked",
                                        round(1.0 - w.conf, 4), classes[w.label], method))
    return out, facts


def _model(train: CropSet, n_classes: int) -> Callable[[np.ndarray], np.ndarray]:
    from workbench.checks.probe import probability_model

    return probability_model(train.vectors, train.labels, n_classes)


def _windows(model: Callable[[np.ndarray], np.ndarray], rows: list[int], boxes: list[Any], vectors: np.ndarray,
             bg: int) -> list[Window]:
    """Each window with its best object class and that class's and the background's probability."""
    if not len(vectors):
        return []
    probs = model(vectors)
    objects = probs.copy()
    objects[:, bg] = -1.0
    best = objects.argmax(axis=1)
    return [Window(rows[n], tuple(boxes[n]), int(best[n]), float(objects[n, best[n]]), float(probs[n, bg]),
                    vectors[n]) for n in range(len(rows))]


def _seeds(windows: list[Window], o: CropOptions) -> list[Window]:
    """Per image, the windows an object class leads with at least ``proposal_seed``, best first after
    non-maximum suppression, at most ``max_seeds_per_image``."""
    out: list[Window] = []
    if not o.refine_rounds:
        return out
    for r in sorted({w.row for w in windows}):
        mine = [w for w in windows if w.row == r and w.conf >= o.proposal_seed and w.conf > w.background]
        kept = non_max_suppression([w.box for w in mine], [w.conf for w in mine], max_iou=o.proposal_max_iou)
        out += [mine[k] for k in kept[:o.max_seeds_per_image]]
    return out


def refine(inputs: CheckInputs, o: CropOptions, model: Callable[[np.ndarray], np.ndarray], seeds: list[Window],
            per_row: dict[int, list[Any]], bg: int) -> tuple[list[Window], int]:
    """Hill-climb each seed: each round cuts the seed's :func:`refinement_steps` (kept away from every
    annotated box) and moves to the one that raises the seed class's :func:`margin` over background
    most (a probability saturates at 1 long before the window is centred on its object); a seed that
    gains nothing at a step skips that step's next round. All candidates of a round are embedded in
    one batch. Returns the climbed windows, aligned with ``seeds``, and the crops cut."""
    current = list(seeds)
    failed_at: dict[int, float] = {}  # a seed that gained nothing at a step skips that step's next round
    n_crops = 0
    for step in REFINE_STEPS[:o.refine_rounds]:
        rows, boxes, owner = [], [], []
        for s, w in enumerate(current):
            if failed_at.get(s) == step:
                continue
            for b in refinement_steps(w.box, step):
                if away_from(b, per_row[w.row], o.proposal_max_iou):
                    rows.append(w.row)
                    boxes.append(b)
                    owner.append(s)
        if not boxes:
            continue
        n_crops += len(boxes)
        emb = inputs.crop_features(rows, boxes, padding=o.padding, min_side_px=o.min_crop_side)
        ok = np.flatnonzero(emb.ok)
        probs = model(emb.vectors[ok]) if len(ok) else np.zeros((0, 1))
        before = list(current)
        for n, j in enumerate(ok):
            s = owner[j]
            w = current[s]
            if margin(probs[n, w.label], probs[n, bg]) > margin(w.conf, w.background) + MIN_CLIMB:
                current[s] = Window(w.row, tuple(boxes[j]), w.label, float(probs[n, w.label]),
                                     float(probs[n, bg]), emb.vectors[j])
        failed_at.update({s: step for s in set(owner) if current[s] is before[s]})
    return current, n_crops


def margin(p_class: float, p_background: float) -> float:
    """How much more likely the class is than background, in natural-log units (``log p_c - log p_bg``):
    it keeps rising as a window is centred on its object after the class's probability has saturated.

    Example:
        >>> margin(0.9, 0.1) < margin(0.99999, 0.00001)
        True
    """
    return math.log(max(float(p_class), TINY)) - math.log(max(float(p_background), TINY))


def window_votes(query: np.ndarray, x: np.ndarray, y: np.ndarray, n_classes: int, k: int) -> np.ndarray:
    """Each query crop's class distribution among its ``k`` nearest crops of ``x`` (cosine-weighted).

    Example:
        >>> x = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
        >>> window_votes(np.array([[0.9, 0.1]], np.float32), x, np.array([0, 1]), 2, 1).tolist()
        [[1.0, 0.0]]
    """
    sims = query @ x.T
    top = np.argsort(-sims, axis=1)[:, :k]
    weights = np.clip(np.take_along_axis(sims, top, axis=1), 1e-6, None)
    votes = np.zeros((len(query), n_classes))
    np.add.at(votes, (np.repeat(np.arange(len(query)), top.shape[1]), y[top].ravel()), weights.ravel())
    return votes / votes.sum(axis=1, keepdims=True)
