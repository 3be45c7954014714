"""The label-error review queue: budget, order, tiers and the neighbour-vote ensemble."""

import numpy as np
import pytest

import workbench.checks.label_issues as li
from workbench.checks.label_issues import find_label_issues, label_issues_from_features


def _noisy(n_per=80, k=4, dim=8, seed=0, n_flips=24):
    """Overlapping clusters (so the classifier is unsure of some) with ``n_flips`` flipped labels."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 2.2, (k, dim))
    x = np.concatenate([centers[c] + rng.normal(0, 1, (n_per, dim)) for c in range(k)]).astype(np.float32)
    truth = np.repeat(np.arange(k), n_per)
    given = truth.copy()
    flips = rng.choice(len(truth), n_flips, replace=False)
    given[flips] = (truth[flips] + rng.integers(1, k, n_flips)) % k
    names = [f"c{c}" for c in range(k)]
    return x, truth, given, names


def _result(review_budget=None, **kw):
    x, _, given, names = _noisy()
    ids = [f"s{i}" for i in range(len(given))]
    return label_issues_from_features(ids, ids, [None] * len(ids), [names[g] for g in given], x,
                                      review_budget=review_budget, **kw)


def test_queue_respects_the_budget_and_is_ordered_by_the_score():
    r = _result(review_budget=15)
    assert r.review_budget == 15 and r.review_budget_source == "--review-budget"
    assert len(r.review_queue) == 15
    scores = [i.review_score for i in r.review_queue]
    assert scores == sorted(scores)
    assert [i.review_rank for i in r.review_queue] == list(range(1, 16))
    # Nothing outside the queue scores below its last entry.
    by_id = {i.sample_id: i for i in r.issues}
    outside = [i.review_score for sid, i in by_id.items() if i.sample_id not in {q.sample_id for q in r.review_queue}]
    assert all(s >= scores[-1] for s in outside)


def test_queue_holds_the_flagged_sets_highest_ranked_items():
    r = _result(review_budget=10)
    assert r.issues, "the fixture must flag something"
    queued = {i.sample_id for i in r.review_queue}
    top_flagged = min(r.issues, key=lambda i: i.review_rank)
    assert top_flagged.sample_id in queued
    assert {i.sample_id for i in r.issues if i.review_rank <= 10} <= queued
    flags = {i.sample_id: i.likely_error for i in r.review_queue}
    assert all(flags[i.sample_id] for i in r.issues if i.sample_id in queued)
    assert all(i.likely_error for i in r.issues)


def test_default_budget_follows_cleanlabs_estimate(monkeypatch):
    import cleanlab

    r = _result()
    assert r.review_budget == r.estimated_n_issues > 0
    assert len(r.review_queue) == r.review_budget and "estimate" in r.review_budget_source
    monkeypatch.setattr(li, "default_review_budget", lambda labels, probs: 7)
    r7 = _result()
    assert r7.review_budget == 7 and len(r7.review_queue) == 7
    # The estimate is cleanlab's calibrated count.
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.2, 0.8], [0.95, 0.05], [0.1, 0.9], [0.6, 0.4]])
    y = np.array([0, 0, 1, 1, 1, 1, 1])
    monkeypatch.undo()
    assert li.default_review_budget(y, probs) == cleanlab.count.num_label_issues(
        y, probs, estimation_method="off_diagonal_calibrated")


@pytest.mark.parametrize("budget", [0, -3])
def test_nonsense_budget_is_refused(budget):
    with pytest.raises(ValueError, match="at least 1"):
        _result(review_budget=budget)


def test_budget_beyond_the_samples_queues_everything():
    r = _result(review_budget=10_000)
    assert len(r.review_queue) == len(r.sample_ids)
    assert r.tier("rest").n == 0 and r.tier("rest").expected_precision is None


def test_tiers_state_expected_precision():
    r = _result(review_budget=30)
    names = [t.tier for t in r.tiers]
    assert names == ["likely_errors", "review_queue", "rest"]
    flagged, queue, rest = r.tiers
    assert flagged.n == len(r.issues) and queue.n == 30
    assert rest.n == len(r.sample_ids) - len({i.sample_id for i in r.issues} | {i.sample_id for i in r.review_queue})
    assert 0 <= rest.expected_precision < queue.expected_precision <= 1
    assert flagged.expected_precision == pytest.approx(
        np.mean([i.error_probability for i in r.issues]), abs=1e-3)
    assert "noise matrix" in r.precision_method and "flipped in memory" in r.precision_method
    for t in (flagged, queue):
        assert 0 <= t.precision_low <= t.expected_precision <= t.precision_high <= 1


def test_the_precision_range_brackets_the_planted_errors_and_drops_on_clean_labels():
    """The noise-matrix estimate alone counts the classifier's mistakes as errors: on labels with no
    error at all it still claimed a large share of the flagged set. The estimates from errors planted
    in memory fall towards zero there, and on flipped labels the measured share lies inside the range."""
    x, truth, given, names = _noisy(n_per=150, n_flips=60)
    ids = [f"s{i}" for i in range(len(given))]
    noisy = label_issues_from_features(ids, ids, [None] * len(ids), [names[g] for g in given], x)
    wrong = {f"s{i}" for i in np.flatnonzero(given != truth)}
    queue = noisy.tier("review_queue")
    measured = sum(i.sample_id in wrong for i in noisy.review_queue) / queue.n
    assert queue.precision_low - 0.05 <= measured <= queue.precision_high + 0.05, (queue, measured)
    clean = label_issues_from_features(ids, ids, [None] * len(ids), [names[g] for g in truth], x)
    for t in clean.tiers[:2]:
        if t.n:
            assert t.precision_low < 0.2 and t.precision_low < t.expected_precision / 2, t


def test_planted_flips_estimate_the_real_errors_below_the_cuts():
    from workbench.checks.label_precision import estimated_errors, plant_flips

    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=400)
    labels = probs.argmax(1)
    rows, flipped = plant_flips(labels, probs, "uniform", seed=3)
    assert len(rows) == 20 and (flipped[rows] != labels[rows]).all() and (np.delete(flipped, rows) ==
                                                                          np.delete(labels, rows)).all()
    assert plant_flips(labels[:60], probs[:60], "uniform") is None  # too few to plant 20
    # 30 real errors score like the planted ones (0-0.2); the clean samples above 0.3.
    scores = np.r_[rng.uniform(0.3, 1.0, 370), rng.uniform(0.0, 0.2, 30)]
    assert estimated_errors(scores, rng.uniform(0.0, 0.2, 100)) == pytest.approx(30, rel=0.35)


def test_neighbor_votes_move_a_sample_up_the_ensemble_ranking():
    probs = np.array([[0.7, 0.3]] * 4 + [[0.6, 0.4]])
    y = np.zeros(5, dtype=np.int64)
    votes = np.array([[1.0, 0.0]] * 4 + [[np.nan, np.nan]])
    votes[1] = [0.0, 1.0]  # sample 1: classifier fairly sure of its label, every neighbour disagrees
    sc = li.label_quality(y, probs, ranking="self_confidence")
    ens = li.label_quality(y, probs, ranking="neighbor_ensemble", neighbor_probs=votes)
    assert np.argmin(sc) == 4 and np.argmin(ens) == 1
    assert ens[4] == pytest.approx(sc[4])  # no votes: the classifier's score
    margin = li.label_quality(y, probs, ranking="normalized_margin")
    assert margin[4] == pytest.approx((0.6 - 0.4 + 1) / 2)
    with pytest.raises(ValueError, match="unknown ranking"):
        li.label_quality(y, probs, ranking="loudest")


def test_ensemble_without_a_graph_ranks_by_self_confidence():
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.2, 0.8], [0.95, 0.05], [0.1, 0.9]])
    kw = dict(method="m", review_budget=3)
    args = (list("abcdef"), list("abcdef"), [None] * 6, ["x", "x", "y", "y", "y", "y"], probs, ["x", "y"])
    plain = find_label_issues(*args, **kw)
    assert plain.review_ranking == "self_confidence"
    voted = find_label_issues(*args, **kw, neighbor_labels=[["y", "y"], ["x"], ["y"], ["y"], ["y"], ["y"]])
    assert voted.review_ranking == "neighbor_ensemble"
    # 'a': the classifier agrees with its label but both neighbours say y (0.45); 'e' the reverse (0.525).
    assert [i.sample_id for i in voted.review_queue][:2] == ["a", "e"]
    assert [i.sample_id for i in plain.review_queue][0] == "e"


def test_planted_flips_fill_the_top_of_the_queue():
    x, truth, given, names = _noisy()
    ids = [f"s{i}" for i in range(len(given))]
    r = label_issues_from_features(ids, ids, [None] * len(ids), [names[g] for g in given], x, review_budget=20)
    wrong = {ids[i] for i in np.flatnonzero(given != truth)}
    hits = sum(i.sample_id in wrong for i in r.review_queue)
    assert hits >= 14, hits


def _inputs(with_graph: bool):
    import types

    from workbench.checks.neighbors import knn_graph
    from workbench.checks.registry import CheckInputs, SampleColumns

    x, _, given, names = _noisy()
    n = len(given)
    labels = [names[g] for g in given]
    labels[3] = None  # unlabelled: not assessed, not a voter
    ids = tuple(f"s{i}" for i in range(n))
    cols = SampleColumns(ids, tuple(f"/d/{i}.png" for i in range(n)), ("train",) * n, tuple(labels),
                         tuple((lab,) if lab else () for lab in labels), (None,) * n)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    return CheckInputs(task="classification", columns=cols, facts=(), metadata={},
                       embeddings=types.SimpleNamespace(vectors=unit, ids=ids), embedded_rows=np.arange(n),
                       graph=knn_graph(unit, k=8, method="exact") if with_graph else None)


def test_the_audit_passes_the_budget_and_the_graphs_votes():
    from workbench.checks.registry import get_check
    from workbench.config import AuditConfig

    run = get_check("label_issues").run
    r = run(_inputs(with_graph=True), AuditConfig(review_budget=12), None)
    assert r.review_ranking == "neighbor_ensemble" and r.review_budget == 12 and len(r.review_queue) == 12
    assert all(i.neighbors is not None for i in r.review_queue + r.issues)  # votes annotated on both lists
    assert "s3" not in {i.sample_id for i in r.review_queue} and "s3" in r.not_assessed
    default = run(_inputs(with_graph=False), AuditConfig(), None)
    assert default.review_ranking == "self_confidence" and default.review_budget == default.estimated_n_issues
