"""Results of the label-issues check: likely errors, the review queue and its tiers."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from workbench.results.protocol import Finding

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

    @property
    def n_findings(self) -> int:
        return len(self.issues)

    def summary(self) -> str:
        """The flagged count and accuracy, then the tiers and their estimated precision."""
        acc = f", out-of-fold accuracy {self.cv_accuracy:.1%}" if self.cv_accuracy is not None else ""
        head = f"{len(self.issues)} of {len(self.sample_ids)} ({self.issue_rate:.1%}{acc})"
        tiers = self.tiers_text()
        return f"{head}\n{tiers}" if tiers else head

    def tiers_text(self) -> str:
        """The tiers and their estimated precision, e.g. ``likely errors 40 (est. 35-62% real); ...``."""

        def share(name: str) -> str:
            t = self.tier(name)
            if t is None or t.precision_range is None:
                return ""
            low, high = t.precision_range
            return f" (est. {low:.0%} real)" if f"{low:.0%}" == f"{high:.0%}" else f" (est. {low:.0%}-{high:.0%} real)"

        if not self.review_ranking:  # a result from before the review queue
            return ""
        budget = "your budget" if self.review_budget_source == "--review-budget" else "budget: cleanlab's estimate"
        rest = self.tier("rest")
        tail = f"; rest {rest.n}{share('rest')}" if rest is not None and rest.n else ""
        return (f"likely errors {len(self.issues)}{share('likely_errors')}; review queue {len(self.review_queue)}"
                f"{share('review_queue')}, by {self.review_ranking.replace('_', ' ')}, {budget}{tail}")

    def finding_rows(self) -> tuple[Finding, ...]:
        """Each label issue, by file and given label: relabelling the image fixes it."""
        return tuple(Finding("label", (i.filepath,), (i.given_label,), i.given_label, i.score,
                             f"looks like {i.suggested_label}") for i in self.issues)

    def to_frame(self, *, assessed: bool = False):
        """One row per flagged sample (``assessed=True``: per assessed sample, cleanlab's contract):
        ``sample_id, filepath, split, label, is_label_issue, label_score, predicted_label`` and the
        review rank."""
        import pandas as pd

        cols = ["sample_id", "filepath", "split", "label", "is_label_issue", "label_score", "predicted_label",
                "review_rank"]
        if not assessed:
            return pd.DataFrame([{"sample_id": i.sample_id, "filepath": i.filepath, "split": i.split,
                                  "label": i.given_label, "is_label_issue": True, "label_score": i.score,
                                  "predicted_label": i.suggested_label, "review_rank": i.review_rank}
                                 for i in self.issues], columns=cols)
        known = {i.sample_id: i for i in (*self.review_queue, *self.issues)}
        flagged = {i.sample_id for i in self.issues}
        return pd.DataFrame({"sample_id": list(self.sample_ids),
                             "filepath": [getattr(known.get(s), "filepath", None) for s in self.sample_ids],
                             "split": [getattr(known.get(s), "split", None) for s in self.sample_ids],
                             "label": [getattr(known.get(s), "given_label", None) for s in self.sample_ids],
                             "is_label_issue": [s in flagged for s in self.sample_ids],
                             "label_score": list(self.scores), "predicted_label": list(self.suggested),
                             "review_rank": [getattr(known.get(s), "review_rank", None) for s in self.sample_ids]},
                            columns=cols)

    def to_export(self) -> dict[str, Any]:
        return {
            "label_issues": [_issue_export(i) for i in self.issues], "label_issue_method": self.method,
            "label_review_queue": [_issue_export(i) for i in self.review_queue],
            "label_review": {
                "ranking": self.review_ranking, "budget": self.review_budget,
                "budget_source": self.review_budget_source, "estimated_n_issues": self.estimated_n_issues,
                "precision_method": self.precision_method,
                "tiers": {t.tier: {"n": t.n, "expected_errors": t.expected_errors,
                                   "expected_precision": t.expected_precision,
                                   "precision_range": None if t.precision_range is None else list(t.precision_range)}
                          for t in self.tiers}},
        }


def _issue_export(i: LabelIssue) -> dict[str, Any]:
    return {"path": i.filepath, "split": i.split, "given_label": i.given_label, "suggested_label": i.suggested_label,
            "score": i.score, "suggested_confidence": i.suggested_confidence,
            "neighbors": None if i.neighbors is None else {
                "counted": i.neighbors, "given_label": i.neighbors_given, "suggested_label": i.neighbors_suggested},
            "likely_error": i.likely_error, "review_rank": i.review_rank, "review_score": i.review_score,
            "error_probability": i.error_probability}
