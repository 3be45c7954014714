"""A proposed clean split: stratified by class, every duplicate group and user group inside one split.

Every link the leakage check could report (near and exact copies) and every value of the
``group_by`` fields joins images into groups (:mod:`workbench.checks.split_assign`); groups are
assigned whole, so no copy crosses splits: leakage is zero by construction. Written as the
FiftyOne field ``wb_proposed_split`` (the user's split is never touched) and, by
``workbench resplit``, as a CSV or JSON manifest.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from workbench.checks.registry import CheckInputs, ResultOf, SampleField, Writes, register_check
from workbench.checks.split_assign import assign_groups, crossing, link_groups, spread_groups, value_links
from workbench.results import DuplicatesResult
from workbench.results.split_proposal import SplitProposal, SplitSide, SplitState

if TYPE_CHECKING:
    from workbench.config import AuditConfig

#: Ratios of a fresh split when the dataset has none and none are given.
DEFAULT_RATIOS = {"train": 0.8, "val": 0.1, "test": 0.1}
FIELD = "wb_proposed_split"


def parse_ratios(text: str) -> dict[str, float]:
    """``"train=0.8,val=0.1,test=0.1"`` as ``{"train": 0.8, ...}``; each share in (0, 1), summing to 1.

    Raises:
        ValueError: with what is wrong.

    Example:
        >>> parse_ratios("train=0.7, test=0.3")
        {'train': 0.7, 'test': 0.3}
    """
    out: dict[str, float] = {}
    for item in (part.strip() for part in text.split(",")):
        name, eq, value = item.partition("=")
        name = name.strip()
        try:
            share = float(value)
        except ValueError:
            share = math.nan
        if not (eq and name) or not math.isfinite(share):
            raise ValueError(f"ratios: can't read {item!r}; write SPLIT=SHARE,..., e.g. train=0.8,val=0.1,test=0.1")
        if not 0 < share < 1:
            raise ValueError(f"ratios: {name}={value.strip()} must be between 0 and 1")
        if name in out:
            raise ValueError(f"ratios: {name!r} is given twice")
        out[name] = share
    if len(out) < 2:
        raise ValueError("ratios: name at least two splits, e.g. train=0.8,test=0.2")
    if abs(sum(out.values()) - 1.0) > 1e-6:
        raise ValueError(f"ratios: the shares sum to {sum(out.values()):g}; they must sum to 1")
    return out


def _split_order(name: str) -> tuple[int, str]:
    """train, then validation, then test, then any other split, by name."""
    low = name.lower()
    rank = 0 if low.startswith("train") else 1 if low in ("val", "valid", "validation", "dev") else \
        2 if low.startswith("test") else 3
    return rank, name


@dataclass(frozen=True)
class SplitOptions:
    """``split_proposal`` options (``--check-option split_proposal.KEY=VALUE``; ``workbench resplit`` flags)."""

    #: ``SPLIT=SHARE,...`` (empty: the current split's shares, or 80/10/10 without one).
    ratios: str = ""
    #: Comma-separated sample fields whose images must share a split (e.g. ``source,session``).
    group_by: str = ""
    #: Largest gap allowed between a class's share in a split and the split's ratio.
    tolerance: float = 0.05
    #: ``auto`` (repair when the dataset has a split and no ratios are given, else fresh), ``fresh`` or ``repair``.
    mode: str = "auto"
    #: Classes under this many images are placed but not held to the tolerance (one image is a big share).
    min_class_size: int = 40

    def __post_init__(self) -> None:
        if self.ratios.strip():
            parse_ratios(self.ratios)
        if not 0 < self.tolerance <= 1:
            raise ValueError(f"tolerance must be above 0 and at most 1, not {self.tolerance!r}")
        if self.mode not in ("auto", "fresh", "repair"):
            raise ValueError(f"mode must be 'auto', 'fresh' or 'repair', not {self.mode!r}")
        if self.min_class_size < 1:
            raise ValueError(f"min_class_size must be at least 1, not {self.min_class_size!r}")
        if any(not f.strip() for f in self.group_by.split(",")) and self.group_by.strip():
            raise ValueError(f"group_by: write FIELD,FIELD without empty names, not {self.group_by!r}")

    def fields(self) -> tuple[str, ...]:
        return tuple(f.strip() for f in self.group_by.split(",") if f.strip())


def stratum(label: str | None, labels: Sequence[str], counts: Counter) -> str:
    """What an image is stratified by: its class; a multi-object image's rarest class; ``(none)`` unlabelled."""
    if label is not None:
        return label
    if labels:
        return min(labels, key=lambda c: (counts[c], c))
    return "(none)"


