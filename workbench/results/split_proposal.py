"""A proposed train/val/test split that no duplicate link or user group crosses, against the current one."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.results.protocol import Finding, printable


@dataclass(frozen=True)
class SplitSide:
    """One split of a split assignment: its images and how far its class mix is from the target.

    ``deviation`` is, per class, the class's share in this split minus the split's target ratio (so
    0 is on target; +0.03 means 3 points more of that class's images landed here than the ratio asks).
    """

    name: str
    target: float
    n: int
    share: float
    deviation: dict[str, float] = field(default_factory=dict)

    @property
    def worst(self) -> float:
        return max((abs(v) for v in self.deviation.values()), default=0.0)


@dataclass(frozen=True)
class SplitState:
    """A whole assignment (current or proposed): its splits, and the duplicate links and groups it cuts."""

    sides: tuple[SplitSide, ...] = ()
    #: Duplicate links (near or exact copies) whose two images are in different splits.
    crossing_links: int = 0
    #: Groups (linked copies plus ``group_by`` values) spread over more than one split.
    split_groups: int = 0
    #: Images without a split.
    unassigned: int = 0

    @property
    def worst(self) -> float:
        return max((s.worst for s in self.sides), default=0.0)

    @property
    def worst_gap(self) -> tuple[str, str, float] | None:
        """``(split, class, gap)`` of the largest class gap, ``None`` without classes."""
        gaps = [(side.name, c, g) for side in self.sides for c, g in side.deviation.items()]
        return max(gaps, key=lambda t: abs(t[2])) if gaps else None


@dataclass(frozen=True)
class SplitProposal:
    """A proposed split (``assignment``: sample id -> split) with zero crossing links by construction.

    ``mode`` is ``repair`` (keep every image where it is unless its group spans splits; the current
    ratios are the target) or ``fresh`` (a new stratified split at ``ratios``). ``within_tolerance``
    says whether every class's share in every split is within ``tolerance`` of the target, for the
    classes with at least ``min_class_size`` images (smaller ones are listed in ``small_classes``).
    """

    mode: str
    ratios: dict[str, float]
    tolerance: float
    group_by: tuple[str, ...]
    n_samples: int
    n_groups: int
    largest_group: int
    proposed: SplitState
    current: SplitState | None = None
    moved: int = 0
    within_tolerance: bool = True
    small_classes: tuple[str, ...] = ()
    #: Groups too large for the split they had to go to, as readable notes.
    notes: tuple[str, ...] = ()
    assignment: dict[str, str] = field(default_factory=dict)
    #: Per sample id, its group's number (for the manifest: images of one group share it).
    groups: dict[str, int] = field(default_factory=dict)

    @property
    def n_findings(self) -> int:
        """Splits of the proposal with a class off its target by more than the tolerance."""
        return sum(s.worst > self.tolerance for s in self.proposed.sides)

    def summary(self) -> str:
        """A headline, then the current split's leaks and the class-mix deviation.

        Example:
            >>> SplitProposal("fresh", {"train": 1.0}, 0.05, (), 0, 0, 0, SplitState()).summary().splitlines()[0]
            'fresh split train 100%: 0 groups, 0 images moved, within ±5% per class'
        """
        ratio = " / ".join(f"{printable(k)} {v:.0%}" for k, v in self.ratios.items())
        gap = self.proposed.worst_gap
        within = (f"within ±{self.tolerance:.0%} per class" if self.within_tolerance else
                  f"'{printable(gap[1])}' is {gap[2]:+.1%} off in {printable(gap[0])} (tolerance ±{self.tolerance:.0%})"
                  if gap else "")
        lines = [f"{self.mode} split {ratio}: {self.n_groups:,} groups, {self.moved:,} images moved, {within}"]
        if self.current is not None:
            lines.append(f"current split: {self.current.crossing_links:,} duplicate links cross splits, "
                         f"{self.current.split_groups:,} groups spread over splits; proposed: "
                         f"{self.proposed.crossing_links:,} and {self.proposed.split_groups:,}")
        if self.small_classes:
            names = ", ".join(f"'{printable(c)}'" for c in self.small_classes[:5])
            lines.append(f"not held to the tolerance (under the minimum class size): {names}"
                         + (f" and {len(self.small_classes) - 5} more" if len(self.small_classes) > 5 else ""))
        lines += [printable(n) for n in self.notes[:3]]
        return "\n".join(lines)

    def finding_rows(self) -> tuple[Finding, ...]:
        """Each proposed split a class misses by more than the tolerance, by split."""
        return tuple(Finding("off_ratio", (), (s.name,), None, s.worst, f"worst class off by {s.worst:.1%}")
                     for s in self.proposed.sides if s.worst > self.tolerance)

    def to_frame(self) -> Any:
        """One row per split: ``split, target, n, share, worst_class_deviation`` for the proposal."""
        import pandas as pd

        return pd.DataFrame([{"split": s.name, "target": s.target, "n": s.n, "share": s.share,
                              "worst_class_deviation": s.worst} for s in self.proposed.sides],
                            columns=["split", "target", "n", "share", "worst_class_deviation"])

    def to_export(self) -> dict[str, Any]:
        def state(st: SplitState | None) -> dict[str, Any] | None:
            if st is None:
                return None
            return {"crossing_links": st.crossing_links, "split_groups": st.split_groups, "unassigned": st.unassigned,
                    "splits": {s.name: {"target": s.target, "n": s.n, "share": s.share,
                                        "worst_class_deviation": s.worst} for s in st.sides}}

        return {"split_proposal": {"mode": self.mode, "ratios": self.ratios, "tolerance": self.tolerance,
                                   "group_by": list(self.group_by), "n_groups": self.n_groups,
                                   "largest_group": self.largest_group, "moved": self.moved,
                                   "within_tolerance": self.within_tolerance, "small_classes": list(self.small_classes),
                                   "notes": list(self.notes), "worst_gap": (
                                       dict(zip(("split", "class", "gap"), self.proposed.worst_gap))
                                       if self.proposed.worst_gap else None), "current": state(self.current),
                                   "proposed": state(self.proposed)}}
