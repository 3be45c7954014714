"""Annotation QA across annotators: how far two or more label fields of the same images agree.

Reads the annotator fields (``AuditConfig.annotator_fields``, CLI ``--annotators``):

- class labels: Cohen's kappa per pair, Fleiss' kappa and Krippendorff's alpha (nominal, missing
  ratings allowed) overall, observed agreement per pair; consensus and annotator quality from
  cleanlab's ``get_label_quality_multiannotator`` with out-of-fold probabilities of the probe on the
  embeddings (:func:`workbench.checks.probe.out_of_fold_probabilities`, as the label check computes
  them); without embeddings cleanlab's ``get_majority_vote_label``, and the result says so;
- boxes and masks: each pair matched per image by the Hungarian algorithm on IoU
  (:mod:`workbench.checks.agreement_objects`); mean matched IoU against the targets of
  ``shared/DATA_GUIDE.md`` (0.85 boxes, 0.80 masks; under 0.75 the guidelines need work).

It also draws a seeded review sample (15% by default, by class) and counts how much of it carries
review marks (:mod:`workbench.marks`).
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.checks.agreement_compute import classification_agreement, object_agreement, review_sample
from workbench.checks.agreement_objects import box_iou_matrix, mask_iou_matrix, mask_regions
from workbench.checks.agreement_result import AgreementResult, AnnotatorAgreement, Consensus
from workbench.checks.registry import (CheckInputs, GateSpec, PanelSpec, Requirement, SampleField, SampleTag,
                                       SavedView, Writes, register_check)

if TYPE_CHECKING:
    from workbench.config import AuditConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AgreementOptions:
    """``--check-option agreement.min_iou=0.5`` and the verdict thresholds (``shared/DATA_GUIDE.md``):
    mean matched IoU targets for boxes and masks, the alarm (also the per-image score under which an
    image counts as a disagreement), Krippendorff's alpha target and alarm for class labels
    (Krippendorff's 0.800 and 0.667), and the share of images in the review sample."""

    min_iou: float = 0.5
    box_target: float = 0.85
    mask_target: float = 0.80
    alarm: float = 0.75
    label_target: float = 0.8
    label_alarm: float = 0.667
    review_share: float = 0.15

    def __post_init__(self) -> None:
        for name in ("min_iou", "box_target", "mask_target", "alarm", "label_target", "label_alarm"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must be above 0 and at most 1, not {getattr(self, name)}")
        if not 0 < self.review_share <= 1:
            raise ValueError(f"review_share must be above 0 and at most 1, not {self.review_share}")


ANNOTATORS = Requirement("annotator fields", lambda i: len(i.annotations) >= 2,
                         "needs two or more annotator fields (--annotators ann_a,ann_b)")
REVIEW_TAG = "wb:review-sample"
DISAGREEMENT_TAG = "wb:annotator-disagreement"


def _consensus_labels(r: AgreementResult) -> dict[str, dict[str, Any]]:
    """Class labels: ``{sample id: {label, confidence (consensus quality), wb_agreement}}``."""
    return {c.sample_id: {"label": c.label, "confidence": c.quality, "wb_agreement": c.agreement}
            for c in r.consensus if c.label is not None}


def _consensus_boxes(r: AgreementResult) -> dict[str, list[dict[str, Any]]]:
    """Boxes: per image its fused objects (``confidence`` and ``wb_agreement``: the object's agreement,
    ``wb_annotators``: how many drew it); images whose annotators agree on no object get an empty list."""
    if r.kind != "detection":
        return {}
    return {c.sample_id: [{"label": o.label, "bounding_box": list(o.box), "confidence": o.agreement,
                           "wb_agreement": o.agreement, "wb_annotators": o.n_annotators} for o in c.objects]
            for c in r.consensus}


@register_check(
    name="agreement", title="agreement", report_title="Annotator agreement", result=AgreementResult,
    needs=(ANNOTATORS,),
    count_key="annotator_disagreements",
    writes=Writes(fields=(SampleField("consensus", "wb_consensus", _consensus_labels, kind="classification"),
                          SampleField("consensus_boxes", "wb_consensus", _consensus_boxes, kind="detections"),
                          SampleField("agreement", "wb_agreement", lambda r: {i.sample_id: i.score for i in r.images})),
                  tags=(SampleTag("review_sample", REVIEW_TAG, lambda r: set(r.review_sample)),
                        SampleTag("annotator_disagreement", DISAGREEMENT_TAG,
                                  lambda r: {i.sample_id for i in r.below_alarm})),
                  views=(SavedView("review_sample", "wb-review-sample", REVIEW_TAG),
                         SavedView("annotator_disagreement", "wb-annotator-disagreement", DISAGREEMENT_TAG,
                                   "wb_agreement"))),
    gate=GateSpec("annotator-disagreement", "images where annotators disagree (score under the alarm)",
                  lambda r: r.n_findings, total=lambda r, audit: max(r.n_images, 1)),
    section="sections/agreement.html.j2", panel=PanelSpec("Agreement", "workbench.panels.agreement:agreement_panel"),
    options=AgreementOptions, absent_export={"agreement": None})
def run(inputs: CheckInputs, config: AuditConfig, options: AgreementOptions) -> AgreementResult:
    """Agreement of the annotator fields by their task, then the review sample and its review marks."""
    cols, names = inputs.columns, tuple(inputs.annotations)
    if inputs.annotation_kind == "classification":
        ratings = [tuple(inputs.annotations[f][row] for f in names) for row in range(len(cols))]
        result = classification_agreement(cols.ids, cols.filepaths, ratings, names, target=options.label_target,
                                          alarm=options.label_alarm, image_alarm=options.alarm)
        result = _with_cleanlab(result, inputs, config, ratings)
        strata = {c.sample_id: c.label for c in result.consensus}
    elif inputs.annotation_kind == "detection":
        labels, boxes, ious = [], [], []
        for row in range(len(cols)):
            objs = [inputs.annotations[f][row] for f in names]
            labels.append([None if o is None else [lab for lab, _ in o] for o in objs])
            boxes.append([None if o is None else [b for _, b in o] for o in objs])
            ious.append({(k, l): box_iou_matrix(boxes[-1][k] or [], boxes[-1][l] or [])
                         for k in range(len(names)) for l in range(k + 1, len(names))})
        result = object_agreement(cols.ids, cols.filepaths, labels, ious, names, boxes=boxes, min_iou=options.min_iou,
                                  target=options.box_target, alarm=options.alarm)
        strata = {c.sample_id: _main_class([o.label for o in c.objects]) for c in result.consensus}
    else:
        result, strata = _masks(inputs, names, options)
    sample = review_sample(cols.ids, [strata.get(s) for s in cols.ids], share=options.review_share, seed=config.seed)
    return dataclasses.replace(result, review_sample=sample, review_share=options.review_share,
                               n_reviewed=sum(s in inputs.reviews for s in sample))


def _main_class(labels: list[str]) -> str | None:
    counts = Counter(labels)
    return min(counts, key=lambda c: (-counts[c], c)) if counts else None


def _masks(inputs: CheckInputs, names: tuple[str, ...], options: AgreementOptions
           ) -> tuple[AgreementResult, dict[str, str | None]]:
    """Masks: each class region of one annotator's mask against every region of another's (pixel IoU)."""
    from workbench.io.boundary import is_within

    info = inputs.annotation_info
    targets, roots = dict(info.get("mask_targets", {})), tuple(info.get("roots", ()))
    unreadable = 0

    def read(ref: Any) -> Any:
        nonlocal unreadable
        if ref is None or isinstance(ref, np.ndarray):
            return ref
        if roots and not is_within(str(ref), roots):
            unreadable += 1
            return None
        try:
            from PIL import Image

            with Image.open(ref) as im:
                return np.asarray(im)
        except OSError:
            unreadable += 1
            return None

    cols = inputs.columns
    labels, ious, strata = [], [], {}
    for row in range(len(cols)):
        regions = [None if m is None else mask_regions(m) for m in (read(inputs.annotations[f][row]) for f in names)]
        labels.append([None if r is None else [targets.get(v, str(v)) for v in r[0]] for r in regions])
        ious.append({(k, l): mask_iou_matrix(regions[k][1], regions[l][1]) for k in range(len(names))
                     for l in range(k + 1, len(names)) if regions[k] is not None and regions[l] is not None})
        strata[cols.ids[row]] = _main_class([c for labs in labels[-1] if labs for c in labs])
    result = object_agreement(cols.ids, cols.filepaths, labels, ious, names, kind="segmentation",
                              min_iou=options.min_iou, target=options.mask_target, alarm=options.alarm)
    notes = ((f"{unreadable} masks could not be read (or lie outside the dataset folder); those annotators count "
              "as not having annotated the image"),) if unreadable else ()
    return dataclasses.replace(result, notes=notes), strata


def _with_cleanlab(result: AgreementResult, inputs: CheckInputs, config: AuditConfig,
                   ratings: list[tuple[str | None, ...]]) -> AgreementResult:
    """Consensus labels and annotator quality from cleanlab: CROWDLAB with out-of-fold probabilities on
    the embeddings, or the majority vote without them."""
    import pandas as pd

    names = result.annotators
    rated = [row for row, r in enumerate(ratings) if any(x is not None for x in r)]
    if not rated:
        return dataclasses.replace(result, notes=(*result.notes, "no image has a label from any annotator"))
    # cleanlab wants labels 0..K-1 and K probability columns: the classes a majority vote picked first (the
    # probe learns them), then the classes only some annotator gave (a column of probability 0)
    majority = {c.label for c in result.consensus if c.label is not None}
    given = {x for r in ratings for x in r if x is not None}
    classes = sorted(majority) + sorted(given - majority)
    index = {c: k for k, c in enumerate(classes)}
    frame = pd.DataFrame([[np.nan if x is None else index[x] for x in ratings[row]] for row in rated],
                         columns=list(names), dtype=float)
    frame = frame.loc[:, frame.notna().any()]
    probs, why = _consensus_probabilities(inputs, config, rated, {c.sample_id: c.label for c in result.consensus},
                                          index, len(majority))
    if probs is None or frame.shape[1] < 2:
        from cleanlab.multiannotator import get_majority_vote_label

        votes = get_majority_vote_label(frame, verbose=False)
        share = frame.eq(votes, axis=0).sum(axis=1) / frame.notna().sum(axis=1)
        ids = [inputs.columns.ids[row] for row in rated]
        consensus = tuple(Consensus(sid, classes[int(v)], float(s), float(s)) for sid, v, s in zip(ids, votes, share))
        return dataclasses.replace(
            result, consensus=consensus, consensus_method="majority vote (cleanlab get_majority_vote_label)",
            notes=(*result.notes, f"consensus is cleanlab's majority vote, without annotator quality: {why}"))
    from cleanlab.multiannotator import get_label_quality_multiannotator

    found = get_label_quality_multiannotator(frame, probs, verbose=False)
    quality, stats = found["label_quality"], found["annotator_stats"]
    consensus = tuple(Consensus(inputs.columns.ids[row], classes[int(q.consensus_label)],
                                float(q.consensus_quality_score), float(q.annotator_agreement))
                      for row, q in zip(rated, quality.itertuples()))
    per = tuple(dataclasses.replace(a, quality=_stat(stats, a.name, "annotator_quality"),
                                    agreement_with_consensus=_stat(stats, a.name, "agreement_with_consensus"))
                for a in result.per_annotator)
    return dataclasses.replace(result, consensus=consensus, per_annotator=per,
                               consensus_method=f"cleanlab CROWDLAB (get_label_quality_multiannotator) with {why}")


def _stat(stats: Any, name: str, column: str) -> float | None:
    return float(stats.loc[name, column]) if name in stats.index else None


def _consensus_probabilities(inputs: CheckInputs, config: AuditConfig, rated: list[int],
                             majority: dict[str, str | None], index: dict[str, int], n_voted: int
                             ) -> tuple[Any, str]:
    """Out-of-fold class probabilities for the rated rows, from the probe on the embeddings trained on the
    majority labels (``None`` and the reason when there are no embeddings or too few images per class).
    ``index`` numbers the ``n_voted`` classes some majority vote picked first; the classes after them (given
    by some annotator, picked by no vote) get probability 0."""
    from workbench.checks.probe import out_of_fold_probabilities

    if inputs.embeddings is None or inputs.embedded_rows is None:
        return None, "no embeddings to train the out-of-fold classifier"
    graph_row = {int(r): g for g, r in enumerate(inputs.embedded_rows)}
    ids = inputs.columns.ids
    if any(row not in graph_row for row in rated):
        return None, "some annotated images have no embedding"
    y = np.array([index[majority[ids[row]]] for row in rated])  # type: ignore[index]
    counts = np.bincount(y, minlength=n_voted)
    if (counts < 2).any():
        return None, "every class needs 2+ images (by majority vote) to cross-validate the classifier"
    vectors = np.asarray(inputs.embeddings.vectors)[[graph_row[row] for row in rated]]
    probs, folds, accuracy = out_of_fold_probabilities(vectors, y, n_folds=config.cv_folds, seed=config.seed)
    probs = np.pad(probs, ((0, 0), (0, len(index) - probs.shape[1])))
    return probs, f"out-of-fold probabilities of a probe on the embeddings ({folds} folds, accuracy {accuracy:.2f})"


__all__ = ["AgreementOptions", "AgreementResult", "AnnotatorAgreement", "run"]