@dataclass(frozen=True)
class CopyLinks:
    """Every pair the leakage check could report: ``pairs`` (the duplicates' links between different content)
    and ``same_content`` (each set of rows of one content hash: all its pairs are copies)."""

    pairs: tuple[tuple[int, int], ...] = ()
    same_content: tuple[tuple[int, ...], ...] = ()

    def joining(self) -> list[tuple[int, int]]:
        """Links that join every copy to its group (each content set as a chain, not all its pairs)."""
        return [*self.pairs, *((rows[0], i) for rows in self.same_content for i in rows[1:])]


def copy_links(edges: object, hashes: Sequence[str | None]) -> CopyLinks:
    """The duplicates check's links and the sets of images of one content hash."""
    from workbench.checks.duplicate_edges import EdgeSet, _edge

    raw = edges.edges if isinstance(edges, EdgeSet) else (edges or [])
    pairs = {(min(e.a, e.b), max(e.a, e.b)) for e in (_edge(x, hashes) for x in raw)
             if not (hashes[e.a] is not None and hashes[e.a] == hashes[e.b])}
    by_hash: dict[str, list[int]] = {}
    for i, h in enumerate(hashes):
        if h is not None:
            by_hash.setdefault(h, []).append(i)
    return CopyLinks(tuple(sorted(pairs)), tuple(tuple(rows) for rows in by_hash.values() if len(rows) > 1))


def split_state(strata: Sequence[str], assignment: Sequence[str | None], targets: dict[str, float],
                links: CopyLinks, groups: np.ndarray, min_class_size: int) -> SplitState:
    """An assignment's splits (each class's share against the split's target) and the links and groups it cuts."""
    placed = [(s, a) for s, a in zip(strata, assignment) if a is not None]
    totals = Counter(s for s, _ in placed)
    judged = {c for c, n in totals.items() if n >= min_class_size}
    by_split: dict[str, Counter] = {}
    for s, a in placed:
        by_split.setdefault(a, Counter())[s] += 1
    names = list(targets) + sorted(set(by_split) - set(targets))
    sides = []
    for name in names:
        held = by_split.get(name, Counter())
        target = targets.get(name, sum(held.values()) / max(len(placed), 1))
        sides.append(SplitSide(name, round(target, 6), sum(held.values()),
                               round(sum(held.values()) / max(len(placed), 1), 6),
                               {c: round(held[c] / totals[c] - target, 6) for c in sorted(judged)}))
    return SplitState(tuple(sides), crossing(links.pairs, assignment, links.same_content),
                      spread_groups(groups, assignment),
                      len(assignment) - len(placed))


