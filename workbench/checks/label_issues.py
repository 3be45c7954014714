"""Likely label errors: out-of-fold predicted probabilities, then cleanlab.

Predicted probabilities come from a multinomial logistic regression (float32 L-BFGS) on the
embeddings with stratified K-fold cross-validation (each sample is scored by a model
that never saw it), or from the user (a predictions field or CSV). cleanlab's
``find_label_issues`` flags the likely errors; ``get_label_quality_scores`` ranks them.

Around cleanlab's flagged set ("likely errors") sits a **review queue**: every assessed sample
ranked by a label-quality score (:func:`label_quality`), cut at a budget (default: cleanlab's
calibrated estimate of the number of label issues, :func:`default_review_budget`). Each tier states
the share of real errors it is expected to hold as a range over three estimates: one from
cleanlab's noise matrix and the out-of-fold probabilities (:func:`~workbench.checks.label_precision.error_probabilities`) and two from
errors planted in memory (:mod:`workbench.checks.label_precision`). None needs ground truth.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import Counter
from typing import TYPE_CHECKING, Any, Callable, Literal, Sequence

import numpy as np

from workbench.checks.label_precision import (PRECISION_METHOD, error_probabilities, planted_estimates,
                                              tier_precision)
from workbench.checks.probe import out_of_fold_probabilities
from workbench.checks.registry import (FEATURES_OR_PREDICTIONS, LABELS, CheckInputs, GateSpec, PanelSpec, SampleField,
                                       SampleTag, SavedView, Writes, register_check)
from workbench.results import ClassErrorRate, LabelIssue, LabelIssuesResult

if TYPE_CHECKING:
    from workbench.config import AuditConfig

log = logging.getLogger(__name__)

Ranking = Literal["self_confidence", "normalized_margin", "neighbor_ensemble"]
#: The review queue's ranking, chosen by measurement (``benchmarks/bench_review_queue.py``).
DEFAULT_RANKING: Ranking = "neighbor_ensemble"


def neighbor_vote_probabilities(neighbor_labels: Sequence[Sequence[str | None] | None],
                                classes: Sequence[str]) -> np.ndarray:
    """Share of each class among every sample's labelled nearest images; ``NaN`` rows without any.

    Example:
        >>> neighbor_vote_probabilities([["a", "b", "b", None], None], ["a", "b"]).round(2).tolist()
        [[0.33, 0.67], [nan, nan]]
    """
    index = {c: k for k, c in enumerate(classes)}
    out = np.full((len(neighbor_labels), len(classes)), np.nan)
    for n, labs in enumerate(neighbor_labels):
        ks = [index[lab] for lab in labs or () if lab in index]
        if ks:
            out[n] = np.bincount(ks, minlength=len(classes)) / len(ks)
    return out


def label_quality(labels: np.ndarray, pred_probs: np.ndarray, *, ranking: Ranking = DEFAULT_RANKING,
                  neighbor_probs: np.ndarray | None = None) -> np.ndarray:
    """Label-quality score of every sample in [0, 1], low = likely wrong.

    ``self_confidence``: the probability of the given label. ``normalized_margin``: cleanlab's
    ``(p[given] - max other p + 1) / 2``. ``neighbor_ensemble``: the self-confidence of the mean of
    the out-of-fold probabilities and the neighbour votes (:func:`neighbor_vote_probabilities`),
    two predictors that never saw the sample's own label; samples without votes keep the classifier's.

    Example:
        >>> probs = np.array([[0.9, 0.1], [0.4, 0.6]])
        >>> label_quality(np.array([0, 0]), probs, ranking="self_confidence").tolist()
        [0.9, 0.4]
        >>> label_quality(np.array([0, 0]), probs, ranking="neighbor_ensemble",
        ...               neighbor_probs=np.array([[1.0, 0.0], [0.0, 1.0]])).round(2).tolist()
        [0.95, 0.2]
    """
    import cleanlab

    probs = np.asarray(pred_probs, dtype=np.float64)
    if ranking == "neighbor_ensemble":
        if neighbor_probs is not None:
            votes = np.asarray(neighbor_probs, dtype=np.float64)
            has = ~np.isnan(votes).any(axis=1)
            probs = probs.copy()
            probs[has] = (probs[has] + votes[has]) / 2
        ranking = "self_confidence"
    if ranking not in ("self_confidence", "normalized_margin"):
        raise ValueError(f"unknown ranking {ranking!r}; choose self_confidence, normalized_margin or "
                         "neighbor_ensemble")
    return cleanlab.rank.get_label_quality_scores(labels, probs, method=ranking)


def default_review_budget(labels: np.ndarray, pred_probs: np.ndarray) -> int:
    """cleanlab's calibrated estimate of how many given labels are wrong.

    ``cleanlab.count.num_label_issues(..., estimation_method="off_diagonal_calibrated")``: the
    off-diagonal of the confident joint after calibrating it to the class counts, which cleanlab
    documents as the cut-off to use with a label-quality ranking.

    Example:
        >>> probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.2, 0.8], [0.95, 0.05], [0.1, 0.9]])
        >>> default_review_budget(np.array([0, 0, 1, 1, 1, 1]), probs)
        1
    """
    import cleanlab

    return int(cleanlab.count.num_label_issues(labels, pred_probs, estimation_method="off_diagonal_calibrated"))


def find_label_issues(sample_ids: Sequence[str], filepaths: Sequence[str], splits: Sequence[str | None],
                      labels: Sequence[str], pred_probs: np.ndarray, classes: Sequence[str], *,
                      method: str, filter_by: str = "prune_by_noise_rate", n_folds: int | None = None,
                      cv_accuracy: float | None = None, not_assessed: Sequence[str] = (),
                      not_assessed_reason: str = "", review_budget: int | None = None,
                      ranking: Ranking = DEFAULT_RANKING,
                      neighbor_labels: Sequence[Sequence[str | None] | None] | None = None) -> LabelIssuesResult:
    """Run cleanlab on given labels and predicted probabilities (columns in ``classes`` order).

    ``issues`` is cleanlab's flagged set (the likely errors), worst first by cleanlab's score;
    ``review_queue`` the first ``review_budget`` samples of ``ranking`` (default budget:
    :func:`default_review_budget`). ``neighbor_labels`` (the given labels of each sample's nearest
    images) feed the ``neighbor_ensemble`` ranking; without them it ranks by self-confidence.

    Example:
        >>> probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.2, 0.8], [0.95, 0.05], [0.1, 0.9]])
        >>> r = find_label_issues(list("abcdef"), list("abcdef"), [None] * 6, ["x", "x", "y", "y", "y", "y"],
        ...                       probs, ["x", "y"], method="example", review_budget=2)
        >>> [i.sample_id for i in r.issues], [i.sample_id for i in r.review_queue]
        (['e'], ['e', 'b'])
    """
    import cleanlab

    if review_budget is not None and review_budget < 1:
        raise ValueError(f"review budget must be at least 1, not {review_budget}")
    index = {c: k for k, c in enumerate(classes)}
    y = np.array([index[label] for label in labels], dtype=np.int64)
    probs = np.clip(np.asarray(pred_probs, dtype=np.float64), 1e-12, None)
    probs /= probs.sum(axis=1, keepdims=True)
    mask = cleanlab.filter.find_label_issues(y, probs, filter_by=filter_by)
    scores = cleanlab.rank.get_label_quality_scores(y, probs)
    suggested_idx = probs.argmax(axis=1)

    votes = None if neighbor_labels is None else neighbor_vote_probabilities(neighbor_labels, classes)
    if ranking == "neighbor_ensemble" and (votes is None or np.isnan(votes).all()):
        ranking = "self_confidence"  # no graph (e.g. --predictions without embeddings)
    review_scores = label_quality(y, probs, ranking=ranking, neighbor_probs=votes)
    order = np.lexsort((np.arange(len(y)), review_scores))  # worst first, ties by position
    rank = np.empty(len(y), dtype=np.int64)
    rank[order] = np.arange(1, len(y) + 1)
    estimate = default_review_budget(y, probs)
    budget = review_budget if review_budget is not None else estimate
    queue = order[:budget]
    p_error = error_probabilities(y, probs)

    def issue(i: int) -> LabelIssue:
        return LabelIssue(sample_id=sample_ids[i], filepath=filepaths[i], split=splits[i], given_label=labels[i],
                          suggested_label=classes[suggested_idx[i]], score=round(float(scores[i]), 6),
                          suggested_confidence=round(float(probs[i, suggested_idx[i]]), 6),
                          likely_error=bool(mask[i]), review_rank=int(rank[i]),
                          review_score=round(float(review_scores[i]), 6),
                          error_probability=round(float(p_error[i]), 4))

    flagged = np.flatnonzero(mask)
    flagged = flagged[np.argsort(scores[flagged], kind="stable")]
    issues = tuple(issue(i) for i in flagged)
    rest = np.setdiff1d(np.arange(len(y)), np.union1d(flagged, queue))
    members = {"likely_errors": flagged, "review_queue": queue, "rest": rest}
    queue_cut = float(review_scores[queue].max()) if len(queue) else -np.inf
    planted = planted_estimates(y, probs, lambda flipped: label_quality(flipped, probs, ranking=ranking,
                                                                        neighbor_probs=votes),
                                filter_by, members, review_scores, queue_cut)
    totals = Counter(labels)
    flagged_per_class = Counter(labels[i] for i in flagged)
    per_class = tuple(ClassErrorRate(label=c, n_assessed=totals.get(c, 0), n_issues=flagged_per_class.get(c, 0))
                      for c in classes)
    return LabelIssuesResult(
        method=method, classes=tuple(classes), issues=issues, sample_ids=tuple(sample_ids),
        scores=tuple(round(float(s), 6) for s in scores), suggested=tuple(classes[k] for k in suggested_idx),
        per_class=per_class, n_folds=n_folds, cv_accuracy=cv_accuracy, not_assessed=tuple(not_assessed),
        not_assessed_reason=not_assessed_reason,
        review_queue=tuple(issue(i) for i in queue), review_ranking=ranking, review_budget=int(budget),
        review_budget_source="--review-budget" if review_budget is not None else
        "cleanlab's estimate of the number of label issues (num_label_issues, off_diagonal_calibrated)",
        estimated_n_issues=estimate,
        tiers=tuple(tier_precision(name, rows, p_error, planted.get(name)) for name, rows in members.items()),
        precision_method=PRECISION_METHOD)


def label_issues_from_features(sample_ids: Sequence[str], filepaths: Sequence[str],
                               splits: Sequence[str | None], labels: Sequence[str | None],
                               features: np.ndarray, *, n_folds: int = 5, seed: int = 0,
                               filter_by: str = "prune_by_noise_rate", review_budget: int | None = None,
                               ranking: Ranking = DEFAULT_RANKING,
                               neighbor_labels: Sequence[Sequence[str | None] | None] | None = None,
                               oof: Callable[..., tuple[np.ndarray, int, float]] = out_of_fold_probabilities,
                               fold_keys: Sequence[str | None] | None = None) -> LabelIssuesResult:
    """Out-of-fold probabilities from ``features``, then :func:`find_label_issues`.

    Unlabelled rows and classes with fewer than two samples can't be cross-validated; they are
    listed in ``not_assessed``. ``neighbor_labels`` is per input row. ``oof`` computes the
    probabilities (:func:`~workbench.checks.probe.out_of_fold_probabilities`, or the audit's
    :class:`~workbench.io.probe_cache.ProbeCache`, which returns the same numbers). ``fold_keys`` (per
    row, the file's content hash) fixes each image's fold, so that a re-audit after a few files changed
    flags the same images (:func:`~workbench.checks.probe.stable_folds`).
    """
    counts = Counter(lab for lab in labels if lab is not None)
    keep = [i for i, lab in enumerate(labels) if lab is not None and counts[lab] >= 2]
    kept = set(keep)
    not_assessed = [sample_ids[i] for i in range(len(labels)) if i not in kept]
    classes = sorted({labels[i] for i in keep})
    reason = "unlabelled, or its class has fewer than 2 samples to cross-validate" if not_assessed else ""
    if len(classes) < 2:
        from workbench.errors import CheckNotApplicable  # an input the audit can't judge: skipped, not failed

        raise CheckNotApplicable("label-issue detection needs at least two classes with 2+ labelled samples each")
    index = {c: k for k, c in enumerate(classes)}
    y = np.array([index[labels[i]] for i in keep])
    keys = None if fold_keys is None else [fold_keys[i] or sample_ids[i] for i in keep]
    probs, folds, accuracy = (oof(features[keep], y, n_folds=n_folds, seed=seed) if keys is None else
                              oof(features[keep], y, n_folds=n_folds, seed=seed, fold_keys=keys))
    log.info("out-of-fold accuracy %.3f with %d folds on %d samples", accuracy, folds, len(keep))
    return find_label_issues([sample_ids[i] for i in keep], [filepaths[i] for i in keep],
                             [splits[i] for i in keep], [labels[i] for i in keep], probs, classes,
                             method=f"cross-validated logistic regression on embeddings ({folds} folds)",
                             filter_by=filter_by, n_folds=folds, cv_accuracy=round(accuracy, 4),
                             not_assessed=not_assessed, not_assessed_reason=reason, review_budget=review_budget,
                             ranking=ranking,
                             neighbor_labels=None if neighbor_labels is None else [neighbor_labels[i] for i in keep])


def add_neighbor_votes(result: LabelIssuesResult, row_of_sample: dict[str, int],
                       row_labels: Sequence[str | None], neighbor_indices: np.ndarray) -> LabelIssuesResult:
    """Annotate each flagged issue (and review-queue entry) with the labels of its nearest images on the graph.

    Evidence a reviewer can weigh next to the classifier: a "cat" whose 10 nearest images are
    9 dogs is more convincing than one whose neighbours are mixed. Detection itself is unchanged
    (blending neighbour votes into the probabilities lowered recall on the planted flips).

    Args:
        result: the label-issue result to annotate.
        row_of_sample: sample id -> row of ``neighbor_indices`` (the embedded rows).
        row_labels: the given label of each graph row (``None`` = unlabelled, not counted).
        neighbor_indices: ``[rows, k]`` graph lists, ``-1`` = none.

    Example:
        >>> from workbench.results import LabelIssue, LabelIssuesResult
        >>> issue = LabelIssue("s0", "a.png", None, "cat", "dog", 0.1, 0.9)
        >>> r = LabelIssuesResult(method="m", classes=("cat", "dog"), issues=(issue,))
        >>> graph = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])
        >>> i = add_neighbor_votes(r, {"s0": 0}, ["cat", "dog", "dog", None], graph).issues[0]
        >>> i.neighbors, i.neighbors_given, i.neighbors_suggested
        (2, 0, 2)
    """
    def voted(issue: LabelIssue) -> LabelIssue:
        row = row_of_sample.get(issue.sample_id)
        if row is None:
            return issue
        labels = [row_labels[j] for j in neighbor_indices[row] if j >= 0 and row_labels[j] is not None]
        votes = Counter(labels)
        return dataclasses.replace(issue, neighbors=len(labels), neighbors_given=votes[issue.given_label],
                                   neighbors_suggested=votes[issue.suggested_label])

    return dataclasses.replace(result, issues=tuple(voted(i) for i in result.issues),
                               review_queue=tuple(voted(i) for i in result.review_queue))


def graph_neighbor_labels(rows: Sequence[int], graph_row_of_table_row: dict[int, int], row_labels: Sequence[str | None],
                          neighbor_indices: np.ndarray) -> list[list[str | None] | None]:
    """The given labels of each table row's nearest images (``None`` for a row not on the graph).

    Example:
        >>> graph_neighbor_labels([5, 9], {5: 0, 6: 1}, ["cat", "dog"], np.array([[1], [0]]))
        [['dog'], None]
    """
    out: list[list[str | None] | None] = []
    for r in rows:
        g = graph_row_of_table_row.get(int(r))
        out.append(None if g is None else [row_labels[j] for j in neighbor_indices[g] if j >= 0])
    return out


TAG, QUEUE_TAG = "wb:label_issue", "wb:review_queue"


def _suggestions(r: LabelIssuesResult) -> dict[str, dict[str, Any]]:
    """The suggested label of each flagged sample, with its neighbour votes (filterable in the App)."""
    out = {}
    for i in r.issues:
        votes = {} if i.neighbors is None else {"neighbors": i.neighbors, "neighbors_given": i.neighbors_given,
                                                 "neighbors_suggested": i.neighbors_suggested}
        out[i.sample_id] = {"label": i.suggested_label, "confidence": i.suggested_confidence, **votes}
    return out


def _ranked(r: LabelIssuesResult) -> dict[str, LabelIssue]:
    return {i.sample_id: i for i in (*r.issues, *r.review_queue) if i.review_rank is not None}


@register_check(
    name="label_issues", title="label issues", result=LabelIssuesResult, needs=(LABELS, FEATURES_OR_PREDICTIONS),
    count_key="label_issues",
    writes=Writes(
        fields=(SampleField("label_score", "wb_label_score", lambda r: dict(zip(r.sample_ids, r.scores))),
                SampleField("label_issue", "wb_is_label_issue",
                            lambda r: {sid: sid in {i.sample_id for i in r.issues} for sid in r.sample_ids}),
                SampleField("suggested", "wb_suggested_label", _suggestions, kind="classification"),
                SampleField("review_rank", "wb_review_rank",
                            lambda r: {s: i.review_rank for s, i in _ranked(r).items()}),
                SampleField("review_score", "wb_review_score",
                            lambda r: {s: i.review_score for s, i in _ranked(r).items()})),
        tags=(SampleTag("label_issue", TAG, lambda r: {i.sample_id for i in r.issues}),
              SampleTag("review_queue", QUEUE_TAG, lambda r: {i.sample_id for i in r.review_queue})),
        views=(SavedView("label_issues", "wb-label-issues", TAG, "wb_label_score"),
               SavedView("review_queue", "wb-review-queue", QUEUE_TAG, "wb_review_rank"))),
    gate=GateSpec("label-issues", "label issues", lambda r: len(r.issues), total=lambda r, audit: len(r.sample_ids),
                  depends_on=("predictions",)),
    section="sections/label_issues.html.j2",
    panel=PanelSpec("Label issues", "workbench.panels.label_issues:label_issues_panel"),
    absent_export={"label_issues": [], "label_issue_method": None, "label_review_queue": [], "label_review": None})
def run(inputs: CheckInputs, config: AuditConfig, options: None) -> LabelIssuesResult:
    """cleanlab on the user's predictions when given, else on out-of-fold probabilities of a probe on the
    embeddings; flagged issues then carry their neighbours' votes on the shared graph."""
    result = _from_probabilities(inputs, config)
    if inputs.graph is None:
        return result
    rows, labels = inputs.embedded_rows, inputs.columns.labels
    return add_neighbor_votes(result, {inputs.columns.ids[r]: g for g, r in enumerate(rows)},
                              [labels[r] for r in rows], inputs.graph.indices)


