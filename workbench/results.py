"""Typed, frozen, JSON-serialisable results of an audit.

Every check returns one of these dataclasses; :class:`AuditResult` bundles them.
Renderers (FiftyOne write-back, HTML, JSON, panels) read these objects only.
Samples are referred to by FiftyOne sample id; file paths are carried as data.

The per-sample frames follow cleanlab / CleanVision's column contract:
``is_<issue>_issue`` (bool) and ``<issue>_score`` in [0, 1], low = bad.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

SCHEMA_VERSION = "1.0"

CheckState = Literal["ran", "skipped", "failed"]
Task = Literal["classification", "detection", "segmentation"]
FileProblemKind = Literal["missing", "unreadable", "empty", "annotation", "outside_root"]
DuplicateKind = Literal["exact", "near"]


@dataclass(frozen=True)
class CheckStatus:
    """What happened to one check: ran, skipped (inputs absent) or failed (typed error)."""

    name: str
    state: CheckState
    reason: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class EmbeddingInfo:
    """Which model produced the embeddings, and whether it is the one asked for."""

    model_id: str
    backend: str
    requested: str
    trained: bool
    dim: int
    device: str
    preprocessing: str
    fallback_reason: str | None = None
    n_computed: int = 0
    n_cached: int = 0
    n_failed: int = 0
    seconds: float = 0.0
    #: ``fp32`` or ``bf16`` weights; for bf16 the measured max cosine drift against fp32.
    precision: str = "fp32"
    bf16_drift: float | None = None
    precision_note: str | None = None

    @property
    def is_fallback(self) -> bool:
        return self.fallback_reason is not None


@dataclass(frozen=True)
class NeighborInfo:
    """How the shared k-NN graph was obtained: built from scratch, or updated from the last audit."""

    method: str  # "exact" | "ivf"
    k: int
    mode: str  # "built" | "updated" | "rebuilt"
    n_rows: int
    n_reused: int = 0
    n_new: int = 0
    n_recomputed: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class FileProblem:
    """A sample whose image file can't be used (missing, empty or not decodable)."""

    sample_id: str
    filepath: str
    kind: FileProblemKind
    message: str


@dataclass(frozen=True)
class IntegrityResult:
    problems: tuple[FileProblem, ...] = ()

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame([dataclasses.asdict(p) for p in self.problems],
                            columns=["sample_id", "filepath", "kind", "message"])


@dataclass(frozen=True)
class NearCalibration:
    """How the near-duplicate rule was set, and what it is expected to find (see ``checks/calibration``).

    ``method``: ``calibrated`` (from copies of this dataset's own images), ``user`` (``--near-threshold``,
    judged on the same copies), or ``fixed`` (calibration off or impossible: the model's default).
    ``recall``: per transform, the share of known copies the rule links. ``false_pair_rate``: the share
    of images whose nearest different-file neighbour the rule links; an upper bound on false pairs,
    since the dataset's own real copies are counted in it.
    """

    method: str
    strict: float
    loose: float
    thumb: float
    phash_bits: int
    #: Correlation of a pair's pixels, registered by matched local features (images under 64 px: shifted
    #: into line at native size), that confirms it (``None``: that tier off).
    pixels: float | None = None
    n_originals: int = 0
    n_copies: int = 0
    n_negatives: int = 0
    recall: tuple[tuple[str, float], ...] = ()
    false_pair_rate: float | None = None
    note: str = ""
    #: Edge correlation of two smooth images aligned directly (too few features to register them) that
    #: confirms a pair (``None``: that tier off).
    dense: float | None = None

    @property
    def min_recall(self) -> float | None:
        return min((r for _, r in self.recall), default=None)

    def rule(self) -> Any:
        """The :class:`~workbench.checks.near_rule.NearRule` these thresholds make."""
        from workbench.checks.near_rule import NearRule

        return NearRule(self.strict, self.loose, self.thumb, self.phash_bits, self.pixels, self.dense)


@dataclass(frozen=True)
class DuplicateLink:
    """One linking pair inside a cluster and the evidence for it (see ``checks/near_rule``)."""

    sample_id_a: str
    sample_id_b: str
    distance: float
    evidence: str


