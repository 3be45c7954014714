"""The result of the annotator-agreement check: frozen records, its summary, frame and JSON part."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench.checks.agreement_objects import ConsensusObject
from workbench.results.protocol import Finding

#: Images (worst first, under a perfect score) that carry each annotator's boxes, and boxes per annotator on each.
MAX_BOX_IMAGES = 200
MAX_ANNOTATOR_BOXES = 12
#: Verdicts of a mean matched IoU (or, for class labels, kappa) against the target and the alarm.
VERDICTS = ("meets target", "below target", "alarm")


def verdict(value: float | None, target: float, alarm: float) -> str:
    """``meets target`` at or above ``target``, ``alarm`` under ``alarm`` (the guidelines need work),
    else ``below target``; ``""`` when there is nothing to judge.

    Example:
        >>> verdict(0.9, 0.85, 0.75), verdict(0.8, 0.85, 0.75), verdict(0.7, 0.85, 0.75)
        ('meets target', 'below target', 'alarm')
    """
    if value is None:
        return ""
    return VERDICTS[0] if value >= target else VERDICTS[2] if value < alarm else VERDICTS[1]


@dataclass(frozen=True)
class PairAgreement:
    """Two annotators. Class labels: ``observed`` agreement and Cohen's ``kappa`` on the items both
    rated. Objects: ``mean_iou`` of matched pairs, ``observed`` the share of matches with the same
    class, and the objects each drew that the other did not."""

    a: str
    b: str
    n_items: int
    observed: float | None
    kappa: float | None = None
    mean_iou: float | None = None
    n_matched: int = 0
    unmatched_a: int = 0
    unmatched_b: int = 0
    verdict: str = ""


@dataclass(frozen=True)
class AnnotatorAgreement:
    """One annotator against the others: labels or objects given, mean IoU of its matches, the share
    of its objects left unmatched, the share of its labels the others share (objects: matched pairs;
    labels: pairwise), and for class labels cleanlab's annotator quality and agreement with consensus."""

    name: str
    n_labels: int
    mean_iou: float | None = None
    unmatched_share: float | None = None
    label_agreement: float | None = None
    quality: float | None = None
    agreement_with_consensus: float | None = None


@dataclass(frozen=True)
class AnnotatorObject:
    """One box an annotator drew on an image (relative ``(x, y, w, h)``), kept so a renderer can draw it."""

    sample_id: str
    annotator: str
    label: str | None
    box: tuple[float, float, float, float]


@dataclass(frozen=True)
class ImageAgreement:
    """One image: ``score`` in [0, 1] (class labels: the share of annotator pairs that agree; objects:
    per pair the matched IoU summed over matched plus unmatched objects, averaged over pairs), what
    each annotator gave (``given``, aligned with the annotators), and the consensus. ``objects``: boxes,
    on the :data:`MAX_BOX_IMAGES` worst images where annotators differ, every annotator's boxes (at most
    :data:`MAX_ANNOTATOR_BOXES` each), for drawing."""

    sample_id: str
    filepath: str
    score: float
    given: tuple[str, ...]
    mean_iou: float | None = None
    n_unmatched: int = 0
    consensus: str | None = None
    objects: tuple[AnnotatorObject, ...] = ()


@dataclass(frozen=True)
class ClassAgreement:
    """One class over every pair of annotators: matched pairs where either gave it, its unmatched
    objects, their mean IoU, the share of those matches where both gave it, and a verdict."""

    label: str
    n_matched: int
    n_unmatched: int
    mean_iou: float | None
    label_agreement: float | None
    score: float
    verdict: str = ""


@dataclass(frozen=True)
class Consensus:
    """The consensus of one image: a class label with its quality (cleanlab's consensus quality, or
    the share of annotators who gave it) and ``agreement`` (the share of annotators who gave it), or
    objects fused from matched boxes."""

    sample_id: str
    label: str | None = None
    quality: float | None = None
    agreement: float | None = None
    objects: tuple[ConsensusObject, ...] = ()


