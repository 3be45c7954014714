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


def duplicate_edges(hashes: Sequence[str | None], graph: NeighborGraph | None, embedded_rows: np.ndarray | None,
                    threshold: float) -> list[tuple[int, int, float]]:
    """All linking edges ``(row_a, row_b, distance)``: exact pairs at 0 and near pairs within ``threshold``.

    ``embedded_rows`` maps graph rows to table rows (some files have no embedding).
    """
    edges = [(a, b, 0.0) for a, b in exact_pairs(hashes)]
    if graph is not None and embedded_rows is not None:
        i, j, d = graph.pairs_within(threshold)
        for a, b, dist in zip(embedded_rows[i].tolist(), embedded_rows[j].tolist(), d.tolist()):
            if hashes[a] is None or hashes[a] != hashes[b]:
                edges.append((a, b, float(dist)))
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
    edges = duplicate_edges(a.hashes, graph, a.embedded_rows, threshold)
    cols = (a.sample_ids, a.filepaths, a.splits, a.labels)
    dups = find_duplicates(*cols, a.hashes, edges, threshold=threshold)
    return dups, find_leaks(*cols, a.hashes, edges, dups)
