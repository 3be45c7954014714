"""The pairs that link duplicates: same content, near embeddings confirmed by a second signal, close
perceptual hashes; and the cut of links that would chain different pictures into one cluster."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from workbench.checks.near_rule import NearRule
from workbench.graph import NeighborGraph


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


class Edge(NamedTuple):
    """Two rows linked as duplicates: their distance and the evidence (see :mod:`workbench.checks.near_rule`)."""

    a: int
    b: int
    distance: float
    evidence: str


class EdgeSet(NamedTuple):
    """The linking edges, with the candidates no second signal confirmed, the links split off chains,
    and the pairs whose pixels were compared (``(row, row) -> (inliers, aligned, dense)``)."""

    edges: list[Edge]
    n_rejected: int = 0
    n_split: int = 0
    measured: dict[tuple[int, int], tuple[int | None, float | None, float | None]] | None = None


def _edge(e: Sequence, hashes: Sequence[str | None]) -> Edge:
    """Accept ``(a, b, distance)`` triples too (evidence inferred) as well as :class:`Edge`."""
    if isinstance(e, Edge):
        return e
    a, b, d = e[0], e[1], float(e[2])
    exact = d == 0.0 and hashes[a] is not None and hashes[a] == hashes[b]
    return Edge(a, b, d, e[3] if len(e) > 3 else ("exact" if exact else "embedding"))


def duplicate_edges(hashes: Sequence[str | None], graph: NeighborGraph | None, embedded_rows: np.ndarray | None,
                    rule: NearRule | float, *, phashes: Sequence[str | None] | None = None,
                    phashes_mirror: Sequence[str | None] | None = None, thumbs: Sequence[str | None] | None = None,
                    vectors: np.ndarray | None = None, phash_max_distance: int | None = None,
                    geometry: Callable[[int, int], tuple[int | None, float | None, float | None]] | None = None
                    ) -> EdgeSet:
    """All linking edges, each with its evidence (the rule is :class:`~workbench.checks.near_rule.NearRule`).

    1. exact: identical content hashes, distance 0;
    2. embedding: pairs of the k-NN graph within ``rule.loose``, kept when the rule accepts them
       (within ``rule.strict``, or confirmed by thumbnails, perceptual hashes or, last and only
       when the others leave it undecided, ``geometry(a, b)``: ``(inliers, aligned, dense)`` of table
       rows ``a`` and ``b``, see :mod:`workbench.checks.geometry`); ``embedded_rows`` maps graph rows (and ``vectors`` rows) to
       table rows;
    3. perceptual hash, for every pair, mirrored too: at most ``rule.phash_bits`` bits apart,
       confirmed by the embedding when both images have one; distance reported as the cosine
       distance, or Hamming bits / 64 without embeddings.

    Clusters must not chain different pictures: see :func:`split_chains`. A float ``rule`` is
    one fixed cosine threshold (no thumbnail tier).
    """
    from workbench.checks.near_rule import chroma_agreement, thumb_similarity, thumbnail

    if not isinstance(rule, NearRule):
        rule = NearRule.fixed(float(rule), phash_max_distance if phash_max_distance is not None else 2)
    elif phash_max_distance is not None:
        rule = dataclasses.replace(rule, phash_bits=phash_max_distance)
    edges = [Edge(a, b, 0.0, "exact") for a, b in exact_pairs(hashes)]
    n = len(hashes)
    pos = np.full(n, -1, dtype=np.int64)  # table row -> graph/vector row
    if embedded_rows is not None:
        pos[embedded_rows] = np.arange(len(embedded_rows))
    thumb_cache: dict[int, Any] = {}

    def thumb(r: int):
        if thumbs is None:
            return None
        if r not in thumb_cache:
            thumb_cache[r] = thumbnail(thumbs[r])
        return thumb_cache[r]

    def same_file(a: int, b: int) -> bool:
        return hashes[a] is not None and hashes[a] == hashes[b]

    seen: set[tuple[int, int]] = set()
    rejected = 0
    measured: dict[tuple[int, int], tuple[int | None, float | None, float | None]] = {}

    def judge(a: int, b: int, dist: float | None, bits: int | None, mirrored: bool) -> str | None:
        sim = thumb_similarity(thumb(a), thumb(b)) if dist is not None and dist > rule.strict else None
        hashed = bits is not None and bits <= rule.phash_bits and dist is not None and dist > rule.strict
        chroma = chroma_agreement(thumbs[a], thumbs[b]) if hashed and thumbs is not None else None
        evidence = rule.decide(dist, sim, bits, mirrored, chroma=chroma)
        if evidence is None and geometry is not None and rule.uses_geometry and dist is not None \
                and dist <= rule.loose:
            key = (min(a, b), max(a, b))
            if key not in measured:
                measured[key] = tuple(geometry(key[0], key[1]))
            evidence = rule.decide(dist, sim, bits, mirrored, *measured[key], chroma=chroma)
        return evidence
    if graph is not None and embedded_rows is not None:
        i, j, d = graph.pairs_within(rule.loose)
        for a, b, dist in zip(embedded_rows[i].tolist(), embedded_rows[j].tolist(), d.tolist()):
            if same_file(a, b):
                continue
            key = (min(a, b), max(a, b))
            seen.add(key)
            bits, mirrored = _phash_bits(phashes, phashes_mirror, a, b)
            evidence = judge(a, b, float(dist), bits, mirrored)
            if evidence is None:
                rejected += 1
            else:
                edges.append(Edge(key[0], key[1], float(dist), evidence))
    if phashes is not None:
        for a, b, bits, mirrored in hash_pairs(phashes, phashes_mirror, rule.phash_bits):
            if same_file(a, b) or (a, b) in seen:
                continue
            seen.add((a, b))
            dist = None
            if vectors is not None and pos[a] >= 0 and pos[b] >= 0:
                dist = float(1.0 - np.dot(vectors[pos[a]], vectors[pos[b]]))
            evidence = judge(a, b, dist, bits, mirrored)
            if evidence is None:
                rejected += 1
            else:
                edges.append(Edge(a, b, dist if dist is not None else bits / 64.0, evidence))
    kept, n_split = split_chains(edges, hashes, vectors, pos, rule.loose)
    return EdgeSet(kept, rejected, n_split, measured)


def _phash_bits(phashes, phashes_mirror, a: int, b: int) -> tuple[int | None, bool]:
    """Bits between the two hashes, or between one and the other's mirror when that is fewer."""
    from workbench.checks.near_rule import hamming

    if phashes is None:
        return None, False
    direct = hamming(phashes[a], phashes[b])
    mirrored = hamming(phashes[a], phashes_mirror[b]) if phashes_mirror is not None else None
    if mirrored is not None and (direct is None or mirrored < direct):
        return mirrored, True
    return direct, False


