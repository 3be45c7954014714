"""Exact (content hash) and near (embedding cosine distance) duplicates, grouped into clusters.

The pairs come from :mod:`workbench.checks.duplicate_edges`; this module clusters them, declares
the check (what it writes to FiftyOne, its gate, its report section and panel) and re-filters a
finished audit at another threshold (:func:`refilter`).
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any, Sequence

from workbench.checks.duplicate_edges import (Edge, EdgeSet, _edge, _phash_bits, _UnionFind, duplicate_edges,
                                              exact_pairs, perceptual_pairs, split_chains)
from workbench.checks.near_rule import NearRule
from workbench.checks.registry import (CheckInputs, GateSpec, PanelSpec, SampleField, SampleTag, SavedView, Writes,
                                       register_check)
from workbench.graph import NeighborGraph
from workbench.results import DuplicateLink, DuplicatesResult, DuplicateCluster

if TYPE_CHECKING:
    from workbench.config import AuditConfig
    from workbench.results.copies import CopyObject

__all__ = ["Edge", "EdgeSet", "duplicate_edges", "exact_pairs", "find_duplicates", "perceptual_pairs", "refilter",
           "split_chains", "_phash_bits"]

TAG = "wb:duplicate"


def find_duplicates(ids: Sequence[str], filepaths: Sequence[str], splits: Sequence[str | None],
                    labels: Sequence[str | None], hashes: Sequence[str | None],
                    edges: EdgeSet | Sequence[Sequence], *, threshold: float,
                    calibration: Any = None) -> DuplicatesResult:
    """Cluster rows linked by ``edges`` (see :func:`duplicate_edges`); each cluster keeps its links.

    A cluster is ``exact`` when all members share one content hash, else ``near``.

    Example:
        >>> r = find_duplicates(["a", "b", "c"], ["/a", "/b", "/c"], ["train"] * 3, ["x", "x", "y"],
        ...                     ["h1", "h1", "h2"], [(0, 1, 0.0)], threshold=0.05)
        >>> [(c.kind, c.sample_ids, c.evidence) for c in r.clusters]
        [('exact', ('a', 'b'), ('exact',))]
    """
    edge_set = edges if isinstance(edges, EdgeSet) else EdgeSet(list(edges))
    links = [_edge(e, hashes) for e in edge_set.edges]
    uf = _UnionFind()
    n_exact = n_near = 0
    for e in links:
        uf.union(e.a, e.b)
        if e.evidence == "exact":
            n_exact += 1
        else:
            n_near += 1
    members: dict[int, list[int]] = defaultdict(list)
    for node in list(uf.parent):
        members[uf.find(node)].append(node)
    by_root: dict[int, list[Edge]] = defaultdict(list)
    for e in links:
        by_root[uf.find(e.a)].append(e)
    clusters = []
    for root, rows in members.items():
        rows.sort()
        kind = "exact" if len({hashes[r] for r in rows}) == 1 else "near"
        clusters.append((rows, kind, max((e.distance for e in by_root[root]), default=0.0), by_root[root]))
    clusters.sort(key=lambda c: (-len(c[0]), c[0][0]))
    out = tuple(
        DuplicateCluster(cluster_id=n, kind=kind, sample_ids=tuple(ids[r] for r in rows),
                         filepaths=tuple(filepaths[r] for r in rows), splits=tuple(splits[r] for r in rows),
                         labels=tuple(labels[r] for r in rows), max_distance=round(float(dmax), 6),
                         links=tuple(DuplicateLink(ids[e.a], ids[e.b], round(float(e.distance), 6), e.evidence)
                                     for e in sorted(es)))
        for n, (rows, kind, dmax, es) in enumerate(clusters))
    return DuplicatesResult(near_threshold=threshold, clusters=out, n_exact_pairs=n_exact, n_near_pairs=n_near,
                            calibration=calibration, n_rejected_candidates=edge_set.n_rejected,
                            n_split_links=edge_set.n_split)


def refilter(artifacts: Any, threshold: "float | NearRule", *, calibration: Any = None) -> tuple[DuplicatesResult, Any]:
    """Duplicates and leaks under another rule, from an audit's cached k-NN graph.

    ``threshold`` is one cosine distance (the panels' slider: no thumbnail tier) or a
    :class:`~workbench.checks.near_rule.NearRule` (``result.duplicates.calibration.rule()``
    reproduces the audit). Nothing is re-embedded or re-searched: pairs farther than the graph's
    ``k`` neighbours stay unseen, exactly as in the audit itself. Returns
    ``(DuplicatesResult, LeakageResult)``.

    Example:
        >>> dups, leaks = refilter(result.artifacts, 0.03)  # doctest: +SKIP
    """
    from workbench.checks.leakage import find_leaks

    a = artifacts
    graph = None if a.neighbor_indices is None else NeighborGraph(a.neighbor_indices, a.neighbor_distances)
    known = {(p[0], p[1]): (*p[2:], None)[:3] for p in getattr(a, "pair_pixels", ())}  # the audit's, not re-read
    edges = duplicate_edges(a.hashes, graph, a.embedded_rows, threshold, phashes=a.phashes,
                            phashes_mirror=getattr(a, "phashes_mirror", None), thumbs=getattr(a, "thumbs", None),
                            vectors=a.vectors, geometry=lambda x, y: known.get((x, y), (None, None, None)))
    cols = (a.sample_ids, a.filepaths, a.splits, a.labels)
    strict = threshold.strict if isinstance(threshold, NearRule) else float(threshold)
    dups = find_duplicates(*cols, a.hashes, edges, threshold=strict, calibration=calibration)
    return dups, find_leaks(*cols, a.hashes, edges, dups)


def link_evidence(clusters: Sequence[DuplicateCluster]) -> tuple[dict[str, list[str]], dict[str, float]]:
    """Per cluster member, from the cluster's links: the evidence of its links (each kind once, its
    closest link's first) and the distance of its closest link. Members without links (a result
    from before links were kept) get neither."""
    links: dict[str, list[tuple[float, str]]] = {}
    for c in clusters:
        for link in c.links:
            for sid in (link.sample_id_a, link.sample_id_b):
                links.setdefault(sid, []).append((link.distance, link.evidence))
    evidence = {sid: list(dict.fromkeys(e for _, e in sorted(own))) for sid, own in links.items()}
    return evidence, {sid: min(d for d, _ in own) for sid, own in links.items()}


def _members(r: DuplicatesResult, value: Any) -> dict[str, Any]:
    return {sid: value(c) for c in r.clusters for sid in c.sample_ids}


@register_check(
    name="duplicates", title="duplicates", result=DuplicatesResult, count_key="duplicates",
    writes=Writes(
        fields=(SampleField("dup_cluster", "wb_duplicate_cluster", lambda r: _members(r, lambda c: c.cluster_id)),
                SampleField("dup_kind", "wb_duplicate_kind", lambda r: _members(r, lambda c: c.kind)),
                SampleField("dup_evidence", "wb_duplicate_evidence", lambda r: link_evidence(r.clusters)[0]),
                SampleField("dup_distance", "wb_duplicate_distance", lambda r: link_evidence(r.clusters)[1])),
        tags=(SampleTag("duplicate", TAG, lambda r: set(_members(r, lambda c: True))),),
        views=(SavedView("duplicates", "wb-duplicates", TAG, "wb_duplicate_cluster"),)),
    gate=GateSpec("duplicates", "redundant samples", lambda r: r.n_redundant, depends_on=("embeddings", "neighbors")),
    section="sections/duplicates.html.j2",
    panel=PanelSpec("Duplicates & leakage", "workbench.panels.duplicates:duplicates_panel"),
    absent_export={"duplicates": [], "near_duplicate_threshold": None, "near_duplicates": None})
def run(inputs: CheckInputs, config: AuditConfig, options: None) -> DuplicatesResult:
    """Link pairs on the shared graph under the audit's near rule (calibrated, or the model's fixed one),
    then cluster them; the result carries the pairs for the leakage check."""
    import dataclasses

    rule = inputs.near_rule
    cols, facts = inputs.columns, inputs.facts
    vectors = inputs.embeddings.vectors if inputs.embeddings is not None else None
    edges = duplicate_edges(cols.hashes, inputs.graph, inputs.embedded_rows, rule,
                            phashes=[x.phash for x in facts], phashes_mirror=[x.phash_mirror for x in facts],
                            thumbs=[x.thumb for x in facts], vectors=vectors, geometry=inputs.pair_reader)
    found = find_duplicates(cols.ids, cols.filepaths, cols.splits, copy_labels(inputs), cols.hashes, edges,
                            threshold=rule.strict, calibration=inputs.calibration)
    if cols.boxes:  # detection: copies with the same classes may still disagree on the boxes
        row = {sid: i for i, sid in enumerate(cols.ids)}
        conflicts = [any(boxes_conflict(inputs, row[c.sample_ids[0]], row[s]) for s in c.sample_ids[1:])
                     for c in found.clusters]
        found = dataclasses.replace(found, clusters=tuple(
            dataclasses.replace(c, box_conflict=True, objects=copy_objects(inputs, [row[s] for s in c.sample_ids]))
            if conflict else c for c, conflict in zip(found.clusters, conflicts)))
    return dataclasses.replace(found, edges=edges)


def copy_labels(inputs: CheckInputs) -> tuple[str | None, ...]:
    """What copies of one picture are compared on: the image's class, or for detection its objects
    (``"bus, car ×2"``), so that a copy annotated with other objects is a label conflict."""
    from workbench.checks.box_match import objects_summary

    cols = inputs.columns
    if not cols.boxes:
        return cols.labels
    return tuple(objects_summary(labs) for labs in cols.label_lists)


def copy_objects(inputs: CheckInputs, rows: Sequence[int]) -> tuple[CopyObject, ...]:
    """The boxes of the images at ``rows`` (at most ``MAX_COPY_OBJECTS`` each), for drawing a box conflict."""
    from workbench.results.copies import MAX_COPY_OBJECTS, CopyObject

    cols = inputs.columns
    return tuple(CopyObject(cols.ids[r], lab, tuple(box))  # type: ignore[arg-type]
                 for r in rows for lab, box in list(zip(cols.label_lists[r], cols.boxes[r]))[:MAX_COPY_OBJECTS]
                 if box is not None)


def boxes_conflict(inputs: CheckInputs, a: int, b: int) -> bool:
    """Detection: rows ``a`` and ``b`` have the same classes but their boxes don't match. Only judged
    when the two images have the same shape (within 2%): a crop moves every relative box."""
    from workbench.checks.box_match import boxes_agree

    cols, facts = inputs.columns, inputs.facts
    if not cols.boxes or sorted(map(str, cols.label_lists[a])) != sorted(map(str, cols.label_lists[b])):
        return False
    fa, fb = facts[a], facts[b]
    if not (fa.width and fa.height and fb.width and fb.height):
        return False
    if abs(fa.width / fa.height - fb.width / fb.height) > 0.02 * fa.width / fa.height:
        return False
    return not boxes_agree(cols.label_lists[a], cols.boxes[a], cols.label_lists[b], cols.boxes[b])
