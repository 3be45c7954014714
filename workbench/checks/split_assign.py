"""Splits that no group crosses: the pure numbers behind the proposed split.

A *group* is every set of images that must share a split: the duplicate links (near and exact
copies, each link the leakage check could report) joined transitively, and the images sharing a
value of a user's group field (``--group-by source,session``). Groups are assigned whole, so no
link crosses splits: leakage is zero by construction.

Two modes:

* ``fresh``: a new split at the target ratios, stratified by class: groups are placed largest
  first, each where it brings the per-class counts closest to their targets (every class weighs the
  same, measured in shares of the class, plus the split sizes);
* ``repair``: the current split is kept, except that each group spread over several splits moves
  whole to the one of them where it fits best, and images without a split are placed as in ``fresh``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Literal

import numpy as np

Mode = Literal["fresh", "repair"]


def link_groups(n: int, links: Iterable[tuple[int, int]]) -> np.ndarray:
    """Per row, its group: rows joined by ``links``, transitively, numbered 0.. by their first row.

    Example:
        >>> link_groups(5, [(0, 3), (3, 4)]).tolist()
        [0, 1, 2, 0, 0]
    """
    parent = np.arange(n)

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    for a, b in links:
        ra, rb = root(int(a)), root(int(b))
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    roots = np.array([root(i) for i in range(n)], dtype=np.int64)
    _, first = np.unique(roots, return_index=True)
    number = {int(roots[i]): k for k, i in enumerate(sorted(first))}
    return np.array([number[int(r)] for r in roots], dtype=np.int64)


def value_links(columns: Mapping[str, Sequence[object]]) -> list[tuple[int, int]]:
    """Links between the rows that share a (non-empty) value of any of ``columns``.

    Example:
        >>> value_links({"source": ["a", "b", "a", None, "a"]})
        [(0, 2), (0, 4)]
    """
    links = []
    for values in columns.values():
        first: dict[object, int] = {}
        for i, v in enumerate(values):
            if v is None or (isinstance(v, float) and v != v) or v == "":
                continue
            if v in first:
                links.append((first[v], i))
            else:
                first[v] = i
    return links


def _counts(strata: np.ndarray, groups: np.ndarray, n_groups: int, n_classes: int) -> np.ndarray:
    return np.bincount(groups * n_classes + strata, minlength=n_groups * n_classes).reshape(n_groups, n_classes)


class _Placer:
    """Per-split class counts against their targets, and the cost of adding a group to a split."""

    def __init__(self, targets: np.ndarray, class_totals: np.ndarray) -> None:
        self.targets = targets  # (splits, classes)
        self.counts = np.zeros_like(targets)
        self.scale = 1.0 / np.maximum(class_totals, 1.0) ** 2
        total = float(class_totals.sum())
        self.size_targets = targets.sum(axis=1)
        self.size_scale = 1.0 / max(total, 1.0) ** 2

    def cost(self, vector: np.ndarray, splits: Sequence[int]) -> np.ndarray:
        """Increase of the squared misfit (class shares and split sizes) if the group went to each of ``splits``."""
        out = []
        for s in splits:
            before = self.counts[s] - self.targets[s]
            after = before + vector
            size_before = self.counts[s].sum() - self.size_targets[s]
            size_after = size_before + vector.sum()
            out.append(float(((after ** 2 - before ** 2) * self.scale).sum())
                       + (size_after ** 2 - size_before ** 2) * self.size_scale)
        return np.asarray(out)

    def add(self, vector: np.ndarray, split: int) -> None:
        self.counts[split] += vector

    def move_gain(self, vector: np.ndarray, src: int, dst: int) -> float:
        """How much the misfit drops if a group moves from ``src`` to ``dst`` (positive: better)."""
        self.counts[src] -= vector
        gain = float(self.cost(vector, [src])[0] - self.cost(vector, [dst])[0])
        self.counts[src] += vector
        return gain


def assign_groups(strata: Sequence[str], groups: np.ndarray, ratios: Mapping[str, float], *,
                  current: Sequence[str | None] | None = None, mode: Mode = "fresh", seed: int = 0) -> list[str]:
    """Each row's split: groups whole, by ``mode`` (see the module docstring).

    Args:
        strata: per row, what to stratify by (its class; ``"(none)"`` for an unlabelled image).
        groups: per row, its group (:func:`link_groups`).
        ratios: ``{split: share}``, summing to 1.
        current: per row, its current split (``repair`` keeps it where it can).
        mode: ``fresh`` or ``repair``.
        seed: breaks ties between groups of one size.

    Example:
        >>> strata = ["a"] * 10 + ["b"] * 10
        >>> out = assign_groups(strata, np.arange(20), {"train": 0.8, "test": 0.2})
        >>> sorted((s, x) for s, x in zip(strata, out) if x == "test")
        [('a', 'test'), ('a', 'test'), ('b', 'test'), ('b', 'test')]
    """
    names = list(ratios)
    classes = sorted(set(strata))
    code = {c: k for k, c in enumerate(classes)}
    y = np.array([code[s] for s in strata], dtype=np.int64)
    n_groups = int(groups.max()) + 1 if len(groups) else 0
    per_group = _counts(y, groups, n_groups, len(classes)).astype(np.float64)
    class_totals = per_group.sum(axis=0)
    targets = np.array([[ratios[s] * t for t in class_totals] for s in names], dtype=np.float64)
    placer = _Placer(targets, class_totals)
    out: list[str | None] = [None] * len(strata)
    members: dict[int, list[int]] = {}
    for i, g in enumerate(groups.tolist()):
        members.setdefault(g, []).append(i)
    open_groups = list(range(n_groups))
    if mode == "repair" and current is not None:
        index = {s: k for k, s in enumerate(names)}
        open_groups = []
        for g in range(n_groups):
            held = {current[i] for i in members[g]}
            if len(held) == 1 and None not in held and next(iter(held)) in index:
                placer.add(per_group[g], index[next(iter(held))])  # kept where it is
                for i in members[g]:
                    out[i] = current[i]
            else:
                open_groups.append(g)
    rng = np.random.default_rng(seed)
    tie = rng.permutation(max(n_groups, 1))
    open_groups.sort(key=lambda g: (-per_group[g].sum(), tie[g]))
    everywhere = list(range(len(names)))
    for g in open_groups:
        choices = everywhere
        if mode == "repair" and current is not None:
            held = [names.index(current[i]) for i in members[g] if current[i] in names]
            choices = sorted(set(held)) or everywhere  # stay in a split the group already touches
        costs = placer.cost(per_group[g], choices)
        if mode == "repair" and current is not None and len(choices) > 1:  # fewer moves first on near-ties
            stay = np.array([sum(names[s] == current[i] for i in members[g]) for s in choices], dtype=np.float64)
            costs = costs - 1e-9 * stay
        best = choices[int(np.argmin(costs))]
        placer.add(per_group[g], best)
        for i in members[g]:
            out[i] = names[best]
    if mode == "fresh":
        _refine(placer, per_group, members, out, names, open_groups)
    return [str(s) for s in out]


def _refine(placer: _Placer, per_group: np.ndarray, members: dict[int, list[int]], out: list[str | None],
            names: list[str], groups: list[int], passes: int = 4) -> None:
    """Local search after the greedy pass: move a group to another split while that lowers the misfit.
    The greedy places the largest groups first and can't undo them; a few passes of single moves
    (largest groups first) repair most of what it leaves, e.g. the small groups around one large source."""
    index = {s: k for k, s in enumerate(names)}
    for _ in range(passes):
        moved = False
        for g in groups:
            src = index[out[members[g][0]]]
            gains = [placer.move_gain(per_group[g], src, dst) if dst != src else 0.0 for dst in range(len(names))]
            dst = int(np.argmax(gains))
            if gains[dst] > 1e-12:
                placer.counts[src] -= per_group[g]
                placer.add(per_group[g], dst)
                for i in members[g]:
                    out[i] = names[dst]
                moved = True
        if not moved:
            break


def crossing(pairs: Iterable[tuple[int, int]], assignment: Sequence[str | None],
             same_content: Iterable[Sequence[int]] = ()) -> int:
    """Copy pairs whose two rows are in different splits (rows without a split cross nothing): each of
    ``pairs`` once, and every pair within each group of ``same_content`` rows (counted, not listed).

    Example:
        >>> crossing([(0, 1), (1, 2)], ["train", "train", "test", "test", "val"], [[2, 3, 4]])
        3
    """
    n = sum(1 for a, b in set((min(a, b), max(a, b)) for a, b in pairs)
            if assignment[a] is not None and assignment[b] is not None and assignment[a] != assignment[b])
    for rows in same_content:
        held = [assignment[i] for i in rows if assignment[i] is not None]
        n += (len(held) ** 2 - sum(k * k for k in Counter(held).values())) // 2
    return n


def spread_groups(groups: np.ndarray, assignment: Sequence[str | None]) -> int:
    """Groups whose rows sit in more than one split."""
    seen: dict[int, set[str]] = {}
    for g, s in zip(groups.tolist(), assignment):
        if s is not None:
            seen.setdefault(g, set()).add(s)
    return sum(len(v) > 1 for v in seen.values())
