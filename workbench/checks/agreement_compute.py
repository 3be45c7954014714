"""Annotator agreement from plain per-image annotations: class labels (kappas, alpha, majority
consensus) or objects (matched IoU per pair, image, class and annotator; fused consensus boxes), and
the seeded review sample. Pure: numpy/scipy in, :class:`AgreementResult` out."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Sequence

import numpy as np

from workbench.checks.agreement_objects import Match, consensus_objects, match_objects, pair_score
from workbench.checks.agreement_result import (MAX_ANNOTATOR_BOXES, MAX_BOX_IMAGES, AgreementResult,
                                               AnnotatorAgreement, AnnotatorObject, ClassAgreement, Consensus,
                                               ImageAgreement, PairAgreement, verdict)
from workbench.checks.agreement_stats import (fleiss_kappa, krippendorff_alpha, majority_label, pair_matrix,
                                              pairwise_share)
from workbench.checks.box_match import Box, objects_summary

Labels = Sequence[str] | None


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if len(values) else None


def classification_agreement(sample_ids: Sequence[str], filepaths: Sequence[str],
                             ratings: Sequence[Sequence[str | None]], annotators: Sequence[str], *,
                             target: float = 0.8, alarm: float = 0.667, image_alarm: float = 0.75) -> AgreementResult:
    """Class labels of ``annotators`` (``ratings[row][k]``, ``None``: not rated): Cohen's kappa per pair,
    Fleiss' kappa, Krippendorff's alpha (its verdict against ``target``/``alarm``), per-class and
    per-annotator agreement, and a majority-vote consensus per image.

    Example:
        >>> r = classification_agreement(["s", "t"], ["/s", "/t"], [("cat", "cat"), ("cat", "dog")], ["a", "b"])
        >>> [(i.sample_id, i.score) for i in r.images], r.n_findings
        ([('t', 0.0), ('s', 1.0)], 1)
    """
    names = tuple(annotators)
    images, consensus = [], []
    for sid, fp, row in zip(sample_ids, filepaths, ratings):
        share = pairwise_share(row)
        label, votes = majority_label(row)
        if share is not None:
            images.append(ImageAgreement(sid, fp, share, tuple("—" if x is None else str(x) for x in row),
                                         consensus=None if label is None else str(label)))
        if label is not None:
            consensus.append(Consensus(sid, str(label), votes, votes))
    images.sort(key=lambda i: (i.score, i.filepath))
    alpha = krippendorff_alpha(ratings)
    pairs = tuple(PairAgreement(p.a, p.b, p.n_items, p.observed, p.kappa, verdict=verdict(p.kappa, target, alarm))
                  for p in pair_matrix(ratings, names))
    same: Counter = Counter()
    seen: Counter = Counter()
    for row in ratings:  # per class: pairs of ratings where either gave it, and where both did
        given = [x for x in row if x is not None]
        for k, x in enumerate(given):
            for y in given[k + 1:]:
                for c in {x, y}:
                    seen[c] += 1
                    same[c] += x == y
    classes = tuple(sorted((ClassAgreement(str(c), seen[c], 0, None, same[c] / seen[c], same[c] / seen[c],
                                           verdict(same[c] / seen[c], target, alarm)) for c in seen),
                           key=lambda c: (c.score, c.label)))
    by_id = {c.sample_id: c.label for c in consensus}
    per_annotator = []
    for k, name in enumerate(names):
        mine = [(row[k], row, sid) for row, sid in zip(ratings, sample_ids) if row[k] is not None]
        others = [sum(x == lab for j, x in enumerate(row) if j != k and x is not None) /
                  max(1, sum(x is not None for j, x in enumerate(row) if j != k)) for lab, row, _ in mine
                  if any(x is not None for j, x in enumerate(row) if j != k)]
        with_consensus = [lab == by_id.get(sid) for lab, _, sid in mine]
        per_annotator.append(AnnotatorAgreement(name, len(mine), label_agreement=_mean(others),
                                                agreement_with_consensus=_mean(with_consensus)))
    return AgreementResult(
        "classification", names, len(images), fleiss_kappa=fleiss_kappa(ratings), krippendorff_alpha=alpha,
        verdict=verdict(alpha, target, alarm), target=target, alarm=image_alarm, pairs=pairs,
        per_annotator=tuple(per_annotator), images=tuple(images), classes=classes, consensus=tuple(consensus),
        consensus_method="majority vote (ties: the label that sorts first)")


#: Same-class share on matched objects that meets the target / raises the alarm (Krippendorff's levels, as
#: the classification options ``label_target`` and ``label_alarm``).
LABEL_LEVELS = (0.8, 0.667)


def _worse(a: str, b: str) -> str:
    """The worse of two verdicts (``""``: nothing judged, the other wins).

    Example:
        >>> _worse("meets target", "alarm"), _worse("", "below target")
        ('alarm', 'below target')
    """
    from workbench.checks.agreement_result import VERDICTS

    ranked = [v for v in (a, b) if v in VERDICTS]
    return max(ranked, key=VERDICTS.index) if ranked else ""


def object_agreement(sample_ids: Sequence[str], filepaths: Sequence[str], labels: Sequence[Sequence[Labels]],
                     ious: Sequence[dict[tuple[int, int], np.ndarray]], annotators: Sequence[str], *,
                     kind: str = "detection", boxes: Sequence[Sequence[Sequence[Box | None] | None]] | None = None,
                     min_iou: float = 0.5, target: float = 0.85, alarm: float = 0.75) -> AgreementResult:
    """Objects of ``annotators`` on each image (``labels[row][k]``: annotator ``k``'s classes, ``None``:
    it did not annotate the image; ``ious[row][(k, l)]``: the IoU matrix of ``k``'s objects with
    ``l``'s, ``k < l``), matched pair by pair (:func:`match_objects`). With ``boxes``, matched boxes
    are fused into consensus objects (:func:`consensus_objects`).

    Example:
        >>> from workbench.checks.agreement_objects import box_iou_matrix
        >>> b = [[(0, 0, .4, .4)], [(0, 0, .4, .5)]]
        >>> r = object_agreement(["s"], ["/s"], [[["car"], ["car"]]], [{(0, 1): box_iou_matrix(*b)}], ["a", "b"])
        >>> round(r.mean_iou, 3), r.verdict, r.pairs[0].n_matched
        (0.8, 'below target', 1)
    """
    names, n = tuple(annotators), len(annotators)
    pair_keys = [(k, l) for k in range(n) for l in range(k + 1, n)]
    pair_ious: dict[tuple[int, int], list[float]] = defaultdict(list)
    pair_same: dict[tuple[int, int], list[bool]] = defaultdict(list)
    pair_unmatched: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    pair_images: Counter = Counter()
    ann_ious: dict[int, list[float]] = defaultdict(list)
    ann_same: dict[int, list[bool]] = defaultdict(list)
    ann_seen, ann_unmatched, ann_objects = Counter(), Counter(), Counter()
    cls_ious: dict[str, list[float]] = defaultdict(list)
    cls_same: dict[str, list[bool]] = defaultdict(list)
    cls_unmatched: Counter = Counter()
    images, consensus = [], []
    for row, (sid, fp) in enumerate(zip(sample_ids, filepaths)):
        labs = labels[row]
        for k in range(n):
            ann_objects[k] += len(labs[k] or ())
        scores, row_ious, row_unmatched, found = [], [], 0, {}
        for k, l in pair_keys:
            if labs[k] is None or labs[l] is None:
                continue
            la, lb = list(labs[k]), list(labs[l])
            matches = match_objects(ious[row].get((k, l), np.zeros((len(la), len(lb)))), min_iou=min_iou)
            found[(k, l)] = matches
            pair_images[(k, l)] += 1
            scores.append(pair_score(matches, len(la), len(lb)))
            ma, mb = {m.i for m in matches}, {m.j for m in matches}
            for m in matches:
                agree = la[m.i] == lb[m.j]
                row_ious.append(m.iou)
                pair_ious[(k, l)].append(m.iou)
                pair_same[(k, l)].append(agree)
                for who in (k, l):
                    ann_ious[who].append(m.iou)
                    ann_same[who].append(agree)
                for c in {la[m.i], lb[m.j]}:
                    cls_ious[c].append(m.iou)
                    cls_same[c].append(agree)
            for side, (who, objs, used) in enumerate(((k, la, ma), (l, lb, mb))):
                left = [c for x, c in enumerate(objs) if x not in used]
                pair_unmatched[(k, l)][side] += len(left)
                ann_unmatched[who] += len(left)
                ann_seen[who] += len(objs)
                row_unmatched += len(left)
                cls_unmatched.update(left)
        if not scores:
            continue
        fused = (consensus_objects([list(x or ()) for x in labs], [list(b or ()) for b in boxes[row]], found)
                 if boxes is not None else ())
        summary = objects_summary([o.label for o in fused]) if boxes is not None else None
        images.append(ImageAgreement(sid, fp, float(np.mean(scores)),
                                     tuple("—" if x is None else objects_summary(x) for x in labs),
                                     _mean(row_ious), row_unmatched, summary))
        if boxes is not None:
            consensus.append(Consensus(sid, agreement=float(np.mean(scores)), objects=fused))
    images.sort(key=lambda i: (i.score, i.filepath))
    if boxes is not None:
        images = _with_boxes(images, sample_ids, labels, boxes, names)
    all_ious = [v for vs in pair_ious.values() for v in vs]
    all_same = [v for vs in pair_same.values() for v in vs]
    pairs = tuple(PairAgreement(names[k], names[l], pair_images[(k, l)], _mean(pair_same[(k, l)]),
                                mean_iou=_mean(pair_ious[(k, l)]), n_matched=len(pair_ious[(k, l)]),
                                unmatched_a=pair_unmatched[(k, l)][0], unmatched_b=pair_unmatched[(k, l)][1],
                                verdict=verdict(_mean(pair_ious[(k, l)]), target, alarm)) for k, l in pair_keys)
    per_annotator = tuple(AnnotatorAgreement(names[k], ann_objects[k], _mean(ann_ious[k]),
                                             ann_unmatched[k] / ann_seen[k] if ann_seen[k] else None,
                                             _mean(ann_same[k])) for k in range(n))
    classes = []
    for c in set(cls_ious) | set(cls_unmatched):
        m = cls_ious.get(c, [])
        score = sum(m) / (len(m) + cls_unmatched[c]) if m or cls_unmatched[c] else 1.0
        same = _mean(cls_same.get(c, []))
        # A class is judged on where its boxes are and on what they are called: the worse of the two verdicts
        # (same class on matched boxes against Krippendorff's 0.8 / 0.667 levels), so well-placed boxes that
        # the annotators name differently don't "meet the target".
        classes.append(ClassAgreement(str(c), len(m), cls_unmatched[c], _mean(m), same, score,
                                      _worse(verdict(_mean(m), target, alarm), verdict(same, *LABEL_LEVELS))))
    classes.sort(key=lambda c: (c.score, c.label))
    mean_iou = _mean(all_ious)
    return AgreementResult(
        kind, names, len(images), mean_iou=mean_iou, label_agreement=_mean(all_same),
        verdict=verdict(mean_iou, target, alarm), target=target, alarm=alarm, min_iou=min_iou, pairs=pairs,
        per_annotator=per_annotator, images=tuple(images), classes=tuple(classes), consensus=tuple(consensus),
        consensus_method=("matched boxes fused: coordinates averaged, weighted by each box's mean IoU with the "
                          "others; kept where more than half the annotators drew the object") if boxes is not None
        else "")


def _with_boxes(images: list[ImageAgreement], sample_ids: Sequence[str], labels: Sequence[Sequence[Labels]],
                boxes: Sequence[Sequence[Sequence[Box | None] | None]], names: tuple[str, ...]) -> list[ImageAgreement]:
    """``images`` (worst first) with every annotator's boxes on the first :data:`MAX_BOX_IMAGES` whose score is
    under 1, at most :data:`MAX_ANNOTATOR_BOXES` per annotator, for the report and the panels to draw."""
    import dataclasses

    row_of = {sid: row for row, sid in enumerate(sample_ids)}
    out = list(images)
    for n, image in enumerate(out[:MAX_BOX_IMAGES]):
        if image.score >= 1:
            break
        row = row_of[image.sample_id]
        objects = tuple(AnnotatorObject(image.sample_id, name, lab, tuple(round(float(v), 5) for v in box))  # type: ignore[arg-type]
                        for k, name in enumerate(names)
                        for lab, box in list(zip(labels[row][k] or (), boxes[row][k] or ()))[:MAX_ANNOTATOR_BOXES]
                        if box is not None)
        out[n] = dataclasses.replace(image, objects=objects)
    return out


def review_sample(sample_ids: Sequence[str], strata: Sequence[str | None], *, share: float = 0.15,
                  seed: int = 0) -> tuple[str, ...]:
    """A seeded random sample of ``share`` of the images, drawn class by class (``strata``: each image's
    class; at least one image of every class), so rare classes are reviewed too.

    Example:
        >>> len(review_sample([str(i) for i in range(20)], ["a"] * 10 + ["b"] * 10, share=0.2))
        4
    """
    rng = np.random.default_rng(seed)
    by_class: dict[str, list[str]] = defaultdict(list)
    for sid, c in zip(sample_ids, strata):
        by_class["" if c is None else str(c)].append(sid)
    out: list[str] = []
    for c in sorted(by_class):
        members = sorted(by_class[c])
        k = max(1, round(share * len(members)))
        out.extend(members[i] for i in sorted(rng.choice(len(members), size=min(k, len(members)), replace=False)))
    return tuple(out)


__all__ = ["Match", "classification_agreement", "object_agreement", "review_sample"]
