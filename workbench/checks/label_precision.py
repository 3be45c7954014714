"""How many of a label tier's members are real errors: estimates from errors planted in memory.

Without ground truth the share of real errors in a tier can't be measured, only bracketed. The
noise-matrix estimate (:func:`error_probabilities`, Bayes with
cleanlab's noise matrix) counts the classifier's own confident mistakes as label errors, so with a
weak classifier it runs high: 1.4 to 2.3 times the measured share on the planted-noise
benchmarks, and 54-69% on data with no planted errors at all. The estimates here ask how the
tiers catch errors of a known kind:

1. copy the given labels and flip a seeded :data:`PLANT_SHARE` of them (in memory only; on small
   datasets again with other seeds until :data:`TARGET_PLANTED` flips, the estimates averaged), either
   to another class at random (``uniform``) or to a class the out-of-fold model finds likely for
   that image (``confusable``: the kind of mistake annotators make);
2. rank and flag again with the same out-of-fold probabilities and neighbour votes (each sample's
   own probabilities come from folds that never saw its label; that the flipped labels would
   slightly change the other folds' models is ignored, so nothing is retrained);
3. the planted flips' recall ``r`` of each tier measures how the tier catches errors; the number
   of real errors ``E`` is the count of samples scoring below a low cut ``t`` over the planted
   recall at ``t`` (at the cuts where 10, 20 and 30% of the planted flips fall; the median);
4. a tier of ``n`` samples then holds about ``r * E / n`` real errors.

Clean samples scoring below the cuts would raise ``E``; errors harder to catch than the planted
ones would lower it. The range reported is the smallest and the largest of the three estimates
(the noise-matrix one and the two planted kinds): on the benchmarks
(``benchmarks/bench_review_queue.py``) the measured share fell inside it in 22 of 27 tiers and
within 2.3 points of it in the others, and the low end was 0% on labels with no error planted.

Pure: arrays in, numbers out.
"""

from __future__ import annotations

import logging
from typing import Callable, Literal, Sequence

import numpy as np

from workbench.results import TierPrecision

log = logging.getLogger(__name__)

#: Share of the samples whose labels are flipped in memory (at least :data:`MIN_PLANTED`, at most
#: :data:`MAX_PLANTED`, and never more than a quarter of the samples).
PLANT_SHARE = 0.05
MIN_PLANTED = 20
MAX_PLANTED = 2000
#: Planted recall at the low cuts that estimate the number of real errors.
ANCHORS = (0.1, 0.2, 0.3)
#: Flips planted in all, over repeated draws with other seeds (at most :data:`MAX_REPEATS`), and the
#: estimates averaged: on a 120-image dataset one draw of 20 flips put 2 of them below the lowest cut.
TARGET_PLANTED = 400
MAX_REPEATS = 10

Kind = Literal["uniform", "confusable"]


def plant_flips(labels: np.ndarray, pred_probs: np.ndarray, kind: Kind, *,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray] | None:
    """``(planted rows, labels with those rows flipped)``; ``None`` when too few samples to plant.

    Example:
        >>> probs = np.tile([[0.7, 0.2, 0.1]], (100, 1))
        >>> rows, flipped = plant_flips(np.zeros(100, int), probs, "confusable")
        >>> len(rows), bool((flipped[rows] != 0).all()), int((flipped != 0).sum())
        (20, True, 20)
    """
    n, k = pred_probs.shape
    m = min(max(MIN_PLANTED, round(PLANT_SHARE * n)), MAX_PLANTED, n // 4)
    if m < MIN_PLANTED or k < 2:
        return None
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, size=m, replace=False))
    flipped = labels.copy()
    for i in rows:
        p = np.ones(k) if kind == "uniform" else pred_probs[i].astype(np.float64).copy()
        p[labels[i]] = 0.0
        if p.sum() <= 0:
            p = np.ones(k)
            p[labels[i]] = 0.0
        flipped[i] = rng.choice(k, p=p / p.sum())
    return rows, flipped


def estimated_errors(scores: np.ndarray, planted_scores: np.ndarray) -> float:
    """Real errors among ``scores`` (low = likely wrong), from the planted flips' scores in a copy.

    Example:
        >>> clean, errors = np.linspace(0.5, 1.0, 900), np.linspace(0.0, 0.1, 100)  # 100 real errors
        >>> round(estimated_errors(np.r_[clean, errors], np.linspace(0.0, 0.1, 200)))
        98
    """
    ordered = np.sort(planted_scores)
    estimates = []
    for share in ANCHORS:
        cut = ordered[min(len(ordered) - 1, int(share * len(ordered)))]
        recall = float((planted_scores <= cut).mean())
        estimates.append(float((scores <= cut).sum()) / recall)
    return float(np.median(estimates))


def planted_precision(tiers: dict[str, np.ndarray], scores: np.ndarray, caught: dict[str, np.ndarray],
                    planted: np.ndarray, planted_scores: np.ndarray) -> dict[str, float | None]:
    """Each tier's share of real errors estimated from one kind of planted flips.

    ``tiers``: each tier's rows in the real data; ``scores``: the real ranking's scores;
    ``caught``: per tier, a mask over all rows of the planted copy saying who the tier would hold;
    ``planted``: the planted rows; ``planted_scores``: the planted copy's scores.
    """
    errors = estimated_errors(scores, planted_scores[planted])
    out: dict[str, float | None] = {}
    for name, rows in tiers.items():
        if not len(rows):
            out[name] = None
            continue
        recall = float(caught[name][planted].mean())
        out[name] = round(min(1.0, recall * errors / len(rows)), 4)
    return out


