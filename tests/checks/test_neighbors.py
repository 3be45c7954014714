import numpy as np

from workbench.checks.neighbors import knn_graph


def _unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_matches_brute_force_across_blocks():
    x = _unit(np.random.default_rng(0).normal(size=(301, 16)))
    g = knn_graph(x, k=5, block_rows=64)
    d = 1 - x @ x.T
    np.fill_diagonal(d, np.inf)
    expect = np.sort(d, axis=1)[:, :5]
    np.testing.assert_allclose(g.distances, expect, atol=1e-5)
    assert not (g.indices == np.arange(301)[:, None]).any()  # no self neighbours


def test_pairs_within_are_unique_and_bounded():
    x = _unit(np.array([[1, 0], [0.999, 0.04], [0, 1], [0.03, 0.999]]))
    g = knn_graph(x, k=3)
    i, j, d = g.pairs_within(0.01)
    assert sorted(zip(i.tolist(), j.tolist())) == [(0, 1), (2, 3)]
    assert (d <= 0.01).all()


def test_tiny_inputs():
    assert knn_graph(np.ones((1, 3), np.float32), k=5).k == 0