@dataclass(frozen=True)
class DuplicateCluster:
    """A group of samples that show the same picture.

    ``kind`` is ``exact`` when every member has the same file content hash, else ``near``.
    ``max_distance`` is the largest cosine distance of a linking pair (0 for exact).
    """

    cluster_id: int
    kind: DuplicateKind
    sample_ids: tuple[str, ...]
    filepaths: tuple[str, ...]
    splits: tuple[str | None, ...]
    labels: tuple[str | None, ...]
    max_distance: float
    #: The pairs that link the members, each with its evidence (exact copies: ``exact``).
    links: tuple[DuplicateLink, ...] = ()

    @property
    def label_conflict(self) -> bool:
        return len({lab for lab in self.labels if lab is not None}) > 1

    @property
    def evidence(self) -> tuple[str, ...]:
        """The kinds of evidence that link this cluster, most common first."""
        from collections import Counter

        return tuple(e for e, _ in Counter(link.evidence for link in self.links).most_common())

    @property
    def spans_splits(self) -> bool:
        return len({s for s in self.splits if s is not None}) > 1


@dataclass(frozen=True)
class DuplicatesResult:
    near_threshold: float
    clusters: tuple[DuplicateCluster, ...] = ()
    n_exact_pairs: int = 0
    n_near_pairs: int = 0
    #: How the near-duplicate rule was set and what it is expected to find; ``None`` without embeddings.
    calibration: NearCalibration | None = None
    #: Candidate pairs within the loose threshold that no second signal confirmed (not reported).
    n_rejected_candidates: int = 0
    #: Links dropped so that no cluster chains different pictures (members farther apart than ``loose``).
    n_split_links: int = 0

    @property
    def expected_near_precision(self) -> float | None:
        """The share of images in near clusters expected to be there rightly, by the calibration's
        false-pair rate (images expected to link to a different picture / images in near clusters).

        Only as good as the negatives: look-alikes inside the known copies' range are not counted.
        """
        cal = self.calibration
        in_near = sum(len(c.sample_ids) for c in self.clusters if c.kind == "near")
        if cal is None or cal.false_pair_rate is None or cal.n_negatives == 0 or not in_near:
            return None
        expected_false = cal.false_pair_rate * cal.n_negatives  # images linked to a different picture
        return round(max(0.0, 1.0 - expected_false / in_near), 4)

    @property
    def n_redundant(self) -> int:
        """Samples that could be removed while keeping one of each cluster."""
        return sum(len(c.sample_ids) - 1 for c in self.clusters)

    def to_frame(self):
        """One row per duplicated sample: ``is_duplicate_issue``, ``duplicate_score``, cluster."""
        import pandas as pd

        rows = []
        for c in self.clusters:
            score = 0.0 if c.kind == "exact" else round(min(1.0, c.max_distance / max(self.near_threshold, 1e-9)) * 0.5, 6)
            for sid, fp, sp, lab in zip(c.sample_ids, c.filepaths, c.splits, c.labels):
                rows.append({"sample_id": sid, "filepath": fp, "split": sp, "label": lab,
                             "cluster_id": c.cluster_id, "kind": c.kind,
                             "is_duplicate_issue": True, "duplicate_score": score,
                             "label_conflict": c.label_conflict})
        return pd.DataFrame(rows, columns=["sample_id", "filepath", "split", "label", "cluster_id", "kind",
                                           "is_duplicate_issue", "duplicate_score", "label_conflict"])


@dataclass(frozen=True)
class LeakPair:
    """Two copies of one picture in different splits."""

    sample_id_a: str
    sample_id_b: str
    filepath_a: str
    filepath_b: str
    split_a: str
    split_b: str
    label_a: str | None
    label_b: str | None
    kind: DuplicateKind
    distance: float
    cluster_id: int
    #: What links the two (``exact``, ``embedding``, ``embedding+thumbnail``, ``phash``...; see ``near_rule``).
    evidence: str = ""

    @property
    def label_conflict(self) -> bool:
        return self.label_a is not None and self.label_b is not None and self.label_a != self.label_b


