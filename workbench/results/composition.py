"""Results of the balance and bias checks: class counts, readiness, split shift, attribute associations."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from workbench.results.protocol import Finding, printable

Task = Literal["classification", "detection", "segmentation"]


@dataclass(frozen=True)
class ClassReadiness:
    label: str
    count: int
    level: Literal["below minimum", "minimum", "good", "excellent"]
    next_level: str | None
    needed_for_next: int


@dataclass(frozen=True)
class BalanceResult:
    """Class counts and where they stand.

    ``counts`` is ``{split: {class: n}}`` (split ``all`` when the dataset has none);
    ``totals`` is ``{class: n}``. ``imbalance_ratio`` is rarest / most common on ``basis``,
    in [0, 1]; ``below_ratio`` lists the classes under ``min_ratio`` of the most common.
    """

    task: Task
    unit: Literal["images", "instances"]
    counts: dict[str, dict[str, int]]
    totals: dict[str, int]
    imbalance_ratio: float | None
    min_ratio: float
    rarest: str | None
    most_common: str | None
    below_ratio: tuple[str, ...]
    readiness: tuple[ClassReadiness, ...]
    thresholds: dict[str, int]
    n_unlabeled: int = 0
    negative_share: float | None = None
    #: The split the ratio and readiness are judged on: ``train`` when present, else ``all``.
    basis: str = "all"

    @property
    def meets_ratio(self) -> bool:
        return not self.below_ratio

    @property
    def n_findings(self) -> int:
        """Classes below the ratio."""
        return len(self.below_ratio)

    def summary(self) -> str:
        if self.imbalance_ratio is None:
            return "no labelled classes"
        verdict = "ok" if self.meets_ratio else f"below {self.min_ratio:.0%}: {printable(', '.join(self.below_ratio))}"
        lines = [f"smallest/largest {self.imbalance_ratio:.2f} on {self.basis} ({verdict})"]
        weak = [r.label for r in self.readiness if r.level == "below minimum"]
        if weak:
            lines.append(f"below the {self.thresholds['minimum']}-{self.unit} minimum: "
                         f"{printable(', '.join(weak[:6]))}{' ...' if len(weak) > 6 else ''}")
        return "\n".join(lines)

    def finding_rows(self) -> tuple[Finding, ...]:
        """Each class below the ratio, by class."""
        return tuple(Finding("below_ratio", (), (c,), c, None, f"{self.totals.get(c, 0)} {self.unit}")
                     for c in self.below_ratio)

    def to_frame(self):
        """One row per class, one column per split: the counts (classes are this check's findings)."""
        import pandas as pd

        return pd.DataFrame(self.counts).fillna(0).astype(int)

    def to_export(self) -> dict[str, Any]:
        return {"class_counts": self.counts,
                "balance": {"imbalance_ratio": self.imbalance_ratio, "min_ratio": self.min_ratio,
                            "below_ratio": list(self.below_ratio), "basis": self.basis,
                            "readiness": {r.label: r.level for r in self.readiness}}}


@dataclass(frozen=True)
class SplitShift:
    """How the class distribution differs between two splits.

    ``largest_gaps`` are ``(class, share in split_b - share in split_a)``, largest magnitude first.
    """

    split_a: str
    split_b: str
    js_divergence: float
    chi2: float
    p_value: float
    cramers_v: float
    largest_gaps: tuple[tuple[str, float], ...]
    missing_in_b: tuple[str, ...]


#: Cramér's V bands, strongest first: ``(lowest V, name)`` (Cohen's conventions for association).
STRENGTH_BANDS: tuple[tuple[float, str], ...] = ((0.5, "strong"), (0.3, "moderate"), (0.1, "weak"))


@dataclass(frozen=True)
class AttributeAssociation:
    """Labels broken down by one metadata attribute, with Cramér's V as the strength.

    ``table`` is ``{attribute level: {label: n}}`` (zero cells omitted).
    """

    attribute: str
    n_levels: int
    cramers_v: float
    chi2: float
    p_value: float
    table: dict[str, dict[str, int]]

    @property
    def strength(self) -> str:
        """The band of :data:`STRENGTH_BANDS` its Cramér's V falls in (``negligible`` below them all)."""
        return next((name for low, name in STRENGTH_BANDS if self.cramers_v >= low), "negligible")


@dataclass(frozen=True)
class BiasResult:
    """How labels shift between splits and how they go with metadata attributes."""

    split_shifts: tuple[SplitShift, ...] = ()
    attributes: tuple[AttributeAssociation, ...] = ()
    skipped_attributes: tuple[tuple[str, str], ...] = ()

    @property
    def notable(self) -> tuple[AttributeAssociation, ...]:
        """Associations of moderate strength or more."""
        return tuple(a for a in self.attributes if a.strength in ("strong", "moderate"))

    @property
    def n_findings(self) -> int:
        return len(self.notable)

    def summary(self) -> str:
        lines = [f"{len(self.notable)} attributes go with the labels (moderate or strong); "
                 f"{len(self.split_shifts)} split pairs compared"]
        lines += [f"split shift {printable(s.split_a)} vs {printable(s.split_b)}: JS divergence "
                  f"{s.js_divergence:.3f}, Cramér's V {s.cramers_v:.2f}" for s in self.split_shifts[:2]]
        lines += [f"labels vs {printable(a.attribute)}: Cramér's V {a.cramers_v:.2f} ({a.strength})"
                  for a in self.notable[:2]]
        return "\n".join(lines)

    def finding_rows(self) -> tuple[Finding, ...]:
        """Each attribute that goes with the labels, by attribute."""
        return tuple(Finding("attribute", (), (a.attribute,), None, a.cramers_v, a.strength) for a in self.notable)

    def to_frame(self):
        """One row per attribute analysed: ``attribute, n_levels, cramers_v, p_value, strength``."""
        import pandas as pd

        return pd.DataFrame([{"attribute": a.attribute, "n_levels": a.n_levels, "cramers_v": a.cramers_v,
                              "p_value": a.p_value, "strength": a.strength} for a in self.attributes],
                            columns=["attribute", "n_levels", "cramers_v", "p_value", "strength"])

    def to_export(self) -> dict[str, Any]:
        return {"bias": {
            "split_shifts": [{"split_a": s.split_a, "split_b": s.split_b, "js_divergence": s.js_divergence,
                              "p_value": s.p_value, "cramers_v": s.cramers_v, "largest_gaps": dict(s.largest_gaps),
                              "missing_in_b": list(s.missing_in_b)} for s in self.split_shifts],
            "attributes": [{"attribute": a.attribute, "n_levels": a.n_levels, "cramers_v": a.cramers_v,
                            "p_value": a.p_value, "strength": a.strength} for a in self.attributes],
            "skipped_attributes": dict(self.skipped_attributes)}}


