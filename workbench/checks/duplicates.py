"""Exact (content hash) and near (embedding cosine distance) duplicates, grouped into clusters."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Sequence

import numpy as np

from workbench.checks.neighbors import NeighborGraph
from workbench.results import DuplicateCluster, DuplicatesResult


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        self.parent.setdefault(x, x)
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def exact_pairs(hashes: Sequence[str | None]) -> list[tuple[int, int]]:
    """Pairs ``(first, other)`` of rows with identical content hashes (a star per group)."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, h in enumerate(hashes):
        if h:
            groups[h].append(i)
    return [(g[0], j) for g in groups.values() if len(g) > 1 for j in g[1:]]


def perceptual_pairs(phashes: Sequence[str | None], max_distance: int = 2, *,
                     max_bucket: int = 5000) -> list[tuple[int, int, int]]:
    """Pairs ``(i, j, hamming)`` of 64-bit perceptual hashes at most ``max_distance`` bits apart.

    Multi-index hashing: split the hash into ``max_distance + 1`` bit ranges; two hashes within
    ``max_distance`` bits agree exactly on at least one range, so only rows sharing a range are
    compared. Identical hashes are linked as a star (not every pair). Buckets larger than
    ``max_bucket`` (e.g. thousands of blank frames) are compared through their identical-hash
    stars only.

    Example:
        >>> perceptual_pairs(["ffff000000000000", "ffff000000000001", "0123456789abcdef", None])
        [(0, 1, 1)]
    """
    rows = [i for i, h in enumerate(phashes) if h]
    if not rows:
        return []
    values = np.array([int(phashes[i], 16) for i in rows], dtype=np.uint64)
    pairs: dict[tuple[int, int], int] = {}
    for group in _groups(values).values():  # identical hashes: a star per group
        for j in group[1:]:
            pairs[(rows[group[0]], rows[j])] = 0
    uniq, first = np.unique(values, return_index=True)
    n_parts = max_distance + 1
    edges = np.linspace(0, 64, n_parts + 1).astype(int)
    for lo, hi in zip(edges[:-1], edges[1:]):
        key = (uniq >> np.uint64(lo)) & np.uint64((1 << (hi - lo)) - 1)
        for members in _groups(key).values():
            if len(members) < 2 or len(members) > max_bucket:
                continue
            m = np.array(members)
            x = uniq[m][:, None] ^ uniq[m][None, :]
            dist = np.unpackbits(x.view(np.uint8).reshape(len(m), len(m), 8), axis=2).sum(axis=2)
            a, b = np.nonzero(np.triu(dist <= max_distance, k=1))
            for u, v in zip(a.tolist(), b.tolist()):
                i, j = sorted((rows[first[m[u]]], rows[first[m[v]]]))
                pairs[(i, j)] = int(dist[u, v])
    return sorted((i, j, d) for (i, j), d in pairs.items())


def _groups(values: np.ndarray) -> dict[int, list[int]]:
    out: dict[int, list[int]] = defaultdict(list)
    for i, v in enumerate(values.tolist()):
        out[v].append(i)
    return out


def duplicate_edges(hashes: Sequence[str | None], graph: NeighborGraph | None, embedded_rows: np.ndarray | None,
                    threshold: float, *, phashes: Sequence[str | None] | None = None,
                    phash_max_distance: int = 2) -> list[tuple[int, int, float]]:
    """All linking edges ``(row_a, row_b, distance)``, in three tiers.

    1. exact: identical content hashes, distance 0;
    2. embedding: pairs of the k-NN graph within ``threshold`` (cosine distance);
       ``embedded_rows`` maps graph rows to table rows;
    3. perceptual hash, for pairs where either image has no embedding (no model, or the
       model failed on it): hashes at most ``phash_max_distance`` bits apart, distance
       reported as Hamming bits / 64.
    """
    edges = [(a, b, 0.0) for a, b in exact_pairs(hashes)]
    embedded = np.zeros(len(hashes), dtype=bool)
    if graph is not None and embedded_rows is not None:
        embedded[embedded_rows] = True
        i, j, d = graph.pairs_within(threshold)
        for a, b, dist in zip(embedded_rows[i].tolist(), embedded_rows[j].tolist(), d.tolist()):
            if hashes[a] is None or hashes[a] != hashes[b]:
                edges.append((a, b, float(dist)))
    if phashes is not None and not embedded.all():
        for a, b, bits in perceptual_pairs(phashes, phash_max_distance):
            if not (embedded[a] and embedded[b]) and (hashes[a] is None or hashes[a] != hashes[b]):
                edges.append((a, b, bits / 64.0))
    return edges


