import numpy as np
import pytest

from workbench.checks.label_issues import label_issues_from_features


def _clusters(n_per=60, k=3, dim=8, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 4, (k, dim))
    x = np.concatenate([centers[c] + rng.normal(0, 1, (n_per, dim)) for c in range(k)])
    y = np.repeat(np.arange(k), n_per)
    return x.astype(np.float32), y


def test_flipped_labels_are_found_with_suggestions():
    x, y = _clusters()
    names = np.array(["ant", "bee", "cow"])
    labels = list(names[y])
    flipped = [3, 70, 130, 150]
    for i in flipped:
        labels[i] = names[(y[i] + 1) % 3]
    ids = [f"s{i}" for i in range(len(labels))]
    r = label_issues_from_features(ids, [f"/p/{i}" for i in ids], ["train"] * len(ids), labels, x, n_folds=5)
    found = {i.sample_id for i in r.issues}
    assert {f"s{i}" for i in flipped} <= found
    assert len(found) <= len(flipped) + 4  # few false alarms on well-separated data
    by_id = {i.sample_id: i for i in r.issues}
    for i in flipped:
        assert by_id[f"s{i}"].suggested_label == names[y[i]]
    assert r.issues == tuple(sorted(r.issues, key=lambda i: i.score))  # worst first
    assert r.cv_accuracy > 0.9 and r.n_folds == 5
    frame = r.to_frame()
    assert frame.loc[frame.sample_id == "s3", "is_label_issue"].item()


def test_singleton_class_and_unlabelled_not_assessed():
    x, y = _clusters(n_per=20, k=2)
    labels = [str(v) for v in y]
    labels[0] = "lonely"
    labels[1] = None
    r = label_issues_from_features([str(i) for i in range(40)], ["p"] * 40, [None] * 40, labels, x)
    assert set(r.not_assessed) == {"0", "1"} and "fewer than 2" in r.not_assessed_reason
    assert "lonely" not in r.classes


def test_needs_two_classes():
    x, _ = _clusters(n_per=10, k=1)
    with pytest.raises(ValueError, match="two classes"):
        label_issues_from_features([str(i) for i in range(10)], ["p"] * 10, [None] * 10, ["a"] * 10, x)


def test_wide_features_are_projected_on_large_inputs(monkeypatch):
    import workbench.checks.probe as li

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 600)
    x = np.c_[np.eye(3)[y] * 2.0, np.zeros((600, 61))] + rng.normal(size=(600, 64))
    seen = []
    real = li.principal_components
    monkeypatch.setattr(li, "principal_components", lambda f, n, **kw: seen.append(n) or real(f, n, **kw))
    monkeypatch.setattr(li, "PROJECT_ABOVE", 10_000)
    probs, _, acc = li.out_of_fold_probabilities(x, y, max_dim=8)
    assert seen == [8] and probs.shape == (600, 3) and acc > 0.7
    monkeypatch.setattr(li, "PROJECT_ABOVE", 10**9)
    li.out_of_fold_probabilities(x, y, max_dim=8)
    assert seen == [8]  # small input: not projected


def test_neighbor_votes_count_labels_on_the_shared_graph():
    from workbench.checks.label_issues import add_neighbor_votes
    from workbench.checks.neighbors import knn_graph

    x, y = _clusters(n_per=40)
    names = np.array(["ant", "bee", "cow"])
    labels = list(names[y])
    labels[5] = "bee"  # an ant labelled bee
    labels[50] = None  # unlabelled: not assessed, not counted as anyone's neighbour
    ids = [f"s{i}" for i in range(len(labels))]
    r = label_issues_from_features(ids, ids, [None] * len(ids), labels, x)
    unit = x / np.linalg.norm(x, axis=1, keepdims=True)
    graph = knn_graph(unit, k=8, method="exact")
    voted = add_neighbor_votes(r, {sid: i for i, sid in enumerate(ids) if i != 7}, labels, graph.indices)
    by_id = {i.sample_id: i for i in voted.issues}
    flip = by_id["s5"]
    expect = [labels[j] for j in graph.indices[5] if labels[j] is not None]
    assert (flip.neighbors, flip.neighbors_given, flip.neighbors_suggested) == (
        len(expect), expect.count("bee"), expect.count(flip.suggested_label))
    assert flip.suggested_label == "ant" and flip.neighbors_suggested > flip.neighbors_given
    assert [i.sample_id for i in voted.issues] == [i.sample_id for i in r.issues]  # order and set unchanged
    if "s7" in by_id:
        assert by_id["s7"].neighbors is None  # not on the graph: left without votes


def test_one_labelled_class_is_a_skip_with_the_reason_not_a_failure():
    import numpy as np

    from workbench.checks.label_issues import label_issues_from_features
    from workbench.errors import CheckNotApplicable

    ids = [f"s{i}" for i in range(6)]
    with pytest.raises(CheckNotApplicable, match="at least two classes"):
        label_issues_from_features(ids, ids, [None] * 6, ["cat"] * 5 + [None], np.eye(6, dtype=np.float32))
