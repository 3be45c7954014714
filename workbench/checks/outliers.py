"""Outliers: images far from their nearest neighbours on the shared k-NN graph, ranked per class.

Each image's *distance* is the mean cosine distance to its ``k`` nearest neighbours on the graph
(:class:`workbench.graph.NeighborGraph`), leaving out neighbours closer than ``duplicate_distance``
(its own copies: an odd image copied twice would otherwise look typical). That distance is then
judged as a robust z-score of its logarithm (median and MAD; kNN distances are right-skewed), twice:
against the whole dataset and against the image's class, and the two are averaged. The class term
keeps a loose class from filling the list; the dataset term keeps a class that is odd as a whole
(or a cluster of junk filed under one label) from hiding its members. Unlabelled images, and classes
with fewer than ``min_class_size`` images, are judged against the whole dataset alone. An image is
flagged when its z-score exceeds ``cut``. Chosen on the planted benchmark
(``benchmarks/bench_quality_outliers.py``, one seed; the class term alone found 13 of 25
out-of-distribution images, the dataset term alone 17 at cut 2, their mean 21).

``score`` follows cleanlab's contract, in [0, 1] with low = bad: ``1 / (1 + exp(z - cut))``, 0.5 at
the cut.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from workbench.checks.registry import (
    GRAPH,
    CheckInputs,
    GateSpec,
    SampleField,
    SampleTag,
    SavedView,
    Writes,
    register_check,
)
from workbench.results.protocol import Finding, printable

if TYPE_CHECKING:
    from workbench.config import AuditConfig

log = logging.getLogger(__name__)

#: Robust z-score of the log neighbour distance above which an image is an outlier (the mean of the
#: dataset's and the class's z-scores): the demo with EfficientNet-Lite0 embeddings flags 0.5% of its images.
DEFAULT_CUT = 2.0
#: Neighbours averaged per image.
DEFAULT_K = 10
#: Neighbours nearer than this (cosine distance) are copies of the image, not neighbours.
DUPLICATE_DISTANCE = 1e-3
#: Classes with fewer assessed images are compared with the whole dataset.
MIN_CLASS_SIZE = 10


@dataclass(frozen=True)
class Outlier:
    """One flagged image: how far it sits from its neighbours and against what that was judged."""

    sample_id: str
    filepath: str
    label: str | None
    #: In [0, 1], low = bad; under 0.5 = flagged.
    score: float
    #: Mean cosine distance to its ``n_neighbors`` nearest (copies left out).
    distance: float
    #: Robust z-score of ``log(distance)`` against ``reference``.
    z: float
    #: Position among the images of its label (1 = farthest out); unlabelled images are ranked together.
    rank: int
    #: ``class+all`` (the mean of its z-scores within its label's images and within the whole dataset)
    #: or ``all`` (the whole dataset only).
    reference: str
    n_neighbors: int


@dataclass(frozen=True)
class OutliersResult:
    """Outliers, worst first; ``sample_ids`` / ``scores`` cover every assessed image."""

    outliers: tuple[Outlier, ...] = ()
    cut: float = DEFAULT_CUT
    k: int = DEFAULT_K
    duplicate_distance: float = DUPLICATE_DISTANCE
    min_class_size: int = MIN_CLASS_SIZE
    #: ``class`` (each image judged against its class, when large enough) or ``all``.
    reference: str = "class"
    sample_ids: tuple[str, ...] = ()
    scores: tuple[float, ...] = ()
    #: Images with no neighbour on the graph (not assessed).
    n_unassessed: int = 0

    @property
    def n_findings(self) -> int:
        return len(self.outliers)

    @property
    def n_assessed(self) -> int:
        return len(self.sample_ids)

    def per_class(self) -> dict[str | None, tuple[Outlier, ...]]:
        """``{label: outliers ranked 1, 2, ...}``; unlabelled ones under ``None``."""
        groups: dict[str | None, list[Outlier]] = defaultdict(list)
        for o in self.outliers:
            groups[o.label].append(o)
        return {lab: tuple(sorted(g, key=lambda o: o.rank)) for lab, g in groups.items()}

    def summary(self) -> str:
        """One line for the terminal.

        Example:
            >>> OutliersResult(sample_ids=("a", "b"), scores=(0.9, 0.8)).summary()
            'none among 2 images (cut z > 2)'
        """
        if not self.outliers:
            return f"none among {self.n_assessed:,} images (cut z > {self.cut:g})"
        head = f"{len(self.outliers):,} of {self.n_assessed:,} images (cut z > {self.cut:g})"
        per = sorted(((len(v), printable(k)) for k, v in self.per_class().items() if k is not None), reverse=True)
        if not per:  # no image-level class (detection, segmentation): nothing to break down by
            return head
        where = ", ".join(f"{n} {lab}" for n, lab in per[:4]) + (", ..." if len(per) > 4 else "")
        return f"{head}: {where}"

    def finding_rows(self) -> tuple[Finding, ...]:
        """Each outlying image, by file."""
        return tuple(Finding("outlier", (o.filepath,), (), o.label, o.score, f"z {o.z:.1f}") for o in self.outliers)

    def to_frame(self) -> Any:
        """One row per outlier, worst first: ``is_outlier_issue``, ``outlier_score`` (low = bad), rank."""
        import pandas as pd

        cols = ["sample_id", "filepath", "label", "is_outlier_issue", "outlier_score", "rank", "distance", "z",
                "reference"]
        return pd.DataFrame([{"sample_id": o.sample_id, "filepath": o.filepath, "label": o.label,
                              "is_outlier_issue": True, "outlier_score": o.score, "rank": o.rank,
                              "distance": o.distance, "z": o.z, "reference": o.reference} for o in self.outliers],
                            columns=cols)

    def to_export(self) -> dict[str, Any]:
        """The JSON export's part: ``{"outliers": {...}}`` with outliers by file path, worst first."""
        return {"outliers": {
            "cut": self.cut, "k": self.k, "duplicate_distance": self.duplicate_distance,
            "min_class_size": self.min_class_size, "reference": self.reference, "n_assessed": self.n_assessed,
            "n_unassessed": self.n_unassessed,
            "issues": [{"path": o.filepath, "label": o.label, "score": o.score, "distance": o.distance, "z": o.z,
                        "rank": o.rank, "reference": o.reference} for o in self.outliers]}}