def hash_pairs(phashes: Sequence[str | None], phashes_mirror: Sequence[str | None] | None,
                max_bits: int) -> list[tuple[int, int, int, bool]]:
    """``(a, b, bits, mirrored)`` of rows whose hashes (or one and the other's mirror) are close."""
    out = {(a, b): (bits, False) for a, b, bits in perceptual_pairs(phashes, max_bits)}
    if phashes_mirror is not None:
        n = len(phashes)
        both = list(phashes) + list(phashes_mirror)
        for x, y, bits in perceptual_pairs(both, max_bits):
            if x < n <= y and x != y - n:
                a, b = sorted((x, y - n))
                if (a, b) not in out or bits < out[(a, b)][0]:
                    out[(a, b)] = (bits, True)
    return [(a, b, bits, m) for (a, b), (bits, m) in sorted(out.items())]


def split_chains(edges: list[Edge], hashes: Sequence[str | None], vectors: np.ndarray | None,
                 pos: np.ndarray, cutoff: float, *, max_members: int = 4000) -> tuple[list[Edge], int]:
    """Drop the links that would chain different pictures into one cluster.

    The rule: a near cluster has a centre, one member (with an embedding) within ``cutoff``
    (the loose threshold) of every other member. A group of copies around one picture (crops,
    rotations and re-encodes of it, each within reach of the original though not always of each
    other) has one; a chain of small steps between different pictures does not. A connected
    component without a centre is cut by complete-linkage clustering at twice the cutoff (no
    two members of a part farther apart than that; byte-identical files count as one member),
    and links between the parts are dropped. Members without an embedding stay with the part
    their first link reaches. Components above ``max_members`` are left whole (and logged).

    Returns ``(edges kept, links dropped)``.
    """
    if vectors is None or not edges:
        return edges, 0
    uf = _UnionFind()
    for e in edges:
        uf.union(e.a, e.b)
    members: dict[int, list[int]] = defaultdict(list)
    for node in list(uf.parent):
        members[uf.find(node)].append(node)
    part: dict[int, tuple[int, int]] = {}  # row -> (component root, part id)
    for root, rows in members.items():
        embedded = [r for r in rows if pos[r] >= 0]
        reps: dict[str, int] = {}
        unique = []
        for r in embedded:  # one representative per file content
            key = hashes[r] or f"row{r}"
            if key not in reps:
                reps[key] = r
                unique.append(r)
        if len(unique) < 3:
            continue
        if len(unique) > max_members:
            import logging

            logging.getLogger(__name__).warning("a duplicate cluster of %d images was not checked for chaining "
                                                "(over %d)", len(unique), max_members)
            continue
        v = vectors[pos[np.array(unique)]]
        dist = np.clip(1.0 - v @ v.T, 0.0, 2.0)
        np.fill_diagonal(dist, 0.0)
        if float(dist.max(axis=1).min()) <= cutoff:  # a centre within reach of every member
            continue
        from scipy.cluster.hierarchy import fcluster, linkage
        from scipy.spatial.distance import squareform

        labels = fcluster(linkage(squareform(dist, checks=False), method="complete"), t=2 * cutoff,
                          criterion="distance")
        label_of = {unique[k]: int(labels[k]) for k in range(len(unique))}
        for r in embedded:
            part[r] = (root, label_of[reps[hashes[r] or f"row{r}"]])
    if not part:
        return edges, 0
    for e in edges:  # members without embeddings join the part of their first link
        for x, y in ((e.a, e.b), (e.b, e.a)):
            if x not in part and y in part and pos[x] < 0:
                part[x] = part[y]
    kept = [e for e in edges if e.a not in part or e.b not in part or part[e.a] == part[e.b]]
    return kept, len(edges) - len(kept)