@dataclass(frozen=True)
class AgreementResult:
    """Agreement between the annotator fields; images worst first, classes worst first."""

    kind: str
    annotators: tuple[str, ...]
    n_images: int
    #: Class labels: Fleiss' kappa (items every annotator rated) and Krippendorff's alpha (nominal).
    fleiss_kappa: float | None = None
    krippendorff_alpha: float | None = None
    #: Objects: mean IoU of matched pairs over every pair of annotators, and class agreement on them.
    mean_iou: float | None = None
    label_agreement: float | None = None
    verdict: str = ""
    target: float = 0.85
    alarm: float = 0.75
    min_iou: float = 0.5
    pairs: tuple[PairAgreement, ...] = ()
    per_annotator: tuple[AnnotatorAgreement, ...] = ()
    images: tuple[ImageAgreement, ...] = ()
    classes: tuple[ClassAgreement, ...] = ()
    consensus: tuple[Consensus, ...] = ()
    consensus_method: str = ""
    review_sample: tuple[str, ...] = ()
    review_share: float = 0.15
    n_reviewed: int = 0
    notes: tuple[str, ...] = ()

    @property
    def below_alarm(self) -> tuple[ImageAgreement, ...]:
        return tuple(i for i in self.images if i.score < self.alarm)

    @property
    def n_findings(self) -> int:
        return len(self.below_alarm)

    def matrix(self, attribute: str) -> list[list[float | None]]:
        """The annotator x annotator matrix of a :class:`PairAgreement` attribute (``observed``, ``kappa``,
        ``mean_iou``), in ``annotators`` order, symmetric; the diagonal is 1 (an annotator agrees with itself).

        Example:
            >>> r = AgreementResult("classification", ("a", "b"), 2, pairs=(PairAgreement("a", "b", 2, 0.5),))
            >>> r.matrix("observed")
            [[1.0, 0.5], [0.5, 1.0]]
        """
        value = {frozenset({p.a, p.b}): getattr(p, attribute) for p in self.pairs}
        return [[1.0 if a == b else value.get(frozenset({a, b})) for b in self.annotators] for a in self.annotators]

    @property
    def reviewed_share(self) -> float | None:
        return self.n_reviewed / len(self.review_sample) if self.review_sample else None

    def summary(self) -> str:
        """The headline verdict, then the review sample.

        Example:
            >>> r = AgreementResult("detection", ("a", "b"), 4, mean_iou=0.8, verdict="below target")
            >>> r.summary().splitlines()[0]
            'annotators a, b on 4 images: mean matched IoU 0.800 (below target 0.85); 0 images below the alarm 0.75'
        """
        who = f"annotators {', '.join(self.annotators)} on {self.n_images} images"
        if self.kind == "classification":
            head = (f"{who}: Krippendorff's alpha {_num(self.krippendorff_alpha)}, Fleiss' kappa "
                    f"{_num(self.fleiss_kappa)}")
        else:
            head = f"{who}: mean matched IoU {_num(self.mean_iou)} ({self.verdict or 'no matches'} {self.target:g})"
        lines = [f"{head}; {self.n_findings} images below the alarm {self.alarm:g}"]
        if self.review_sample:
            lines.append(f"review sample: {len(self.review_sample)} images ({self.review_share:.0%} by class), "
                         f"{self.n_reviewed} reviewed ({self.reviewed_share:.0%})")
        lines.extend(self.notes)
        return "\n".join(lines)

    def finding_rows(self) -> tuple[Finding, ...]:
        """Each image below the alarm, by file."""
        return tuple(Finding("disagreement", (i.filepath,), (), i.consensus, i.score, " / ".join(i.given))
                     for i in self.below_alarm)

    def to_frame(self) -> Any:
        """One row per image where annotators differ: ``sample_id, filepath, label`` (the consensus),
        ``agreement_score``, ``mean_iou``, ``unmatched``, one column per annotator and
        ``is_annotator_disagreement_issue`` (under the alarm)."""
        import pandas as pd

        cols = ["sample_id", "filepath", "label", "agreement_score", "mean_iou", "unmatched",
                *(f"annotator_{a}" for a in self.annotators), "is_annotator_disagreement_issue"]
        return pd.DataFrame([{"sample_id": i.sample_id, "filepath": i.filepath, "label": i.consensus,
                              "agreement_score": i.score, "mean_iou": i.mean_iou, "unmatched": i.n_unmatched,
                              **{f"annotator_{a}": g for a, g in zip(self.annotators, i.given)},
                              "is_annotator_disagreement_issue": i.score < self.alarm}
                             for i in self.images if i.score < 1], columns=cols)

    def to_export(self) -> dict[str, Any]:
        from workbench.results.serialize import to_jsonable

        return {"agreement": {
            "kind": self.kind, "annotators": list(self.annotators), "n_images": self.n_images,
            "fleiss_kappa": self.fleiss_kappa, "krippendorff_alpha": self.krippendorff_alpha,
            "mean_iou": self.mean_iou, "label_agreement": self.label_agreement, "verdict": self.verdict,
            "target": self.target, "alarm": self.alarm, "min_iou": self.min_iou,
            "pairs": to_jsonable(self.pairs), "per_annotator": to_jsonable(self.per_annotator),
            "matrix": {key: self.matrix(key) for key in
                       (("observed", "kappa") if self.kind == "classification" else ("mean_iou", "observed"))},
            "classes": to_jsonable(self.classes),
            "images_below_alarm": [{"path": i.filepath, "score": i.score, "given": list(i.given),
                                    "consensus": i.consensus,
                                    "objects": [{"annotator": o.annotator, "label": o.label, "box": list(o.box)}
                                                for o in i.objects]} for i in self.below_alarm],
            "consensus_method": self.consensus_method,
            "consensus": {c.sample_id: to_jsonable(c) for c in self.consensus},
            "review_sample": {"share": self.review_share, "size": len(self.review_sample),
                              "reviewed": self.n_reviewed, "reviewed_share": self.reviewed_share},
            "notes": list(self.notes)}}


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