def propose_split(ids: Sequence[str], strata: Sequence[str], current: Sequence[str | None],
                  links: CopyLinks, group_values: dict[str, Sequence[object]], *,
                  options: SplitOptions = SplitOptions(), seed: int = 0,
                  extra_links: Sequence[tuple[int, int]] = ()) -> SplitProposal:
    """The proposal for these rows (see the module docstring); ``links`` are the copy links (:func:`copy_links`),
    ``extra_links`` more pairs to keep together (e.g. perceptual-hash neighbours), not counted as crossing links.

    Raises:
        ValueError: ``repair`` without a current split, or ``ratios`` naming other splits than the current ones.

    Example:
        >>> p = propose_split(["a", "b", "c", "d"], ["x", "x", "y", "y"], [None] * 4, CopyLinks(((0, 1),)), {},
        ...                   options=SplitOptions(ratios="train=0.5,test=0.5", min_class_size=1))
        >>> p.assignment["a"] == p.assignment["b"], p.proposed.crossing_links
        (True, 0)
    """
    n = len(ids)
    has_current = any(s is not None for s in current)
    asked = options.ratios.strip()
    mode = options.mode if options.mode != "auto" else ("repair" if has_current and not asked else "fresh")
    if mode == "repair" and not has_current:
        raise ValueError("mode=repair needs a current split (folders, tags or --split-field); use mode=fresh")
    assigned = [s for s in current if s is not None]
    current_shares = {s: round(c / len(assigned), 6) for s, c in sorted(Counter(assigned).items(),
                                                                        key=lambda kv: _split_order(kv[0]))}
    if mode == "repair" and asked:
        shares = " / ".join(f"{k} {v:.0%}" for k, v in current_shares.items())
        raise ValueError(f"ratios apply to mode=fresh; repair keeps the current split's shares ({shares}) and moves "
                         "only the groups that span splits")
    ratios = parse_ratios(options.ratios) if asked else (current_shares or dict(DEFAULT_RATIOS))
    groups = link_groups(n, [*links.joining(), *extra_links, *value_links(group_values)])
    assignment = assign_groups(strata, groups, ratios, current=current if mode == "repair" else None, mode=mode,
                               seed=seed)
    proposed = split_state(strata, assignment, ratios, links, groups, options.min_class_size)
    now = split_state(strata, current, current_shares, links, groups, options.min_class_size) if has_current else None
    sizes = np.bincount(groups) if n else np.zeros(0, dtype=np.int64)
    largest = int(sizes.max()) if n else 0
    notes = []
    biggest = max(ratios, key=lambda s: ratios[s])
    if n and largest > ratios[biggest] * n:
        notes.append(f"the largest group holds {largest:,} images ({largest / n:.0%}), more than the largest "
                     f"split's target ({biggest}: {ratios[biggest] * n:,.0f}): the ratios can't all be met")
    singles = {f: sum(1 for v in vals if v is None or v == "" or (isinstance(v, float) and v != v))
               for f, vals in group_values.items()}
    notes += [f"{k:,} images have no {f}: each is grouped by its copies alone" for f, k in singles.items() if k]
    totals = Counter(strata)
    return SplitProposal(
        mode=mode, ratios=ratios, tolerance=options.tolerance, group_by=options.fields(), n_samples=n,
        n_groups=int(len(sizes)), largest_group=largest, proposed=proposed, current=now,
        moved=sum(1 for a, c in zip(assignment, current) if c is not None and a != c),
        within_tolerance=proposed.worst <= options.tolerance,
        small_classes=tuple(sorted(c for c, k in totals.items() if k < options.min_class_size)), notes=tuple(notes),
        assignment=dict(zip(ids, assignment)), groups={sid: int(g) for sid, g in zip(ids, groups.tolist())})


@register_check(
    name="split_proposal", title="resplit", result=SplitProposal, needs=(ResultOf(DuplicatesResult),),
    report_title="Proposed split", section="sections/split_proposal.html.j2",
    writes=Writes(fields=(SampleField("proposed_split", FIELD, lambda r: r.assignment),)),
    options=SplitOptions, absent_export={"split_proposal": None})
def run(inputs: CheckInputs, config: AuditConfig, options: SplitOptions) -> SplitProposal:
    """The duplicates check's links and the ``group_by`` fields, over the table's labels and current splits."""
    from workbench.errors import CheckConfigError

    cols = inputs.columns
    missing = [f for f in options.fields() if f not in inputs.metadata]
    if missing:
        known = ", ".join(sorted(inputs.metadata)) or "none"
        raise CheckConfigError(f"split_proposal.group_by: no sample field {', '.join(map(repr, missing))} to group "
                               f"by; the dataset's scalar fields: {known}")
    counts = Counter(c for labs in cols.label_lists for c in labs)
    strata = [stratum(lab, labs, counts) for lab, labs in zip(cols.labels, cols.label_lists)]
    links = copy_links(inputs.result_of(DuplicatesResult).edges, cols.hashes)
    # Also every pair of perceptual hashes the model-free audit would link: the proposal stays leak-free
    # whether the next audit runs with a model or without one (--embedder none).
    from workbench.checks.duplicate_edges import hash_pairs

    hashed = [(a, b) for a, b, _, _ in hash_pairs([x.phash if x is not None else None for x in inputs.facts],
                                                  [x.phash_mirror if x is not None else None for x in inputs.facts],
                                                  config.phash_max_distance)]
    try:
        return propose_split(cols.ids, strata, cols.splits, links,
                             {f: inputs.metadata[f] for f in options.fields()}, options=options, seed=config.seed,
                             extra_links=hashed)
    except ValueError as exc:
        raise CheckConfigError(f"split_proposal: {exc}") from None
