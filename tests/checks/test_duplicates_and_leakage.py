from workbench.checks.duplicates import exact_pairs, find_duplicates
from workbench.checks.leakage import find_leaks

IDS = ["a", "b", "c", "d", "e"]
PATHS = [f"/d/{i}.png" for i in IDS]
SPLITS = ["train", "train", "test", "train", "test"]
LABELS = ["cat", "cat", "dog", "dog", "dog"]
HASHES = ["h1", "h1", "h1", "h2", "h3"]


def test_exact_pairs_star():
    assert exact_pairs(["x", None, "x", "y", "x", None]) == [(0, 2), (0, 4)]


def _dups(edges, threshold=0.1):
    return find_duplicates(IDS, PATHS, SPLITS, LABELS, HASHES, edges, threshold=threshold)


def test_clusters_kinds_and_conflicts():
    edges = [(0, 1, 0.0), (0, 2, 0.0), (3, 4, 0.03)]
    r = _dups(edges)
    assert [(c.kind, c.sample_ids) for c in r.clusters] == [("exact", ("a", "b", "c")), ("near", ("d", "e"))]
    assert r.clusters[0].label_conflict and r.clusters[0].spans_splits
    assert r.clusters[1].max_distance == 0.03 and not r.clusters[1].label_conflict
    assert r.n_redundant == 3 and r.n_exact_pairs == 2 and r.n_near_pairs == 1
    frame = r.to_frame()
    assert frame["is_duplicate_issue"].all() and set(frame["sample_id"]) == set(IDS)


def test_leaks_cross_splits_only_train_first():
    edges = [(0, 1, 0.0), (0, 2, 0.0), (3, 4, 0.03)]
    leaks = find_leaks(IDS, PATHS, SPLITS, LABELS, HASHES, edges, _dups(edges))
    got = {(p.sample_id_a, p.sample_id_b, p.kind, p.label_conflict) for p in leaks.pairs}
    # a-c and b-c are exact copies across train/test (b-c linked through the exact group); d-e is near.
    assert got == {("a", "c", "exact", True), ("b", "c", "exact", True), ("d", "e", "near", False)}
    assert all(p.split_a == "train" and p.split_b == "test" for p in leaks.pairs)
    assert leaks.n_label_conflicts == 2
    assert max(p.distance for p in leaks.pairs) <= 0.1


def test_no_leak_within_one_split():
    splits = ["train"] * 5
    edges = [(0, 1, 0.0), (3, 4, 0.02)]
    dups = find_duplicates(IDS, PATHS, splits, LABELS, HASHES, edges, threshold=0.1)
    assert find_leaks(IDS, PATHS, splits, LABELS, HASHES, edges, dups).pairs == ()