def find_duplicates(ids: Sequence[str], filepaths: Sequence[str], splits: Sequence[str | None],
                    labels: Sequence[str | None], hashes: Sequence[str | None],
                    edges: Sequence[tuple[int, int, float]], *, threshold: float) -> DuplicatesResult:
    """Cluster rows linked by ``edges`` (see :func:`duplicate_edges`).

    A cluster is ``exact`` when all members share one content hash, else ``near``.

    Example:
        >>> r = find_duplicates(["a", "b", "c"], ["/a", "/b", "/c"], ["train"] * 3, ["x", "x", "y"],
        ...                     ["h1", "h1", "h2"], [(0, 1, 0.0)], threshold=0.05)
        >>> [(c.kind, c.sample_ids) for c in r.clusters]
        [('exact', ('a', 'b'))]
    """
    uf = _UnionFind()
    link_max: dict[int, float] = defaultdict(float)
    n_exact = n_near = 0
    for a, b, d in edges:
        uf.union(a, b)
        if d == 0.0 and hashes[a] is not None and hashes[a] == hashes[b]:
            n_exact += 1
        else:
            n_near += 1
    members: dict[int, list[int]] = defaultdict(list)
    for node in list(uf.parent):
        members[uf.find(node)].append(node)
    for a, b, d in edges:
        root = uf.find(a)
        link_max[root] = max(link_max[root], d)
    clusters = []
    for root, rows in members.items():
        rows.sort()
        kind = "exact" if len({hashes[r] for r in rows}) == 1 else "near"
        clusters.append((rows, kind, link_max[root]))
    clusters.sort(key=lambda c: (-len(c[0]), c[0][0]))
    out = tuple(
        DuplicateCluster(cluster_id=n, kind=kind, sample_ids=tuple(ids[r] for r in rows),
                         filepaths=tuple(filepaths[r] for r in rows), splits=tuple(splits[r] for r in rows),
                         labels=tuple(labels[r] for r in rows), max_distance=round(float(dmax), 6))
        for n, (rows, kind, dmax) in enumerate(clusters))
    return DuplicatesResult(near_threshold=threshold, clusters=out, n_exact_pairs=n_exact, n_near_pairs=n_near)


def refilter(artifacts: Any, threshold: float) -> tuple[DuplicatesResult, Any]:
    """Duplicates and leaks at another near-duplicate ``threshold``, from an audit's cached k-NN graph.

    Nothing is re-embedded or re-searched: pairs farther than the graph's ``k`` neighbours
    stay unseen, exactly as in the audit itself. Returns ``(DuplicatesResult, LeakageResult)``.

    Example:
        >>> dups, leaks = refilter(result.artifacts, 0.03)  # doctest: +SKIP
    """
    from workbench.checks.leakage import find_leaks
    from workbench.checks.neighbors import NeighborGraph

    a = artifacts
    graph = None if a.neighbor_indices is None else NeighborGraph(a.neighbor_indices, a.neighbor_distances)
    edges = duplicate_edges(a.hashes, graph, a.embedded_rows, threshold, phashes=a.phashes)
    cols = (a.sample_ids, a.filepaths, a.splits, a.labels)
    dups = find_duplicates(*cols, a.hashes, edges, threshold=threshold)
    return dups, find_leaks(*cols, a.hashes, edges, dups)
