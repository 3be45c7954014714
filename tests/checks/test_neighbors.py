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


from workbench.checks.neighbors import update_knn_graph  # noqa: E402


def _clustered(n, d=32, seed=0):
    """Clustered unit vectors with some near-identical pairs (rows 2i+1 copy rows 2i for i < 20)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(2, n // 50), d))
    x = centres[rng.integers(0, len(centres), n)] + rng.normal(scale=0.6, size=(n, d))
    for i in range(20):
        x[2 * i + 1] = x[2 * i] + rng.normal(scale=0.02, size=d)
    return _unit(x)


def test_ivf_engine_finds_near_pairs_and_reports_exact_distances():
    x = _clustered(4000)
    exact = knn_graph(x, k=10, method="exact")
    ivf = knn_graph(x, k=10, method="ivf")
    assert ivf.method == "ivf" and exact.method == "exact"
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact.indices, ivf.indices)])
    assert overlap > 0.95
    i, j, d = ivf.pairs_within(0.01)
    assert {(2 * p, 2 * p + 1) for p in range(20)} <= set(zip(i.tolist(), j.tolist()))
    true = 1.0 - np.einsum("id,id->i", x[i].astype(np.float64), x[j].astype(np.float64))
    np.testing.assert_allclose(d, true, atol=1e-5)  # re-checked: no quantisation error survives


def test_auto_picks_ivf_only_for_large_inputs(monkeypatch):
    import workbench.checks.neighbors as nb

    x = _clustered(300)
    assert knn_graph(x, k=3).method == "exact"
    monkeypatch.setattr(nb, "EXACT_MAX_ROWS", 100)
    assert knn_graph(x, k=3).method == "ivf"


def test_update_with_new_rows_equals_a_rebuild():
    x = _clustered(1200, seed=3)
    old = knn_graph(x[:1150], k=6, method="exact")
    graph, stats = update_knn_graph(old, np.arange(1150), x, max_share=0.5)
    full = knn_graph(x, k=6, method="exact")
    assert stats == {"reused": 1150, "new": 50, "recomputed": 0, "rebuilt": 0}
    np.testing.assert_allclose(graph.distances, full.distances, atol=1e-6)
    assert (graph.indices == full.indices).mean() > 0.999  # ties may swap places


def test_update_handles_removed_changed_and_reordered_rows():
    x = _clustered(900, seed=4)
    old = knn_graph(x[:800], k=5, method="exact")
    # Current rows: earlier rows 100..799 in reverse order, then 100 new ones; rows 0..99 are gone.
    current = np.concatenate([x[100:800][::-1], x[800:]])
    mapping = np.full(800, -1)
    mapping[100:800] = np.arange(699, -1, -1)
    graph, stats = update_knn_graph(old, mapping, current, max_share=0.9)
    full = knn_graph(current, k=5, method="exact")
    assert stats["new"] == 100 and stats["recomputed"] > 0 and stats["rebuilt"] == 0
    np.testing.assert_allclose(graph.distances, full.distances, atol=1e-6)


def test_update_rebuilds_when_most_rows_are_new():
    x = _clustered(400, seed=5)
    graph, stats = update_knn_graph(knn_graph(x[:100], k=4), np.arange(100), x)
    assert stats["rebuilt"] == 1
    np.testing.assert_allclose(graph.distances, knn_graph(x, k=4).distances, atol=1e-6)


def test_ivf_lists_larger_than_one_chunk_are_merged(monkeypatch):
    """A list bigger than the gather chunk is scored chunk by chunk and the chunks' best merged."""
    import workbench.checks.neighbors as nb

    x = _clustered(3000, seed=6)
    whole = knn_graph(x, k=8, method="ivf")
    monkeypatch.setattr(nb, "_LIST_CHUNK", 37)
    chunked = knn_graph(x, k=8, method="ivf")
    np.testing.assert_allclose(chunked.distances, whole.distances, atol=1e-6)
    assert (chunked.indices == whole.indices).mean() > 0.999


def test_ivf_pads_rows_whose_visited_lists_hold_too_few_rows():
    # Two far-apart groups of 20 rows, one list visited per row, k larger than a group.
    rng = np.random.default_rng(7)
    base = np.zeros((40, 8))
    base[:20, 0], base[20:, 1] = 1.0, 1.0
    x = _unit(base + rng.normal(scale=0.05, size=base.shape))
    g = knn_graph(x, k=30, method="ivf", nprobe=1)
    group = np.arange(40) // 20
    found = g.indices >= 0
    assert g.indices.shape == (40, 30) and found.sum(axis=1).max() <= 19
    assert np.isinf(g.distances[~found]).all() and np.isfinite(g.distances[found]).all()
    assert (group[g.indices[found]] == np.repeat(group, found.sum(axis=1))).all()
    i, j, _ = g.pairs_within(2.0)
    assert len(i) > 0 and (group[i] == group[j]).all()


def test_ties_at_the_kth_place_resolve_by_row_number_in_every_path():
    """Exact copies tie; whichever path built a list, the lower row number wins the last place."""
    rng = np.random.default_rng(8)
    x = _unit(rng.normal(size=(60, 16)))
    x[41] = x[7]  # rows 7 and 41 are copies: any row sees them at the same distance
    q = 3
    d = 1 - x @ x[q]
    d[q] = np.inf
    k = 1 + int(np.flatnonzero(np.isin(np.argsort(d), [7, 41]))[0])  # the tied pair shares the last place
    for graph in (knn_graph(x, k, method="exact", block_rows=7), knn_graph(x, k, method="ivf", nprobe=64)):
        assert graph.indices[q, -1] == 7 and 41 not in graph.indices[q]
    old = knn_graph(np.delete(x, 41, axis=0), k, method="exact")
    mapping = np.r_[np.arange(41), np.arange(42, 60)]
    updated, _ = update_knn_graph(old, mapping, x, k=k, max_share=1.0)
    assert updated.indices[q, -1] == 7 and 41 not in updated.indices[q]