@dataclass(frozen=True)
class LeakageResult:
    pairs: tuple[LeakPair, ...] = ()
    n_clusters: int = 0

    @property
    def leaked_ids(self) -> frozenset[str]:
        return frozenset(i for p in self.pairs for i in (p.sample_id_a, p.sample_id_b))

    @property
    def n_label_conflicts(self) -> int:
        return sum(p.label_conflict for p in self.pairs)

    def to_frame(self):
        import pandas as pd

        cols = [f.name for f in dataclasses.fields(LeakPair)] + ["label_conflict"]
        return pd.DataFrame([{**dataclasses.asdict(p), "label_conflict": p.label_conflict} for p in self.pairs],
                            columns=cols)


@dataclass(frozen=True)
class LabelIssue:
    sample_id: str
    filepath: str
    split: str | None
    given_label: str
    suggested_label: str
    score: float
    suggested_confidence: float
    #: Of the image's nearest images on the shared k-NN graph (``None`` without embeddings):
    neighbors: int | None = None  #: how many were counted (labelled, within the graph's k)
    neighbors_given: int | None = None  #: how many carry this image's given label
    neighbors_suggested: int | None = None  #: how many carry the suggested label
    #: In cleanlab's flagged set (the "likely errors" tier).
    likely_error: bool = True
    #: Position in the review ranking (1 = review first) and the ranking's score (low = likely wrong).
    review_rank: int | None = None
    review_score: float | None = None
    #: Estimated probability that the given label is wrong (cleanlab's noise matrix + out-of-fold
    #: probabilities; no ground truth). It runs high with a weak classifier; the tiers state a range
    #: (:class:`TierPrecision`).
    error_probability: float | None = None


@dataclass(frozen=True)
class TierPrecision:
    """One tier of label findings and the share of real errors it is expected to hold.

    ``tier``: ``likely_errors`` (cleanlab's flagged set), ``review_queue`` (the top of the ranking,
    up to the budget) or ``rest`` (assessed samples in neither). ``expected_precision`` is the mean
    noise-matrix error probability of its members and ``expected_errors`` their sum;
    ``precision_low``-``precision_high`` the range over that and the estimates from errors planted
    in memory (:mod:`workbench.checks.label_precision`). ``None`` when empty or not estimated.
    """

    tier: str
    n: int
    expected_errors: float
    expected_precision: float | None
    precision_low: float | None = None
    precision_high: float | None = None

    @property
    def precision_range(self) -> tuple[float, float] | None:
        """``(low, high)``; the noise-matrix estimate twice for results written before the range."""
        if self.expected_precision is None:
            return None
        return (self.precision_low if self.precision_low is not None else self.expected_precision,
                self.precision_high if self.precision_high is not None else self.expected_precision)


@dataclass(frozen=True)
class ClassErrorRate:
    label: str
    n_assessed: int
    n_issues: int

    @property
    def rate(self) -> float:
        return self.n_issues / self.n_assessed if self.n_assessed else 0.0


@dataclass(frozen=True)
class LabelIssuesResult:
    """Likely label errors, ranked worst first.

    ``sample_ids`` / ``scores`` / ``suggested`` cover every assessed sample
    (cleanlab's label-quality score, low = likely wrong), so a renderer can
    colour all samples, not only the flagged ones.
    """

    method: str
    classes: tuple[str, ...]
    issues: tuple[LabelIssue, ...] = ()
    sample_ids: tuple[str, ...] = ()
    scores: tuple[float, ...] = ()
    suggested: tuple[str, ...] = ()
    per_class: tuple[ClassErrorRate, ...] = ()
    n_folds: int | None = None
    cv_accuracy: float | None = None
    not_assessed: tuple[str, ...] = ()
    not_assessed_reason: str = ""
    #: The review queue: assessed samples ranked by ``review_ranking`` (worst first), at most
    #: ``review_budget`` of them; flagged and unflagged alike (``LabelIssue.likely_error``).
    review_queue: tuple[LabelIssue, ...] = ()
    review_ranking: str = ""
    review_budget: int = 0
    #: Where the budget came from: ``"--review-budget"`` or cleanlab's estimate.
    review_budget_source: str = ""
    #: cleanlab's estimate of how many given labels are wrong (``num_label_issues``, calibrated).
    estimated_n_issues: int | None = None
    #: Expected precision of each tier (likely errors, review queue, rest), and how it was estimated.
    tiers: tuple[TierPrecision, ...] = ()
    precision_method: str = ""

    def tier(self, name: str) -> TierPrecision | None:
        return next((t for t in self.tiers if t.tier == name), None)

    @property
    def issue_rate(self) -> float:
        return len(self.issues) / len(self.sample_ids) if self.sample_ids else 0.0

    def to_frame(self):
        import pandas as pd

        flagged = {i.sample_id for i in self.issues}
        return pd.DataFrame({"sample_id": list(self.sample_ids),
                             "is_label_issue": [s in flagged for s in self.sample_ids],
                             "label_score": list(self.scores),
                             "predicted_label": list(self.suggested)})


