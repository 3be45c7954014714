"""Object-level label issues from a detector's predictions, scored with cleanlab's ``object_detection``.

Pure compute: the annotated and predicted boxes go in (FiftyOne's relative ``(x, y, w, h)`` with each
image's size in pixels), typed issues come out. cleanlab (ObjectLab) scores

- every **annotated** box for ``swapped`` (a confident prediction of another class sits on it:
  ``compute_swap_box_scores``) and ``badly_located`` (the best same-class prediction overlaps it
  poorly: ``compute_badloc_box_scores``);
- every confident **predicted** box that overlaps no annotated box for ``overlooked``
  (``compute_overlooked_box_scores``);
- every image (``get_label_quality_scores``), and flags images (``filter.find_label_issues``, which
  cuts each box score at 0.8 x its class's average precision).

A box is flagged with the kind whose score is lowest among those at or under their threshold; a
swapped box's suggestion is the class of the confident other-class prediction overlapping it most.
cleanlab works in pixels (its similarity mixes IoU with the distance between box centres in pixels),
so images whose size is unknown are not assessed. cleanlab floors a box's swap score at the smallest
non-zero similarity between any annotated and predicted box of the dataset: on a handful of images
with one box each that floor is high, on a real dataset it is near 0.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Sequence

from workbench.results.object_labels import ImageLabelScore, ObjectLabelIssue, ObjectLabelIssuesResult

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class ObjectScoreThresholds:
    """Per-kind cut-offs on cleanlab's box scores (in [0, 1], low = likely wrong) and its confidence levels.

    ``confident``: predictions at least this sure count as evidence of a swapped or overlooked object
    (cleanlab's ``high_probability_threshold``); ``None`` calibrates it on the detector itself
    (:func:`calibrated_confidence`). ``plausible``: predictions above this count when judging a box's
    location (``low_probability_threshold``).
    """

    swapped: float = 0.5
    badly_located: float = 0.5
    overlooked: float = 0.5
    confident: float | None = None
    plausible: float = 0.5


#: cleanlab's own ``high_probability_threshold``: the level used when too few predictions calibrate one.
CLEANLAB_CONFIDENT = 0.95
#: Predictions that must agree with an annotated box before the confidence level is calibrated on them.
MIN_AGREEING = 20


def calibrated_confidence(labels: Sequence[Sequence[str]], boxes: Sequence[Sequence[Box]],
                          pred_labels: Sequence[Sequence[str]], pred_boxes: Sequence[Sequence[Box]],
                          pred_scores: Sequence[Sequence[float]], *, floor: float = 0.5,
                          quantile: float = 0.10) -> tuple[float, str]:
    """The confidence at which this detector's predictions count as evidence, and how it was set.

    A detector's scores are its own scale: one that gives its right answers 0.6 to 0.9 never reaches
    cleanlab's fixed 0.95, so swaps and overlooked objects would go unseen. The level is the 10th
    percentile of the scores of predictions that agree with an annotated box (same class, IoU >= 0.5):
    as sure as the detector is on nine in ten of the boxes it gets right. It is held between
    ``floor`` (the ``plausible`` level) and 0.95; with fewer than :data:`MIN_AGREEING` agreeing
    predictions it is cleanlab's 0.95.

    Example:
        >>> boxes = [[(0.1, 0.1, 0.3, 0.3)]] * 30
        >>> calibrated_confidence([["cat"]] * 30, boxes, [["cat"]] * 30, boxes, [[0.6 + i / 100] for i in range(30)])
        (0.629, 'calibrated: 10th percentile of the 30 predictions that agree with an annotated box')
    """
    import numpy as np

    from workbench.checks.box_match import iou

    agreeing = [score for labs, bxs, plabs, pbxs, scores in zip(labels, boxes, pred_labels, pred_boxes, pred_scores)
                for plab, pbox, score in zip(plabs, pbxs, scores)
                if any(lab == plab and box is not None and iou(box, pbox) >= 0.5 for lab, box in zip(labs, bxs))]
    if len(agreeing) < MIN_AGREEING:
        return CLEANLAB_CONFIDENT, (f"cleanlab's default: only {len(agreeing)} predictions agree with an annotated box "
                                    f"(at least {MIN_AGREEING} calibrate it)")
    level = float(np.clip(np.quantile(agreeing, quantile), floor, CLEANLAB_CONFIDENT))
    return round(level, 3), (f"calibrated: {round(quantile * 100)}th percentile of the {len(agreeing)} predictions "
                             "that agree with an annotated box")


def to_cleanlab(labels: Sequence[Sequence[str]], boxes: Sequence[Sequence[Box]], pred_labels: Sequence[Sequence[str]],
                pred_boxes: Sequence[Sequence[Box]], pred_scores: Sequence[Sequence[float]],
                sizes: Sequence[tuple[int, int]], classes: Sequence[str]) -> tuple[list[dict], list[list]]:
    """cleanlab's object-detection inputs: per image ``{"bboxes": (L, 4) x1,y1,x2,y2 px, "labels": (L,)}`` and
    a list over ``classes`` of ``(M_k, 5)`` arrays ``[x1, y1, x2, y2, score]``.

    Example:
        >>> lab, pred = to_cleanlab([["cat"]], [[(0.1, 0.2, 0.5, 0.5)]], [["dog"]], [[(0.1, 0.2, 0.5, 0.5)]], [[0.9]],
        ...                         [(100, 50)], ["cat", "dog"])
        >>> lab[0]["bboxes"].tolist(), lab[0]["labels"].tolist(), [p.tolist() for p in pred[0]]
        ([[10.0, 10.0, 60.0, 35.0]], [0], [[], [[10.0, 10.0, 60.0, 35.0, 0.9]]])
    """
    import numpy as np

    index = {c: k for k, c in enumerate(classes)}

    def pixels(box: Box, size: tuple[int, int]) -> list[float]:
        x, y, w, h = box
        return [x * size[0], y * size[1], (x + w) * size[0], (y + h) * size[1]]

    out_labels, out_preds = [], []
    for labs, bxs, plabs, pbxs, pscores, size in zip(labels, boxes, pred_labels, pred_boxes, pred_scores, sizes):
        out_labels.append({"bboxes": np.array([pixels(b, size) for b in bxs], dtype=np.float64).reshape(-1, 4),
                           "labels": np.array([index[lab] for lab in labs], dtype=np.int64)})
        per_class: list[list[list[float]]] = [[] for _ in classes]
        for lab, box, score in zip(plabs, pbxs, pscores):
            per_class[index[lab]].append(pixels(box, size) + [float(score)])
        out_preds.append([np.array(rows, dtype=np.float64).reshape(-1, 5) for rows in per_class])
    return out_labels, out_preds


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two ``x1, y1, x2, y2`` boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def find_object_label_issues(sample_ids: Sequence[str], filepaths: Sequence[str],
                             labels: Sequence[Sequence[str]], boxes: Sequence[Sequence[Box | None]],
                             object_ids: Sequence[Sequence[str]], sizes: Sequence[tuple[int, int]],
                             pred_labels: Sequence[Sequence[str]], pred_boxes: Sequence[Sequence[Box]],
                             pred_scores: Sequence[Sequence[float]], *,
                             thresholds: ObjectScoreThresholds = ObjectScoreThresholds()) -> ObjectLabelIssuesResult:
    """Swapped, badly located and overlooked objects of the given (predicted) images.

    Args:
        sample_ids, filepaths, sizes: one per image, ``sizes`` its ``(width, height)`` in pixels.
        labels, boxes, object_ids: per image, the annotated objects (a ``None`` box is left out).
        pred_labels, pred_boxes, pred_scores: per image, the detector's boxes and confidences.
        thresholds: the per-kind cut-offs and confidence levels.

    Example:
        >>> r = find_object_label_issues(["s"], ["/a.png"], [["cat"]], [[(0.1, 0.1, 0.4, 0.4)]], [["o1"]],
        ...                              [(100, 100)], [["dog", "cat"]],
        ...                              [[(0.1, 0.1, 0.4, 0.41), (0.7, 0.7, 0.2, 0.2)]], [[0.99, 0.3]])
        >>> [(i.object_id, i.kind, i.suggested_label) for i in r.issues]
        [('o1', 'swapped', 'dog')]
    """
    import numpy as np
    from cleanlab.object_detection import filter as od_filter
    from cleanlab.object_detection import rank as od_rank

    kept = [[k for k, b in enumerate(bxs) if b is not None] for bxs in boxes]
    labs = [[labels[i][k] for k in ks] for i, ks in enumerate(kept)]
    bxs = [[boxes[i][k] for k in ks] for i, ks in enumerate(kept)]
    classes = sorted({lab for ls in list(labs) + [list(p) for p in pred_labels] for lab in ls})
    n_objects = sum(len(ks) for ks in kept)
    facts: dict[str, Any] = {"predicted_boxes": sum(len(p) for p in pred_boxes), "classes": len(classes)}
    if thresholds.confident is None:
        level, how = calibrated_confidence(labs, bxs, pred_labels, pred_boxes, pred_scores, floor=thresholds.plausible)
        thresholds = dataclasses.replace(thresholds, confident=level)
        facts["confident_from"] = how
    else:
        facts["confident_from"] = "set by the user"
    limits = {"swapped": thresholds.swapped, "badly_located": thresholds.badly_located,
              "overlooked": thresholds.overlooked, "confident": thresholds.confident,
              "plausible": thresholds.plausible}
    if not sample_ids or not classes:
        return ObjectLabelIssuesResult(method="predictions", n_images=len(sample_ids), n_objects=n_objects,
                                       thresholds=limits, facts=facts,
                                       images=tuple(ImageLabelScore(s, f, 1.0, False)
                                                    for s, f in zip(sample_ids, filepaths)))
    cl_labels, cl_preds = to_cleanlab(labs, bxs, pred_labels, pred_boxes, pred_scores, sizes, classes)
    shared = _auxiliary_inputs(cl_labels, cl_preds)  # the box matrices, computed once for the three scores
    swap = od_rank.compute_swap_box_scores(labels=cl_labels, predictions=cl_preds, auxiliary_inputs=shared,
                                           high_probability_threshold=thresholds.confident)
    badloc = od_rank.compute_badloc_box_scores(labels=cl_labels, predictions=cl_preds, auxiliary_inputs=shared,
                                               low_probability_threshold=thresholds.plausible)
    overlooked = od_rank.compute_overlooked_box_scores(labels=cl_labels, predictions=cl_preds, auxiliary_inputs=shared,
                                                       high_probability_threshold=thresholds.confident)
    image_scores = od_rank.get_label_quality_scores(cl_labels, cl_preds, verbose=False)
    image_flags = od_filter.find_label_issues(cl_labels, cl_preds)

    issues: list[ObjectLabelIssue] = []
    for i, sid in enumerate(sample_ids):
        lab_px = cl_labels[i]["bboxes"]
        for j, k in enumerate(kept[i]):
            scored = {"swapped": float(swap[i][j]), "badly_located": float(badloc[i][j])}
            below = {kind: s for kind, s in scored.items() if s <= limits[kind]}
            if not below:
                continue
            kind = min(below, key=below.get)
            suggestion = (_swap_suggestion(lab_px[j], labs[i][j], cl_preds[i], classes, thresholds.confident)
                          if kind == "swapped" else None)
            issues.append(ObjectLabelIssue(sid, filepaths[i], object_ids[i][k] if k < len(object_ids[i]) else None,
                                           labs[i][j], tuple(round(v, 6) for v in bxs[i][j]),  # type: ignore[arg-type]
                                           kind, round(below[kind], 6), suggestion, "predictions"))
        # cleanlab lists an image's predicted boxes class by class (its per-class arrays, concatenated)
        order = [m for c in classes for m, lab in enumerate(pred_labels[i]) if lab == c]
        for m, score in zip(order, overlooked[i]):
            if not np.isnan(score) and score <= thresholds.overlooked:
                issues.append(ObjectLabelIssue(sid, filepaths[i], None, None,
                                               tuple(round(v, 6) for v in pred_boxes[i][m]),  # type: ignore[arg-type]
                                               "overlooked", round(float(score), 6), pred_labels[i][m], "predictions"))
    issues.sort(key=lambda x: (x.score, x.filepath))
    with_issue = {x.sample_id for x in issues}
    images = tuple(ImageLabelScore(sid, fp, round(float(s), 6), bool(flag) or sid in with_issue)
                   for sid, fp, s, flag in zip(sample_ids, filepaths, image_scores, image_flags))
    facts["cleanlab_flagged_images"] = int(np.sum(image_flags))
    return ObjectLabelIssuesResult(method="predictions", issues=tuple(issues), images=images, n_images=len(sample_ids),
                                   n_objects=n_objects, thresholds=limits, facts=facts)


def _auxiliary_inputs(labels: list[dict], predictions: list[list]) -> list[dict] | None:
    """cleanlab's per-image box matrices (the documented ``auxiliary_inputs`` of its ``compute_*_box_scores``),
    built by its own helper at its default ``alpha``; ``None`` (each call builds them) if a cleanlab version
    lacks the helper. Building them is most of the work: once instead of three times."""
    from cleanlab.internal.constants import ALPHA
    from cleanlab.object_detection import rank as od_rank

    build = getattr(od_rank, "_get_valid_inputs_for_compute_scores", None)
    return build(ALPHA, labels, predictions) if build is not None else None


def _swap_suggestion(box: Sequence[float], label: str, preds: Sequence[Any], classes: Sequence[str],
                     confident: float) -> str | None:
    """The class of the confident other-class prediction that overlaps ``box`` most (``None``: none overlaps)."""
    best, best_iou = None, 0.0
    for k, rows in enumerate(preds):
        if classes[k] == label:
            continue
        for row in rows:
            overlap = _iou(box, row[:4])
            if row[4] > confident and overlap > best_iou:
                best, best_iou = classes[k], overlap
    return best
