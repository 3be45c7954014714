"""Train/test leakage: duplicate links whose two ends sit in different splits."""

from __future__ import annotations

from typing import Any, Sequence

from workbench.results import DuplicatesResult, LeakageResult, LeakPair


def find_leaks(ids: Sequence[str], filepaths: Sequence[str], splits: Sequence[str | None],
               labels: Sequence[str | None], hashes: Sequence[str | None],
               edges: Any, duplicates: DuplicatesResult) -> LeakageResult:
    """Every duplicate link that crosses splits, as a :class:`LeakPair`.

    Only direct links are reported (two exact copies, or two images within the near-duplicate
    threshold), so no pair is ever farther apart than the threshold. Exact groups link all
    their members to each other.

    Example:
        >>> from workbench.checks.duplicates import find_duplicates
        >>> args = (["a", "b"], ["/a", "/b"], ["train", "test"], ["cat", "dog"], ["h", "h"])
        >>> dups = find_duplicates(*args, [(0, 1, 0.0)], threshold=0.1)
        >>> find_leaks(*args, [(0, 1, 0.0)], dups).pairs[0].label_conflict
        True
    """
    from workbench.checks.duplicates import EdgeSet, _edge

    edges = [_edge(e, hashes) for e in (edges.edges if isinstance(edges, EdgeSet) else edges)]
    cluster_of = {sid: c.cluster_id for c in duplicates.clusters for sid in c.sample_ids}
    seen: set[tuple[int, int]] = set()
    pairs: list[LeakPair] = []
    exact_groups: dict[str, list[int]] = {}
    for a, b, _, _ in edges:
        if hashes[a] is not None and hashes[a] == hashes[b]:
            exact_groups.setdefault(hashes[a], [])
    for i, h in enumerate(hashes):
        if h in exact_groups:
            exact_groups[h].append(i)
    candidates = [(a, b, 0.0, "exact") for g in exact_groups.values() for x, a in enumerate(g) for b in g[x + 1:]]
    candidates += [tuple(e) for e in edges if not (hashes[e.a] is not None and hashes[e.a] == hashes[e.b])]
    for a, b, d, evidence in candidates:
        sa, sb = splits[a], splits[b]
        if sa is None or sb is None or sa == sb:
            continue
        if sb == "train" or (sa != "train" and sa > sb):
            a, b, sa, sb = b, a, sb, sa  # deterministic order: the train side first when present
        key = (min(a, b), max(a, b))
        if key in seen:
            continue
        seen.add(key)
        kind = "exact" if hashes[a] is not None and hashes[a] == hashes[b] else "near"
        pairs.append(LeakPair(sample_id_a=ids[a], sample_id_b=ids[b], filepath_a=filepaths[a],
                              filepath_b=filepaths[b], split_a=sa, split_b=sb, label_a=labels[a],
                              label_b=labels[b], kind=kind, distance=round(float(d), 6),
                              cluster_id=cluster_of.get(ids[a], -1), evidence=evidence))
    pairs.sort(key=lambda p: (p.cluster_id, p.filepath_a, p.filepath_b))
    return LeakageResult(pairs=tuple(pairs), n_clusters=len({p.cluster_id for p in pairs}))