@dataclass(frozen=True)
class ClassReadiness:
    label: str
    count: int
    level: Literal["below minimum", "minimum", "good", "excellent"]
    next_level: str | None
    needed_for_next: int


@dataclass(frozen=True)
class BalanceResult:
    """Class counts and where they stand.

    ``counts`` is ``{split: {class: n}}`` (split ``all`` when the dataset has none);
    ``totals`` is ``{class: n}``. ``imbalance_ratio`` is rarest / most common on ``basis``,
    in [0, 1]; ``below_ratio`` lists the classes under ``min_ratio`` of the most common.
    """

    task: Task
    unit: Literal["images", "instances"]
    counts: dict[str, dict[str, int]]
    totals: dict[str, int]
    imbalance_ratio: float | None
    min_ratio: float
    rarest: str | None
    most_common: str | None
    below_ratio: tuple[str, ...]
    readiness: tuple[ClassReadiness, ...]
    thresholds: dict[str, int]
    n_unlabeled: int = 0
    negative_share: float | None = None
    #: The split the ratio and readiness are judged on: ``train`` when present, else ``all``.
    basis: str = "all"

    @property
    def meets_ratio(self) -> bool:
        return not self.below_ratio

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.counts).fillna(0).astype(int)


@dataclass(frozen=True)
class SplitShift:
    """How the class distribution differs between two splits.

    ``largest_gaps`` are ``(class, share in split_b - share in split_a)``, largest magnitude first.
    """

    split_a: str
    split_b: str
    js_divergence: float
    chi2: float
    p_value: float
    cramers_v: float
    largest_gaps: tuple[tuple[str, float], ...]
    missing_in_b: tuple[str, ...]


#: Cramér's V bands, strongest first: ``(lowest V, name)`` (Cohen's conventions for association).
STRENGTH_BANDS: tuple[tuple[float, str], ...] = ((0.5, "strong"), (0.3, "moderate"), (0.1, "weak"))


@dataclass(frozen=True)
class AttributeAssociation:
    """Labels broken down by one metadata attribute, with Cramér's V as the strength.

    ``table`` is ``{attribute level: {label: n}}`` (zero cells omitted).
    """

    attribute: str
    n_levels: int
    cramers_v: float
    chi2: float
    p_value: float
    table: dict[str, dict[str, int]]

    @property
    def strength(self) -> str:
        """The band of :data:`STRENGTH_BANDS` its Cramér's V falls in (``negligible`` below them all)."""
        return next((name for low, name in STRENGTH_BANDS if self.cramers_v >= low), "negligible")


@dataclass(frozen=True)
class BiasResult:
    split_shifts: tuple[SplitShift, ...] = ()
    attributes: tuple[AttributeAssociation, ...] = ()
    skipped_attributes: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class AuditArtifacts:
    """Large in-memory outputs of an audit, never serialised.

    The audit table's rows (ids, paths, splits, labels, content hashes), the rows that have
    embeddings, their vectors and the k-NN graph over them. Panels re-filter duplicates at
    another threshold from these (``workbench.checks.duplicates.refilter``) without
    re-embedding; the write-back stores the vectors on the samples.
    """

    sample_ids: tuple[str, ...]
    filepaths: tuple[str, ...]
    splits: tuple[str | None, ...]
    labels: tuple[str | None, ...]
    hashes: tuple[str | None, ...]
    embedded_rows: Any  # numpy int64 [M]: table rows that have a vector
    vectors: Any  # numpy float32 [M, dim], L2-normalised
    neighbor_indices: Any  # numpy [M, k]: rows of ``vectors``; None when M < 2
    neighbor_distances: Any  # numpy [M, k] cosine distances, ascending
    phashes: tuple[str | None, ...] | None = None  # perceptual hashes per table row
    phashes_mirror: tuple[str | None, ...] | None = None  # perceptual hashes of the mirrored images
    thumbs: tuple[str | None, ...] | None = None  # 16x16 colour thumbnails (hex) per table row
    #: ``(row, row, inliers, aligned, dense)`` of the pairs whose pixels were compared (``checks/geometry``;
    #: results saved before the dense tier have four).
    pair_pixels: tuple[tuple, ...] = ()

    @property
    def embedded_ids(self) -> tuple[str, ...]:
        return tuple(self.sample_ids[i] for i in self.embedded_rows)


