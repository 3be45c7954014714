"""Split drift and weak regions (the ``drift`` check).

* **Split drift** (:mod:`workbench.checks.domain_classifier`): a domain classifier in embedding space
  tells each split from the others; its AUC overall and per class, against a permutation baseline that
  keeps each class's count per split. A flagged (split, class) keeps its most split-typical images as
  evidence (tag ``wb:drift``, field ``wb_drift_rank``, view ``wb-drift``).
* **Weak regions** (:mod:`workbench.checks.weak_regions`): embedding clusters where the label probe's
  out-of-fold accuracy is significantly lowest, each a named slice (``wb-weak-1`` = the weakest; field
  ``wb_weak_region`` = its number, tag ``wb:weak_region``, view ``wb-weak-regions`` sorted by region).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.checks.registry import (
    EMBEDDINGS,
    CheckInputs,
    GateSpec,
    PanelSpec,
    SampleField,
    SampleTag,
    SavedView,
    SliceViews,
    Writes,
    register_check,
)
from workbench.results.drift import DriftResult

if TYPE_CHECKING:
    from workbench.config import AuditConfig

DRIFT_TAG = "wb:drift"
REGION_TAG = "wb:weak_region"


@dataclass(frozen=True)
class DriftOptions:
    """``drift`` options (``--check-option drift.KEY=VALUE``)."""

    #: Flag a (split, class) whose domain AUC is at least this: an image of the split outranks one of the
    #: rest about 2 times in 3. Weaker drift is often significant on large sets yet rarely matters for a
    #: model. On 2,000 Fashion-MNIST images (benchmarks/RESULTS.md) the highest class AUC of five random
    #: splits was 0.61, one class's test images darkened 0.75-0.77, blurred 0.998.
    auc: float = 0.65
    #: Permutation-test level for a (split, class); must be reachable: at least 1 / (permutations + 1).
    alpha: float = 0.01
    #: A class needs this many images in the split and in the rest to be tested (else: "too small").
    min_class_size: int = 20
    #: Reassignments of split membership within each class in the baseline.
    permutations: int = 99
    #: Evidence images kept per flagged (split, class), most split-typical first.
    max_examples: int = 12
    #: k-means clusters searched for weak regions (0: about sqrt(n / 10), 4 to 50).
    clusters: int = 0
    #: A weak region holds at least this many images...
    region_min_size: int = 20
    #: ...its accuracy is at least this far under the dataset's...
    region_gap: float = 0.1
    #: ...and a binomial test gives p ≤ alpha / clusters. At most this many regions are reported.
    max_regions: int = 10

    def __post_init__(self) -> None:
        if not 0.5 < self.auc <= 1:
            raise ValueError(f"auc must be in (0.5, 1], not {self.auc!r}")
        if not 19 <= self.permutations <= 10_000:
            raise ValueError(f"permutations must be 19 to 10,000, not {self.permutations!r}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), not {self.alpha!r}")
        if self.alpha < 1 / (self.permutations + 1):
            raise ValueError(f"alpha {self.alpha!r} can't be reached with {self.permutations} permutations "
                             f"(the smallest p-value is 1/{self.permutations + 1}); raise permutations")
        if self.min_class_size < 2:
            raise ValueError(f"min_class_size must be at least 2, not {self.min_class_size!r}")
        if self.max_examples < 0:
            raise ValueError(f"max_examples must be 0 or more, not {self.max_examples!r}")
        if self.clusters != 0 and not 2 <= self.clusters <= 1000:
            raise ValueError(f"clusters must be 0 (automatic) or 2 to 1,000, not {self.clusters!r}")
        if self.region_min_size < 2:
            raise ValueError(f"region_min_size must be at least 2, not {self.region_min_size!r}")
        if not 0 < self.region_gap < 1:
            raise ValueError(f"region_gap must be in (0, 1), not {self.region_gap!r}")
        if self.max_regions < 1:
            raise ValueError(f"max_regions must be at least 1, not {self.max_regions!r} (--skip-check drift "
                             "turns the check off)")


def find_drift(ids: list[str], filepaths: list[str], splits: list[str | None], labels: list[str | None],
               vectors: Any, *, options: DriftOptions = DriftOptions(), oof: Any = None, n_folds: int = 5,
               seed: int = 0, labels_skip: str = "", fold_keys: list[str] | None = None) -> DriftResult:
    """Split drift and weak regions over embedded rows (every list aligned with ``vectors``).

    ``labels_skip``: why there are no image-level labels to seek weak regions with ("" when there are);
    ``fold_keys``: per row, the key that fixes its cross-validation fold (the audit: the file's content hash).

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).normal(size=(60, 4)).astype(np.float32)
        >>> r = find_drift([str(i) for i in range(60)], ["f"] * 60, ["a"] * 60, ["x", "y"] * 30, x)
        >>> r.skipped[0]
        ('split drift', 'needs two splits or more; the images hold 1')
    """
    from workbench.checks.domain_classifier import drift_examples, split_drift
    from workbench.checks.weak_regions import find_weak_regions

    o = options
    fits, skipped = split_drift(vectors, splits, labels, auc=o.auc, alpha=o.alpha, min_class_size=o.min_class_size,
                                permutations=o.permutations, max_examples=o.max_examples, n_folds=n_folds,
                                seed=seed, oof=oof, fold_keys=fold_keys)
    if labels_skip:
        regions, k, accuracy, why = [], 0, None, labels_skip
    else:
        regions, k, accuracy, why = find_weak_regions(vectors, labels, ids, filepaths, clusters=o.clusters,
                                                      min_size=o.region_min_size, gap=o.region_gap, alpha=o.alpha,
                                                      max_regions=o.max_regions, n_folds=n_folds, seed=seed, oof=oof,
                                                      fold_keys=fold_keys)
    if why:
        skipped.append(("weak regions", why))
    settings = {"auc": o.auc, "alpha": o.alpha, "min_class_size": o.min_class_size, "permutations": o.permutations,
                "max_examples": o.max_examples, "clusters": k, "region_min_size": o.region_min_size,
                "region_gap": o.region_gap, "max_regions": o.max_regions}
    return DriftResult(tuple(f.drift for f in fits), tuple(regions), tuple(drift_examples(fits, ids, filepaths)),
                       tuple(skipped), k, accuracy, settings, len(ids))


@register_check(
    name="drift", title="drift", result=DriftResult, report_title="Split drift and weak regions",
    needs=(EMBEDDINGS,), count_key="drift",
    writes=Writes(fields=(SampleField("weak_region", "wb_weak_region", lambda r: r.region_of()),
                          SampleField("drift_rank", "wb_drift_rank", lambda r: {e.sample_id: e.rank
                                                                                for e in r.examples})),
                  tags=(SampleTag("weak_region", REGION_TAG, lambda r: set(r.region_of())),
                        SampleTag("drift", DRIFT_TAG, lambda r: {e.sample_id for e in r.examples})),
                  views=(SavedView("weak_regions", "wb-weak-regions", REGION_TAG, "wb_weak_region"),
                         SavedView("drift", "wb-drift", DRIFT_TAG, "wb_drift_rank")),
                  slices=(SliceViews("weak_region_slices", "wb-weak-",
                                     lambda r: {w.name: set(w.sample_ids) for w in r.regions}),)),
    gate=GateSpec("drift", "drifting (split, class) pairs and weak regions", lambda r: r.n_findings,
                  total=lambda r, audit: max(sum(len(s.classes) for s in r.splits) + r.n_clusters, 1),
                  depends_on=("embeddings",)),
    section="sections/drift.html.j2", panel=PanelSpec("Drift and weak regions"),
    figures="workbench.render.drift_figures:drift_figures", options=DriftOptions, absent_export={"drift": None})
def run(inputs: CheckInputs, config: AuditConfig, options: DriftOptions) -> DriftResult:
    """The embedded rows; weak regions only with image-level class labels."""
    from workbench.checks.probe import out_of_fold_probabilities
    from workbench.errors import CheckNotApplicable

    part = inputs.columns.take(inputs.embedded_rows)
    classified = inputs.task == "classification" and any(lab is not None for lab in part.labels)
    labels = list(part.labels) if classified else [None] * len(part)
    why = "" if classified else ("needs image-level class labels (a Classification field)"
                                 if inputs.task == "classification" else
                                 f"a {inputs.task} image holds several classes; regions are sought with image labels")
    fit: Any = inputs.oof_probabilities or out_of_fold_probabilities  # the audit's probe cache
    result = find_drift(list(part.ids), list(part.filepaths), list(part.splits), labels, inputs.embeddings.vectors,
                        options=options, oof=lambda x, y, n_folds, seed, fold_keys: fit(
                            x, y, n_folds=config.cv_folds, seed=seed, fold_keys=fold_keys),
                        n_folds=config.cv_folds, seed=config.seed, labels_skip=why,
                        fold_keys=[h or sid for h, sid in zip(part.hashes, part.ids)])  # the label check's folds
    tested = any(not c.too_small for s in result.splits for c in s.classes)
    if not tested and not result.n_clusters:  # nothing looked at: a skip, so a gate on it can't pass
        reasons = [f"{part}: {reason}" for part, reason in result.skipped]
        if result.splits:
            reasons.insert(0, f"split drift: every (split, class) has fewer than {options.min_class_size} images on "
                              "a side (drift.min_class_size)")
        raise CheckNotApplicable("; ".join(reasons))
    return result