def neighbor_distance(indices: np.ndarray, distances: np.ndarray, *, k: int = DEFAULT_K,
                      duplicate_distance: float = DUPLICATE_DISTANCE) -> tuple[np.ndarray, np.ndarray]:
    """``(mean distance, neighbours used)`` per row over its ``k`` nearest non-copy neighbours.

    Rows whose only neighbours are copies get 0 (they sit on top of another image); rows with no
    neighbour at all get NaN. ``-1`` / ``inf`` padding is ignored.

    Example:
        >>> idx = np.array([[1, 2], [0, 2], [0, -1]])
        >>> dist = np.array([[0.0, 0.4], [0.0, 0.2], [0.3, np.inf]])
        >>> [round(float(d), 2) for d in neighbor_distance(idx, dist, k=2)[0]]
        [0.4, 0.2, 0.3]
    """
    idx = np.asarray(indices)[:, :max(0, k) + _copy_slots(distances, duplicate_distance)]
    dist = np.asarray(distances, dtype=np.float64)[:, :idx.shape[1]]
    real = (idx >= 0) & np.isfinite(dist)
    usable = real & (dist >= duplicate_distance)
    usable &= np.cumsum(usable, axis=1) <= k  # the k nearest that are not copies
    used = usable.sum(axis=1)
    total = np.where(usable, dist, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(used > 0, total / np.maximum(used, 1), np.where(real.any(axis=1), 0.0, np.nan))
    return mean, used


def _copy_slots(distances: np.ndarray, duplicate_distance: float) -> int:
    """How many leading slots any row spends on copies (so ``k`` real neighbours remain)."""
    d = np.asarray(distances)
    return int((d < duplicate_distance).sum(axis=1).max()) if d.size else 0


def _robust_z(values: np.ndarray) -> np.ndarray:
    """``(log v - median) / (1.4826 MAD)``; a zero MAD falls back to the mean absolute deviation."""
    logs = np.log(np.maximum(values, 1e-6))
    median = float(np.median(logs))
    dev = np.abs(logs - median)
    sigma = 1.4826 * float(np.median(dev)) or 1.2533 * float(dev.mean()) or 1.0
    return (logs - median) / sigma


def find_outliers(sample_ids: Sequence[str], filepaths: Sequence[str], labels: Sequence[str | None],
                  graph_indices: Any, graph_distances: Any, *, k: int = DEFAULT_K, cut: float = DEFAULT_CUT,
                  duplicate_distance: float = DUPLICATE_DISTANCE, min_class_size: int = MIN_CLASS_SIZE,
                  reference: Literal["class", "all"] = "class") -> OutliersResult:
    """Images far from their neighbours, judged within their class, worst first.

    Args:
        sample_ids, filepaths, labels: one entry per graph row (``None``: unlabelled).
        graph_indices, graph_distances: the k-NN graph's ``[M, k]`` arrays (cosine distances,
            ascending, ``-1`` / ``inf`` padded).
        k: neighbours averaged (at most the graph's ``k``, less the slots copies take).
        cut: robust z-score of the log distance above which an image is an outlier.
        duplicate_distance: neighbours nearer than this are copies and left out.
        min_class_size: smaller classes (and unlabelled images) are judged against the whole dataset.
        reference: ``class`` (each image against its class and the whole dataset, averaged) or ``all``
            (against the whole dataset only; ranks stay per class).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> d = np.sort(rng.uniform(0.1, 0.12, (30, 3)), axis=1)
        >>> d[7] = [0.6, 0.7, 0.8]
        >>> idx = np.tile([1, 2, 3], (30, 1))
        >>> r = find_outliers([f"s{i}" for i in range(30)], ["/x"] * 30, ["a"] * 30, idx, d, k=3)
        >>> [o.sample_id for o in r.outliers], r.outliers[0].rank
        (['s7'], 1)
    """
    idx = np.asarray(graph_indices)
    dist = np.asarray(graph_distances, dtype=np.float64)
    if reference not in ("class", "all"):
        raise ValueError(f"reference must be 'class' or 'all', not {reference!r}")
    if idx.shape != dist.shape or idx.ndim != 2 or len(idx) != len(sample_ids):
        raise ValueError(f"graph arrays {idx.shape} / {dist.shape} do not match {len(sample_ids)} samples")
    mean, used = neighbor_distance(idx, dist, k=k, duplicate_distance=duplicate_distance)
    assessed = np.flatnonzero(np.isfinite(mean))
    z = np.full(len(mean), np.nan)
    judged_by = np.full(len(mean), "all", dtype=object)
    if assessed.size:
        z[assessed] = _robust_z(mean[assessed])
        by_label: dict[str, list[int]] = defaultdict(list)
        for i in assessed:
            if labels[i] is not None:
                by_label[labels[i]].append(int(i))
        for rows in by_label.values() if reference == "class" else ():
            if len(rows) >= min_class_size:
                z[rows] = (z[rows] + _robust_z(mean[rows])) / 2.0
                judged_by[rows] = "class+all"
    score = 1.0 / (1.0 + np.exp(np.clip(z - cut, -50, 50)))
    rank = np.zeros(len(mean), dtype=np.int64)
    groups: dict[str | None, list[int]] = defaultdict(list)
    for i in assessed:
        groups[labels[i]].append(int(i))
    for rows in groups.values():
        order = sorted(rows, key=lambda i: (-z[i], filepaths[i]))
        rank[order] = np.arange(1, len(order) + 1)
    flagged = sorted((int(i) for i in assessed if z[i] > cut), key=lambda i: (-z[i], filepaths[i]))
    outliers = tuple(Outlier(sample_id=sample_ids[i], filepath=filepaths[i], label=labels[i],
                             score=_r(score[i]), distance=_r(mean[i]), z=_r(z[i]), rank=int(rank[i]),
                             reference=str(judged_by[i]), n_neighbors=int(used[i])) for i in flagged)
    result = OutliersResult(outliers=outliers, cut=float(cut), k=int(k), duplicate_distance=float(duplicate_distance),
                            min_class_size=int(min_class_size), reference=reference,
                            sample_ids=tuple(sample_ids[i] for i in assessed),
                            scores=tuple(_r(score[i]) for i in assessed), n_unassessed=len(mean) - assessed.size)
    log.info("%s", result.summary())
    return result


def _r(x: float) -> float:
    x = float(x)
    return round(x, 6) if math.isfinite(x) else 0.0


@dataclass(frozen=True)
class OutlierOptions:
    """``--check-option outliers.KEY=VALUE``: the arguments of :func:`find_outliers`."""

    k: int = DEFAULT_K
    cut: float = DEFAULT_CUT
    duplicate_distance: float = DUPLICATE_DISTANCE
    min_class_size: int = MIN_CLASS_SIZE
    reference: str = "class"

    def __post_init__(self) -> None:
        if self.k < 1:
            raise ValueError(f"k must be at least 1, not {self.k}")
        if self.min_class_size < 2:
            raise ValueError(f"min_class_size must be at least 2, not {self.min_class_size}")
        if self.reference not in ("class", "all"):
            raise ValueError(f"reference must be 'class' or 'all', not {self.reference!r}")
        if not 0 <= self.duplicate_distance < 2:
            raise ValueError(f"duplicate_distance must be at least 0 and under 2, not {self.duplicate_distance}")


TAG = "wb:outlier"


@register_check(
    name="outliers", title="outliers", result=OutliersResult, needs=(GRAPH,), count_key="outliers",
    writes=Writes(fields=(SampleField("outlier_score", "wb_outlier_score", lambda r: dict(zip(r.sample_ids, r.scores))),
                          SampleField("outlier_rank", "wb_outlier_rank",
                                      lambda r: {o.sample_id: o.rank for o in r.outliers})),
                  tags=(SampleTag("outlier", TAG, lambda r: {o.sample_id for o in r.outliers}),),
                  views=(SavedView("outliers", "wb-outliers", TAG, "wb_outlier_score"),)),
    gate=GateSpec("outliers", "outlying images", lambda r: r.n_findings,
                  total=lambda r, audit: max(r.n_assessed, 1), depends_on=("embeddings", "neighbors")),
    section="sections/outliers.html.j2", options=OutlierOptions, absent_export={"outliers": None})
def run(inputs: CheckInputs, config: AuditConfig, options: OutlierOptions) -> OutliersResult:
    """Every embedded image's distance to its nearest neighbours on the shared graph, judged per class."""
    part = inputs.columns.take(inputs.embedded_rows)
    return find_outliers(part.ids, part.filepaths, part.labels, inputs.graph.indices, inputs.graph.distances,
                         k=min(options.k, inputs.graph.k), cut=options.cut,
                         duplicate_distance=options.duplicate_distance, min_class_size=options.min_class_size,
                         reference=options.reference)  # type: ignore[arg-type]