@dataclass(frozen=True)
class AuditResult:
    """Everything one audit found. Frozen; ``to_dict`` / ``from_dict`` round-trip through JSON."""

    dataset_name: str
    source: str
    task: Task
    n_samples: int
    classes: tuple[str, ...]
    splits: tuple[str, ...]
    created_at: str
    config: dict[str, Any]
    versions: dict[str, str]
    checks: tuple[CheckStatus, ...]
    embedding: EmbeddingInfo | None = None
    neighbors: NeighborInfo | None = None
    integrity: IntegrityResult | None = None
    duplicates: DuplicatesResult | None = None
    leakage: LeakageResult | None = None
    label_issues: LabelIssuesResult | None = None
    balance: BalanceResult | None = None
    bias: BiasResult | None = None
    timings: dict[str, float] = field(default_factory=dict)
    #: Review marks found on the samples when the audit ran: ``{sample id: "confirmed" | "not_error"}``
    #: (see ``workbench.marks``), so renderers show what was already reviewed.
    reviews: dict[str, str] = field(default_factory=dict)
    schema_version: str = SCHEMA_VERSION
    #: In-memory only (not serialised): embeddings and the k-NN graph, so renderers and
    #: panels can store vectors or re-filter neighbours without recomputing anything.
    artifacts: AuditArtifacts | None = field(default=None, compare=False, repr=False,
                                             metadata={"serialize": False})

    def review_of(self, sample_id: str) -> str | None:
        """``confirmed``, ``not_error`` or None for a sample."""
        return self.reviews.get(sample_id)

    def check(self, name: str) -> CheckStatus | None:
        return next((c for c in self.checks if c.name == name), None)

    def counts(self) -> dict[str, int]:
        """Findings per type, as the CLI's ``--fail-on`` and the summary cards see them."""
        return {
            "file_problems": len(self.integrity.problems) if self.integrity else 0,
            "duplicates": len(self.duplicates.clusters) if self.duplicates else 0,
            "leaks": len(self.leakage.pairs) if self.leakage else 0,
            "label_issues": len(self.label_issues.issues) if self.label_issues else 0,
            "imbalanced_classes": len(self.balance.below_ratio) if self.balance else 0,
        }

    def to_dict(self) -> dict[str, Any]:
        return _to_jsonable(self)

    def to_json(self, path: str | Path | None = None, *, indent: int | None = 1) -> str:
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditResult:
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ValueError(f"AuditResult schema {version!r} is not {SCHEMA_VERSION!r}; re-run the audit "
                             "with this version of workbench.")
        return _from_jsonable(cls, data)

    @classmethod
    def from_json(cls, path: str | Path) -> AuditResult:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def _to_jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: _to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)
                if f.metadata.get("serialize", True)}
    if isinstance(obj, dict):
        return {str(k): _to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_to_jsonable(v) for v in obj]
    if isinstance(obj, float):
        if obj != obj or obj in (float("inf"), float("-inf")):
            return None
        return obj
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalar
        return _to_jsonable(obj.item())
    return obj


def _from_jsonable(tp: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        non_none = [a for a in args if a is not type(None)]
        return _from_jsonable(non_none[0], value) if len(non_none) == 1 else value
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        kwargs = {f.name: _from_jsonable(hints[f.name], value[f.name])
                  for f in dataclasses.fields(tp) if f.name in value and f.metadata.get("serialize", True)}
        return tp(**kwargs)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_from_jsonable(args[0], v) for v in value)
        return tuple(_from_jsonable(a, v) for a, v in zip(args, value))
    if origin is dict:
        return {k: _from_jsonable(args[1], v) for k, v in value.items()}
    if tp is float and isinstance(value, int):
        return float(value)
    return value
