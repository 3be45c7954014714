"""Split drift and weak regions: where one split's images look unlike the others' (a domain classifier in
embedding space), and the groups of similar images the probe gets wrong most often."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.results.protocol import Finding, printable


@dataclass(frozen=True)
class ClassDrift:
    """One class's images of the split against the same class's images of the other splits.

    ``auc``: the probability that the domain classifier scores an image of the split above one of the
    rest (0.5: it can't tell them apart; 1: every image of the split looks more like the split).
    ``baseline_mean`` / ``baseline_p95``: the same AUC over random reassignments of the split within the
    class; ``p_value``: the share of those that reached ``auc``. ``None`` when ``too_small``.
    """

    label: str
    n_split: int
    n_rest: int
    auc: float | None = None
    baseline_mean: float | None = None
    baseline_p95: float | None = None
    p_value: float | None = None
    flagged: bool = False
    #: The class holds fewer than ``min_class_size`` images in the split or in the rest: not tested.
    too_small: bool = False
    #: Three splits or more: reached the flag only because another split's images of the class, in "the
    #: rest", drift (named here, with the higher AUC); not flagged.
    echo_of: str = ""


@dataclass(frozen=True)
class SplitDrift:
    """One split against the rest: the domain classifier's AUC over every image and per class.

    ``baseline_mean`` of the overall AUC keeps each class's split membership shuffled within the class,
    so it is the part of ``auc`` that the splits' different class mixes explain.
    """

    split: str
    against: str
    n_split: int
    n_rest: int
    auc: float
    baseline_mean: float
    baseline_p95: float
    p_value: float
    folds: int
    classes: tuple[ClassDrift, ...] = ()

    @property
    def flagged_classes(self) -> tuple[ClassDrift, ...]:
        return tuple(c for c in self.classes if c.flagged)

    @property
    def too_small(self) -> tuple[ClassDrift, ...]:
        return tuple(c for c in self.classes if c.too_small)


@dataclass(frozen=True)
class DriftExample:
    """An image of a flagged (split, class): among the most split-typical (highest out-of-fold P(split))."""

    sample_id: str
    filepath: str
    split: str
    label: str
    p_split: float
    class_auc: float
    rank: int


@dataclass(frozen=True)
class WeakRegion:
    """A cluster of similar images whose out-of-fold probe accuracy is well under the dataset's.

    ``name`` (``wb-weak-N``, N = 1 for the weakest) and ``description`` name it by its content;
    ``labels`` its classes by count; ``confused_with`` what the probe predicted for its misclassified
    images, by count; ``p_value`` a one-sided binomial test of its accuracy against ``overall``.
    """

    number: int
    name: str
    description: str
    n: int
    accuracy: float
    overall: float
    p_value: float
    labels: tuple[tuple[str, int], ...]
    confused_with: tuple[tuple[str, int], ...]
    sample_ids: tuple[str, ...]
    filepaths: tuple[str, ...]


@dataclass(frozen=True)
class DriftResult:
    """Split drift per split and class, the weak regions, and what could not be assessed and why."""

    splits: tuple[SplitDrift, ...] = ()
    regions: tuple[WeakRegion, ...] = ()
    examples: tuple[DriftExample, ...] = ()
    #: ``(part, reason)`` for a part not computed (``split drift``, ``weak regions``).
    skipped: tuple[tuple[str, str], ...] = ()
    #: The clusters the weak regions were chosen from and the probe's out-of-fold accuracy over all of them.
    n_clusters: int = 0
    overall_accuracy: float | None = None
    settings: dict[str, float] = field(default_factory=dict)
    n_samples: int = 0

    @property
    def flagged(self) -> tuple[tuple[str, ClassDrift], ...]:
        """Every flagged ``(split, class)``."""
        return tuple((s.split, c) for s in self.splits for c in s.flagged_classes)

    @property
    def n_findings(self) -> int:
        """Flagged (split, class) pairs plus weak regions."""
        return len(self.flagged) + len(self.regions)

    def region_of(self) -> dict[str, int]:
        """``{sample id: region number}`` of every weak region's members."""
        return {sid: r.number for r in self.regions for sid in r.sample_ids}

    def summary(self) -> str:
        """A headline, then a line per flagged (split, class) and per weak region (at most four each).

        Example:
            >>> DriftResult(n_samples=10).summary()
            'no split drift and no weak region (10 images)'
        """
        if not self.n_findings:
            said = [f"{part} not assessed: {why}" for part, why in self.skipped]
            return "\n".join([f"no split drift and no weak region ({self.n_samples:,} images)", *said])
        lines = [(f"{_plural(len(self.flagged), '(split, class) drifts', '(split, class) pairs drift')}, "
                  f"{_plural(len(self.regions), 'weak region', 'weak regions')}")]
        for split, c in self.flagged[:4]:
            lines.append(f"'{printable(c.label)}' in {printable(split)}: domain AUC {c.auc:.2f} (chance "
                         f"{c.baseline_mean:.2f}, p {c.p_value:.3g}) over {c.n_split:,} vs {c.n_rest:,} images")
        if len(self.flagged) > 4:
            lines.append(f"... and {len(self.flagged) - 4} more drifting (split, class) pairs")
        for r in self.regions[:4]:
            lines.append(f"{r.name}: {printable(r.description)}")
        if len(self.regions) > 4:
            lines.append(f"... and {len(self.regions) - 4} more weak regions")
        lines += [f"{part} not assessed: {why}" for part, why in self.skipped]
        return "\n".join(lines)

    def finding_rows(self) -> tuple[Finding, ...]:
        """Each drifting (split, class) by split and class; each weak region by its main classes (its number
        and members move as the data changes; the confusion it names is what a fix removes)."""
        drifts = [Finding("split_drift", (), (split, c.label), c.label, c.auc, f"domain AUC {c.auc:.3f}, p {c.p_value:.3g}")
                  for split, c in self.flagged]
        return tuple(drifts + [Finding("weak_region", (), tuple(sorted(lab for lab, n in r.labels if n >= 0.15 * r.n))
                                       or (r.labels[0][0],), None, r.accuracy, r.description) for r in self.regions])

    def to_frame(self) -> Any:
        """One row per evidence image: drift examples, then weak-region members, with
        ``is_drift_issue`` and ``drift_score`` (low = bad: 1 - P(split) for a drift example, the region's
        accuracy for a member)."""
        import pandas as pd

        columns = ["sample_id", "filepath", "finding", "split", "label", "p_split", "class_auc", "region",
                   "is_drift_issue", "drift_score"]
        rows = [{"sample_id": e.sample_id, "filepath": e.filepath, "finding": "split drift", "split": e.split,
                 "label": e.label, "p_split": e.p_split, "class_auc": e.class_auc, "region": None,
                 "is_drift_issue": True, "drift_score": round(1 - e.p_split, 6)} for e in self.examples]
        rows += [{"sample_id": sid, "filepath": path, "finding": "weak region", "split": None, "label": None,
                  "p_split": None, "class_auc": None, "region": r.name, "is_drift_issue": True,
                  "drift_score": r.accuracy} for r in self.regions for sid, path in zip(r.sample_ids, r.filepaths)]
        return pd.DataFrame(rows, columns=columns)

    def to_export(self) -> dict[str, Any]:
        return {"drift": {
            "splits": [{"split": s.split, "against": s.against, "n_split": s.n_split, "n_rest": s.n_rest,
                        "auc": s.auc, "baseline_mean": s.baseline_mean, "baseline_p95": s.baseline_p95,
                        "p_value": s.p_value, "folds": s.folds,
                        "classes": [{"label": c.label, "n_split": c.n_split, "n_rest": c.n_rest, "auc": c.auc,
                                     "baseline_mean": c.baseline_mean, "baseline_p95": c.baseline_p95,
                                     "p_value": c.p_value, "flagged": c.flagged, "too_small": c.too_small,
                                     "echo_of": c.echo_of or None}
                                    for c in s.classes]} for s in self.splits],
            "weak_regions": [{"number": r.number, "name": r.name, "description": r.description, "n": r.n,
                              "accuracy": r.accuracy, "overall": r.overall, "p_value": r.p_value,
                              "labels": dict(r.labels), "confused_with": dict(r.confused_with),
                              "sample_ids": list(r.sample_ids)} for r in self.regions],
            "n_clusters": self.n_clusters, "overall_accuracy": self.overall_accuracy,
            "skipped": dict(self.skipped), "settings": dict(self.settings)}}


def _plural(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"