def precision_range(estimates: Sequence[dict[str, float | None]]) -> dict[str, tuple[float, float]]:
    """The smallest and largest estimate per tier, over every kind (tiers no kind estimates are left out).

    Example:
        >>> precision_range([{"a": 0.3, "b": None}, {"a": 0.7, "b": None}, {"a": 0.5}])
        {'a': (0.3, 0.7)}
    """
    out = {}
    for name in sorted({name for e in estimates for name in e}):
        values = [e[name] for e in estimates if e.get(name) is not None]
        if values:
            out[name] = (min(values), max(values))
    return out


def error_probabilities(labels: np.ndarray, pred_probs: np.ndarray) -> np.ndarray:
    """Estimated probability that each given label is wrong, without ground truth.

    Bayes with cleanlab's estimated noise matrix ``T[i, j] = P(given i | true j)`` (from the
    calibrated confident joint) as the likelihood and the out-of-fold probabilities as the prior
    over the true class: ``P(true = given | x, given i) = T[i, i] p_i / sum_j T[i, j] p_j``.
    cleanlab's noise matrix counts the classifier's confident mistakes as noise, so with a weak
    classifier these run high (at ~75% out-of-fold accuracy a tier estimated at 76% held 33-51%
    real errors; ``benchmarks/bench_review_queue.py``).

    Example:
        >>> probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.2, 0.8], [0.95, 0.05], [0.1, 0.9]])
        >>> error_probabilities(np.array([0, 0, 1, 1, 1, 1]), probs).round(2).tolist()
        [0.0, 0.0, 0.04, 0.08, 0.86, 0.04]
    """
    import cleanlab

    cj = cleanlab.count.compute_confident_joint(labels, pred_probs, calibrate=True)
    _, noise_matrix, _ = cleanlab.count.estimate_latent(cj, labels)
    weighted = noise_matrix[labels] * pred_probs  # [N, K]: P(given | true j) P(true j | x)
    rows = np.arange(len(labels))
    total = weighted.sum(axis=1)
    right = np.divide(weighted[rows, labels], total, out=np.ones(len(labels)), where=total > 0)
    return np.clip(1.0 - right, 0.0, 1.0)


#: How the tiers' expected precision is estimated (shown in the report and the JSON).
PRECISION_METHOD = ("the smallest to the largest of three estimates, none using ground truth: (1) the mean "
                    "probability that the label is wrong, by Bayes with cleanlab's noise matrix and the out-of-fold "
                    "probabilities (the classifier's own confident mistakes count as errors, so with a weak "
                    "classifier it runs high); (2, 3) 5% of the labels flipped in memory, at random or to classes "
                    "the model finds likely, then flagged and ranked again: the share of them the tier catches, "
                    "times the number of real errors that implies, over the tier's size. On the benchmarks the "
                    "measured share fell inside the range in 22 of 27 tiers, the rest within 2.3 points")


def tier_precision(name: str, members: np.ndarray, p_error: np.ndarray,
                   planted: tuple[float, float] | None) -> TierPrecision:
    """A tier's size, its noise-matrix estimate and the range over that and ``planted`` (low, high)."""
    expected = float(p_error[members].sum()) if len(members) else 0.0
    bayes = round(expected / len(members), 4) if len(members) else None
    low = high = None
    if bayes is not None:
        low, high = (bayes, bayes) if planted is None else (min(bayes, planted[0]), max(bayes, planted[1]))
    return TierPrecision(tier=name, n=int(len(members)), expected_errors=round(expected, 2),
                         expected_precision=bayes, precision_low=low, precision_high=high)


def planted_estimates(y: np.ndarray, probs: np.ndarray, score: Callable[[np.ndarray], np.ndarray],
                      filter_by: str, tiers: dict[str, np.ndarray], review_scores: np.ndarray,
                      queue_cut: float) -> dict[str, tuple[float, float]]:
    """Each tier's range of precision estimates from labels flipped in memory, flagged by cleanlab and
    ranked again by ``score`` (labels -> review scores, with the same probabilities and votes)."""
    import cleanlab

    found = []
    for kind in ("uniform", "confusable"):
        draws = []
        for seed in range(MAX_REPEATS):
            planted = plant_flips(y, probs, kind, seed=seed)
            if planted is None:
                break
            rows, flipped = planted
            try:
                mask = cleanlab.filter.find_label_issues(flipped, probs, filter_by=filter_by)
            except Exception as exc:  # noqa: BLE001 - no estimate is better than no audit
                log.info("label precision: planted copy not flagged (%s)", exc)
                break
            scores = score(flipped)
            queued = scores <= queue_cut
            caught = {"likely_errors": mask, "review_queue": queued, "rest": ~(mask | queued)}
            draws.append(planted_precision(tiers, review_scores, caught, rows, scores))
            if len(rows) * len(draws) >= TARGET_PLANTED:
                break
        if draws:
            found.append(_mean_estimates(draws))
    return precision_range(found)


def _mean_estimates(draws: Sequence[dict[str, float | None]]) -> dict[str, float | None]:
    """Per tier, the mean over the draws that estimate it."""
    out: dict[str, float | None] = {}
    for name in draws[0]:
        values = [d[name] for d in draws if d.get(name) is not None]
        out[name] = round(float(np.mean(values)), 4) if values else None
    return out