def _from_probabilities(inputs: CheckInputs, config: AuditConfig) -> LabelIssuesResult:
    cols = inputs.columns

    def neighbor_labels(rows):  # the given labels of each row's nearest images, for the review ranking
        if inputs.graph is None:
            return None
        graph_rows = inputs.embedded_rows
        return graph_neighbor_labels(rows, {int(r): g for g, r in enumerate(graph_rows)},
                                     [cols.labels[r] for r in graph_rows], inputs.graph.indices)

    pred = inputs.predictions
    if pred is not None:
        labelled = [k for k, r in enumerate(pred.rows) if cols.labels[r] is not None]
        rows = pred.rows[labelled]
        missing = sorted(set(range(len(cols))) - set(pred.rows.tolist()))
        part = cols.take(rows)
        return find_label_issues(part.ids, part.filepaths, part.splits, part.labels, pred.probs[labelled],
                                 list(pred.classes), method=f"user predictions ({pred.source})",
                                 filter_by=config.label_issue_filter, not_assessed=[cols.ids[r] for r in missing],
                                 not_assessed_reason="no prediction for this sample" if missing else "",
                                 review_budget=config.review_budget, neighbor_labels=neighbor_labels(rows))
    rows = inputs.embedded_rows
    part = cols.take(rows)
    return label_issues_from_features(part.ids, part.filepaths, part.splits, part.labels, inputs.embeddings.vectors,
                                      n_folds=config.cv_folds, seed=config.seed, filter_by=config.label_issue_filter,
                                      review_budget=config.review_budget, neighbor_labels=neighbor_labels(rows),
                                      oof=inputs.oof_probabilities or out_of_fold_probabilities,
                                      fold_keys=part.hashes)
