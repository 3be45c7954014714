"""Object label issues without a detector: every box's crop judged by the other crops.

The path the ``object_labels`` check takes when the user gives no predictions. Each annotated box
is cut (with some context) and embedded with the audit's model (``CheckInputs.crop_features``,
cached), next to background crops sampled away from every box. Each crop's class evidence is the
mean of a similarity-weighted vote of its nearest crops and out-of-fold logistic-regression
probabilities; cleanlab flags the crops whose label disagrees (:mod:`workbench.checks.crop_evidence`).

- ``swapped``: a flagged box whose evidence points to another object class (the suggestion).
- ``badly_located``: a box whose crop looks like background (a shifted or misplaced box).
- ``overlooked``: a sliding window away from every box (:mod:`workbench.checks.crop_windows`) that a
  classifier fitted on all crops calls an object class with high probability, after non-maximum
  suppression; the class is the suggestion and there is no object id.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.checks.crop_evidence import BACKGROUND, box_verdict, crop_evidence
from workbench.checks.crop_folds import CropSet, FoldModels, WindowCrops, embed_windows, fold_models
from workbench.checks.crop_proposals import REFINE_STEPS, find_overlooked
from workbench.checks.crop_windows import background_boxes, image_seed, nearby_boxes, shifted_boxes
from workbench.embeddings.crops import crop_pixels
from workbench.errors import CheckNotApplicable
from workbench.results.object_labels import ObjectLabelIssue

if TYPE_CHECKING:
    from workbench.checks.inputs import CheckInputs

log = logging.getLogger(__name__)

METHOD = "crops"


@dataclass(frozen=True)
class CropOptions:
    """How boxes are judged from their crops (``object_labels`` forwards these).

    Attributes:
        k: nearest crops in each vote.
        folds: cross-validation folds of the crop classifier (lowered to the smallest class).
        padding: context added on each side of a box, as a share of its width/height.
        min_crop_side: crops narrower or shorter than this many pixels (after padding) are skipped.
        min_class_boxes: classes with fewer embedded boxes are not judged (reported as too small).
        background_per_image: background crops sampled per image away from every box, and as many
            boxes of the image moved off their object by 60-90% of their size (IoU <= 0.25 with every
            box: part object, part not). 0: no background class, so no ``badly_located`` and no
            ``overlooked``.
        background_threshold: a box whose background probability reaches this (and beats its own
            class) is ``badly_located``.
        swap_threshold: a box is also swapped (besides cleanlab's flag) when another object class
            reaches this probability and beats its own.
        proposals: look for ``overlooked`` objects with sliding windows.
        proposal_threshold: class probability a window needs to be reported as an overlooked object.
        proposal_seed: windows an object class leads with this probability are refined (moved, grown,
            shrunk, reshaped while the class's probability rises; :mod:`workbench.checks.crop_proposals`).
        max_seeds_per_image: windows refined per image at most (the most probable after NMS).
        refine_rounds: refinement rounds (steps of 25% then 12.5% of the window; 0: no refinement).
        max_window_negatives: windows that join the background class at most (drawn at random above it;
            bounds memory: each is one embedding vector).
        relocate_from: boxes whose background probability reaches this are re-scored moved by half
            their size in 8 directions.
        relocate_gain: a box is ``badly_located`` only when a nearby place raises its own class's
            probability by at least this much (a shifted box gains when moved back onto its object).
        proposal_min_votes: share of a window's ``k`` nearest crops (similarity-weighted) that must
            be of the classifier's class: a window the classifier calls an object but whose neighbours
            are background crops is not reported.
        max_proposals_per_image: windows scored per image (thinned evenly above it): bounds the cost.
        proposal_scales: window sizes (each class's median box size, the most common classes first).
        proposal_max_iou: windows overlapping an annotated box by this IoU or more are not scored.
        seed: background sampling and fold assignment.
    """

    k: int = 10
    folds: int = 5
    padding: float = 0.1
    min_crop_side: float = 8.0
    min_class_boxes: int = 5
    background_per_image: int = 2
    background_threshold: float = 0.75
    swap_threshold: float = 0.5
    proposals: bool = True
    proposal_threshold: float = 0.98
    proposal_min_votes: float = 0.5
    proposal_seed: float = 0.5
    max_seeds_per_image: int = 3
    refine_rounds: int = 4
    max_window_negatives: int = 50_000
    relocate_from: float = 0.3
    relocate_gain: float = 0.6
    max_proposals_per_image: int = 100
    proposal_scales: int = 1
    proposal_max_iou: float = 0.3
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("k", "folds", "min_class_boxes", "max_proposals_per_image", "proposal_scales",
                     "max_seeds_per_image", "max_window_negatives"):
            if int(getattr(self, name)) != getattr(self, name) or getattr(self, name) < 1:
                raise ValueError(f"{name} must be a whole number of at least 1, not {getattr(self, name)!r}")
        if self.folds < 2:
            raise ValueError(f"folds must be at least 2, not {self.folds}")
        if self.background_per_image < 0 or int(self.background_per_image) != self.background_per_image:
            raise ValueError(f"background_per_image must be a whole number of at least 0, not "
                             f"{self.background_per_image!r}")
        if self.refine_rounds not in range(len(REFINE_STEPS) + 1):
            raise ValueError(f"refine_rounds must be a whole number from 0 to {len(REFINE_STEPS)}, not "
                             f"{self.refine_rounds!r}")
        if not 0 <= self.padding <= 1:
            raise ValueError(f"padding must be between 0 and 1 (a share of the box), not {self.padding}")
        if not self.min_crop_side >= 1:  # NaN too
            raise ValueError(f"min_crop_side must be at least 1 pixel, not {self.min_crop_side}")
        for name in ("background_threshold", "swap_threshold", "proposal_threshold", "proposal_max_iou",
                     "proposal_min_votes", "proposal_seed", "relocate_from", "relocate_gain"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must be above 0 and at most 1, not {getattr(self, name)}")


@dataclass
class _Crops:
    """The crop requests of one run, row-aligned: table row, box, class name, object id."""

    rows: list[int]
    boxes: list[Any]
    labels: list[str]
    object_ids: list[str | None]


def _annotated(inputs: CheckInputs) -> tuple[_Crops, dict[int, list[Any]]]:
    """Every well-formed box with its class, and each row's boxes (for background and windows)."""
    cols = inputs.columns
    crops = _Crops([], [], [], [])
    per_row: dict[int, list[Any]] = {}
    for r, (labels, boxes) in enumerate(zip(cols.label_lists, cols.boxes or ())):
        ids = cols.object_ids[r] if cols.object_ids else (None,) * len(labels)
        good = [(lab, tuple(b), oid) for lab, b, oid in zip(labels, boxes, ids)
                if not isinstance(crop_pixels(b, (1000, 1000), 0.0, 0.0), str)]
        per_row[r] = [b for _, b, _ in good]
        for lab, b, oid in good:
            crops.rows.append(r)
            crops.boxes.append(b)
            crops.labels.append(lab)
            crops.object_ids.append(oid)
    return crops, per_row


def find_crop_label_issues(inputs: CheckInputs, options: CropOptions = CropOptions()
                           ) -> tuple[list[ObjectLabelIssue], dict[str, Any]]:
    """Boxes whose label or place their crop contradicts, and objects no box covers, without a detector.

    Returns:
        ``(issues, facts)``: issues worst first; facts say what ran (crops embedded and cached, folds,
        k, out-of-fold accuracy, classes too small to judge, proposals scored, seconds).

    Raises:
        ValueError: not a detection dataset, no model (``crop_features`` is ``None``), or fewer than
            two classes with enough boxes to judge.

    Example:
        >>> issues, facts = find_crop_label_issues(inputs, CropOptions(k=5))  # doctest: +SKIP
        >>> [(i.kind, i.label, i.suggested_label) for i in issues][:1]  # doctest: +SKIP
        [('swapped', 'cat', 'dog')]
    """
    start = time.perf_counter()
    if inputs.task != "detection":
        raise ValueError(f"object label issues need a detection dataset, not {inputs.task!r}")
    if inputs.crop_features is None:
        raise ValueError("object label issues without predictions need the audit's embedder (not --embedder none)")
    cols, o = inputs.columns, options
    boxes, per_row = _annotated(inputs)
    sizes = np.array([b[2:] for b in boxes.boxes], dtype=np.float64).reshape(-1, 2)
    readable = [r for r in per_row if cols.hashes[r]]
    bg_rows, bg_boxes = [], []
    for r in readable:
        seed = image_seed(o.seed, cols.hashes[r])
        for b in (*background_boxes(per_row[r], sizes, o.background_per_image, seed=seed),
                  *shifted_boxes(per_row[r], o.background_per_image, seed=seed + 1)):
            bg_rows.append(r)
            bg_boxes.append(b)
    emb = inputs.crop_features([*boxes.rows, *bg_rows], [*boxes.boxes, *bg_boxes], padding=o.padding,
                               min_side_px=o.min_crop_side)
    n_box = len(boxes.rows)
    counts = Counter(lab for i, lab in enumerate(boxes.labels) if emb.ok[i])
    judged = sorted(c for c, n in counts.items() if n >= o.min_class_boxes)
    too_small = sorted(c for c, n in counts.items() if n < o.min_class_boxes)
    bg_ok = [n_box + j for j in range(len(bg_rows)) if emb.ok[n_box + j]]
    classes = judged + ([BACKGROUND] if len(bg_ok) >= max(2, o.min_class_boxes) else [])
    if len(judged) < 2 and not (judged and BACKGROUND in classes):
        raise CheckNotApplicable(f"object label issues without predictions need at least two classes with "
                                 f"{o.min_class_boxes}+ embedded boxes each (found {dict(counts)})")
    index = {c: k for k, c in enumerate(classes)}
    box_idx = [i for i in range(n_box) if emb.ok[i] and boxes.labels[i] in index]
    train = box_idx + (bg_ok if BACKGROUND in index else [])
    y = np.array([index[boxes.labels[i]] if i < n_box else index[BACKGROUND] for i in train], dtype=np.int64)
    x = emb.vectors[train]
    train_rows = np.array([boxes.rows[i] if i < n_box else bg_rows[i - n_box] for i in train])
    ev = crop_evidence(x, y, len(classes), k=o.k, folds=o.folds, seed=o.seed)
    bg = index.get(BACKGROUND)
    issues: list[ObjectLabelIssue] = []
    crops = CropSet(x, y, train_rows)
    windows = WindowCrops([], [], np.zeros((0, 1), np.float32), {})
    gains: dict[int, float] = {}
    relocate_facts: dict[str, Any] = {}
    if bg is not None:
        windows = embed_windows(inputs, o, readable, per_row, sizes, boxes.labels)
        folds = fold_models(crops, windows, readable, o, bg, len(classes))
        fold_probs = _fold_probs(x[:len(box_idx)], [boxes.rows[i] for i in box_idx], folds, len(classes))
        bg_fold = fold_probs[:, bg]
        gains, relocate_facts = _relocation_gains(inputs, o, boxes, box_idx, y, folds, fold_probs, bg)
    for pos, i in enumerate(box_idx):
        verdict = box_verdict(ev.probs[pos], int(y[pos]), bool(ev.issue[pos]), bg, o.background_threshold,
                              o.swap_threshold)
        if bg is not None and (verdict is None or verdict[0] == "badly_located"):
            verdict = _placed_or_swapped(verdict, ev.probs[pos], int(y[pos]), bg, gains.get(pos), o.relocate_gain)
        if verdict is not None:
            r = boxes.rows[i]
            issues.append(ObjectLabelIssue(
                cols.ids[r], cols.filepaths[r], boxes.object_ids[i], boxes.labels[i], boxes.boxes[i], verdict[0],
                round(float(ev.quality[pos]), 4), None if verdict[1] == bg else classes[verdict[1]], METHOD))
    proposal_facts: dict[str, Any] = {"proposals_scored": 0, **windows.facts}
    if o.proposals and bg is not None:
        found, more = find_overlooked(inputs, o, per_row, windows, folds, crops, classes, METHOD)
        proposal_facts.update(more, window_negatives=min(len(windows.rows), o.max_window_negatives))
        n_found = len(found)
        issues, found = _moved_off(issues, found, boxes, box_idx, bg_fold, ev.quality, o, cols.ids)
        proposal_facts["windows_explained_by_moved_boxes"] = n_found - len(found)
        issues += found
    issues.sort(key=lambda i: (i.score, i.sample_id))
    skipped = Counter(emb.skipped[i] for i in emb.skipped if i < n_box)
    facts = {"method": METHOD, "boxes": n_box, "boxes_judged": len(box_idx), "boxes_skipped": dict(skipped),
             "background_crops": len(bg_ok) if bg is not None else 0, "crops_embedded": emb.n_computed,
             "crops_cached": emb.n_cached, "classes": judged, "classes_too_small": too_small,
             "folds": ev.folds, "k": o.k, "cv_accuracy": ev.cv_accuracy, **relocate_facts, **proposal_facts,
             "kinds": dict(Counter(i.kind for i in issues)), "options": asdict(o),
             "seconds": round(time.perf_counter() - start, 3)}
    return issues, facts


def _placed_or_swapped(verdict: tuple[str, int] | None, probs: np.ndarray, given: int, bg: int,
                       gain: float | None, min_gain: float) -> tuple[str, int] | None:
    """A box is badly located only when moving it gains its class ``min_gain``; a box that looks like
    background where it is and does not gain by moving, but another object class beats its own, is swapped."""
    if gain is not None and gain >= min_gain:
        return "badly_located", bg
    others = probs.copy()
    others[[given, bg]] = -1.0
    best = int(others.argmax())
    return ("swapped", best) if verdict is not None and probs[best] > probs[given] else None


def _fold_probs(x: np.ndarray, rows: list[int], folds: FoldModels, n_classes: int) -> np.ndarray:
    """Each box's class probabilities under its image's fold classifier (``x`` and ``rows`` aligned; rows of
    images in no fold stay 0)."""
    out = np.zeros((len(rows), n_classes))
    for fold, model in enumerate(folds.models):
        mine = [pos for pos, r in enumerate(rows) if folds.fold_of.get(r) == fold]
        if mine:
            out[mine] = model(x[mine])
    return out


def _moved_off(issues: list[ObjectLabelIssue], found: list[ObjectLabelIssue], boxes: _Crops, box_idx: list[int],
               bg_prob: np.ndarray, quality: np.ndarray, o: CropOptions, ids: Any,
               ) -> tuple[list[ObjectLabelIssue], list[ObjectLabelIssue]]:
    """An unboxed object next to a box of its class that looks like background is that box, moved off it:
    the box becomes ``badly_located`` (replacing another verdict) and the window is not reported again.
    *Next to*: the window overlaps the box widened by half its size on each side (a box shifted by up to
    its own size)."""
    from workbench.checks.box_match import intersection

    row_of = {sid: r for r, sid in enumerate(ids)}
    kept: list[ObjectLabelIssue] = []
    by_object = {i.object_id: i for i in issues if i.object_id is not None}
    for w in found:
        r = row_of[w.sample_id]
        near = [pos for pos, i in enumerate(box_idx) if boxes.rows[i] == r and boxes.labels[i] == w.suggested_label
                and bg_prob[pos] >= o.relocate_from and intersection(_widened(boxes.boxes[i]), tuple(w.box)) > 0]
        if not near:
            kept.append(w)
            continue
        pos = max(near, key=lambda p: intersection(_widened(boxes.boxes[box_idx[p]]), tuple(w.box)))
        i = box_idx[pos]
        by_object[boxes.object_ids[i]] = ObjectLabelIssue(
            w.sample_id, w.filepath, boxes.object_ids[i], boxes.labels[i], boxes.boxes[i], "badly_located",
            round(float(quality[pos]), 4), None, METHOD)
    unnamed = [i for i in issues if i.object_id is None]
    return unnamed + list(by_object.values()), kept


def _widened(box: Any) -> tuple[float, float, float, float]:
    x, y, w, h = (float(v) for v in box)
    return (x - w / 2, y - h / 2, 2 * w, 2 * h)


def _relocation_gains(inputs: CheckInputs, o: CropOptions, boxes: _Crops, box_idx: list[int], y: np.ndarray,
                      folds: FoldModels, probs_here: np.ndarray, bg: int) -> tuple[dict[int, float], dict[str, Any]]:
    """For boxes whose fold classifier (which learned from the windows that a view cutting through an
    object is background) gives background (``probs_here[:, bg]``) at least ``relocate_from``: how much
    moving the box by half its size raises its own class's probability at best, under the same classifier."""
    rows = [boxes.rows[box_idx[pos]] for pos in range(len(box_idx))]
    tried = [pos for pos in range(len(box_idx))
             if rows[pos] in folds.fold_of and probs_here[pos, bg] >= o.relocate_from]
    req_rows, req, owner = [], [], []
    for pos in tried:
        for b in nearby_boxes(boxes.boxes[box_idx[pos]]):
            req_rows.append(rows[pos])
            req.append(b)
            owner.append(pos)
    gains: dict[int, float] = {}
    if not req:
        return gains, {"boxes_relocated": 0, "relocation_crops": 0}
    emb = inputs.crop_features(req_rows, req, padding=o.padding, min_side_px=o.min_crop_side)
    ok = np.flatnonzero(emb.ok)
    for fold, model in enumerate(folds.models):
        moved = [j for j in ok if folds.fold_of[req_rows[j]] == fold]
        if not moved:
            continue
        probs = model(emb.vectors[moved])
        for n, j in enumerate(moved):
            pos = owner[j]
            gains[pos] = max(gains.get(pos, -1.0), float(probs[n, y[pos]] - probs_here[pos, y[pos]]))
    return gains, {"boxes_relocated": len(tried), "relocation_crops": len(ok)}
