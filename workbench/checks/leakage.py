"""Train/test leakage: duplicate links whose two ends sit in different splits."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from workbench.checks.registry import (SPLITS, CheckInputs, GateSpec, PanelSpec, ResultOf, SampleField, SampleTag,
                                       SavedView, Writes, register_check)
from workbench.results import DuplicatesResult, LeakageResult, LeakPair

if TYPE_CHECKING:
    from workbench.config import AuditConfig

TAG = "wb:leak"


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
    from workbench.checks.duplicate_edges import EdgeSet, _edge

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


def partners(r: LeakageResult) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Per leaked sample: the paths of its copies in other splits, and (parallel) what links each pair."""
    paths: dict[str, list[str]] = {}
    evidence: dict[str, list[str]] = {}
    for p in r.pairs:
        for sid, other in ((p.sample_id_a, p.filepath_b), (p.sample_id_b, p.filepath_a)):
            paths.setdefault(sid, []).append(other)
            evidence.setdefault(sid, []).append(p.evidence)
    return paths, {sid: e for sid, e in evidence.items() if any(e)}  # a result from before evidence: none


@register_check(
    name="leakage", title="leaks", result=LeakageResult, needs=(SPLITS, ResultOf(DuplicatesResult)),
    count_key="leaks",
    writes=Writes(fields=(SampleField("leak", "wb_is_leak", lambda r: {sid: True for sid in partners(r)[0]}),
                          SampleField("leak_with", "wb_leak_with", lambda r: partners(r)[0]),
                          SampleField("leak_evidence", "wb_leak_evidence", lambda r: partners(r)[1])),
                  tags=(SampleTag("leak", TAG, lambda r: set(r.leaked_ids)),),
                  views=(SavedView("leaks", "wb-leaks", TAG),)),
    gate=GateSpec("leaks", "leaked samples", lambda r: len(r.leaked_ids), depends_on=("embeddings", "neighbors")),
    section="sections/leakage.html.j2", report_title="Leakage", panel=PanelSpec("Duplicates & leakage"),
    absent_export={"leaks": []})
def run(inputs: CheckInputs, config: AuditConfig, options: None) -> LeakageResult:
    """The duplicates check's links (it carries them) that cross splits."""
    import dataclasses

    from workbench.checks.duplicates import boxes_conflict, copy_labels, copy_objects

    dups = inputs.result_of(DuplicatesResult)
    cols = inputs.columns
    leaks = find_leaks(cols.ids, cols.filepaths, cols.splits, copy_labels(inputs), cols.hashes, dups.edges or [], dups)
    if not cols.boxes:
        return leaks
    row = {sid: i for i, sid in enumerate(cols.ids)}  # detection: the same objects, other boxes, is a conflict too
    return dataclasses.replace(leaks, pairs=tuple(
        dataclasses.replace(p, box_conflict=True, objects=copy_objects(inputs, [row[p.sample_id_a], row[p.sample_id_b]]))
        if boxes_conflict(inputs, row[p.sample_id_a], row[p.sample_id_b]) else p for p in leaks.pairs))
