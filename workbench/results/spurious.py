"""Spurious correlations: simple image properties (brightness, size, format, JPEG quality...) that
predict the label, with the per-class evidence and the images that carry each shortcut."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.results.protocol import printable


@dataclass(frozen=True)
class ClassProfile:
    """One class against the rest of the dataset on one property.

    ``auc`` is the one-vs-rest separability: for a number, the probability that an image of the
    class has a higher value than one of the rest (0.5: none; near 0 or 1: the property alone tells
    the class apart); for a category, the balanced accuracy of the rule "value is ``cut``".
    ``side`` and ``cut`` give the best single rule for the class (``low``: value ≤ cut, ``high``:
    value ≥ cut, ``is``: value is cut), and the shares of the class and of the rest it holds.
    """

    label: str
    n: int
    auc: float
    side: str
    cut: float | str | None
    share_in_class: float
    share_in_rest: float
    flagged: bool = False
    #: A number: (5th, 25th, 50th, 75th, 95th percentile) of the class's values.
    quantiles: tuple[float, ...] = ()
    #: A category: ``{value: share of the class's images}``.
    shares: dict[str, float] = field(default_factory=dict)

    @property
    def strength(self) -> float:
        """How far from chance the class's separability is: 0 (none) to 1 (fully apart)."""
        return round(abs(self.auc - 0.5) * 2, 6)

    def rule(self, prop: str) -> str:
        """The class's best single rule in words, e.g. ``jpeg_quality ≤ 30``."""
        if self.side == "is":
            return f"{prop} is {printable(self.cut)}"
        return f"{prop} {'≤' if self.side == 'low' else '≥'} {self.cut:.4g}"


@dataclass(frozen=True)
class PropertyAssociation:
    """How well one property predicts the label, out of fold, and which classes it tells apart.

    ``uncorrelatedness`` is cleanlab Datalab's ``spurious_correlations`` score, ``(1 - accuracy) /
    (1 - baseline)`` capped at 1, with ``baseline`` the majority class's share: 1 means the property
    predicts no better than always guessing the largest class, 0 that it predicts every label.
    ``p_value`` is the share of label permutations whose accuracy reached this one (a permutation test).
    """

    property: str
    kind: str
    description: str
    n: int
    accuracy: float
    baseline: float
    uncorrelatedness: float
    p_value: float
    cramers_v: float
    flagged: bool
    reasons: tuple[str, ...] = ()
    classes: tuple[ClassProfile, ...] = ()

    @property
    def flagged_classes(self) -> tuple[ClassProfile, ...]:
        return tuple(c for c in self.classes if c.flagged)


@dataclass(frozen=True)
class ShortcutExample:
    """An image of a flagged class on the class's side of the rule: what a model could learn from."""

    sample_id: str
    filepath: str
    label: str
    property: str
    value: float | str
    rule: str
    auc: float


@dataclass(frozen=True)
class SpuriousCorrelationResult:
    """Per property tested, its association with the labels; the properties skipped and why; examples."""

    properties: tuple[PropertyAssociation, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    examples: tuple[ShortcutExample, ...] = ()
    #: The options that decided the flags (``threshold``, ``class_auc``, ``min_class_size``, ``alpha``, ...).
    settings: dict[str, float] = field(default_factory=dict)
    #: Samples with a label and at least one measured property.
    n_samples: int = 0

    @property
    def flagged(self) -> tuple[PropertyAssociation, ...]:
        return tuple(p for p in self.properties if p.flagged)

    @property
    def n_findings(self) -> int:
        return len(self.flagged)

    def summary(self) -> str:
        """A headline, then a line per flagged property (at most four).

        Example:
            >>> SpuriousCorrelationResult(n_samples=10).summary()
            'no image property predicts the labels (0 properties tested on 10 images)'
        """
        if not self.flagged:
            return (f"no image property predicts the labels ({len(self.properties)} properties tested on "
                    f"{self.n_samples:,} images)")
        lines = [f"{len(self.flagged)} of {len(self.properties)} image properties predict the labels: "
                 + ", ".join(p.property for p in self.flagged)]
        for p in self.flagged[:4]:
            tops = sorted(p.flagged_classes, key=lambda c: -c.strength)[:2]
            said = "; ".join(f"{c.share_in_class:.0%} of '{printable(c.label)}' vs {c.share_in_rest:.0%} of the "
                             f"rest have {c.rule(p.property)}" for c in tops)
            lines.append(f"{p.property}: score {p.uncorrelatedness:.2f} (1 = no association)"
                         + (f"; {said}" if said else ""))
        return "\n".join(lines)

    def to_frame(self) -> Any:
        """One row per example image: ``sample_id, filepath, label, property, value, rule, class_auc``, and
        ``is_spurious_correlation_issue`` / ``spurious_correlation_score`` (1 - 2·|AUC - 0.5|, low = strong)."""
        import pandas as pd

        columns = ["sample_id", "filepath", "label", "property", "value", "rule", "class_auc",
                   "is_spurious_correlation_issue", "spurious_correlation_score"]
        return pd.DataFrame([{"sample_id": e.sample_id, "filepath": e.filepath, "label": e.label,
                              "property": e.property, "value": e.value, "rule": e.rule, "class_auc": e.auc,
                              "is_spurious_correlation_issue": True,
                              "spurious_correlation_score": round(1 - abs(e.auc - 0.5) * 2, 6)}
                             for e in self.examples], columns=columns)

    def to_export(self) -> dict[str, Any]:
        return {"spurious_correlations": {
            "properties": [{"property": p.property, "kind": p.kind, "n": p.n, "accuracy": p.accuracy,
                            "baseline": p.baseline, "uncorrelatedness": p.uncorrelatedness, "p_value": p.p_value,
                            "cramers_v": p.cramers_v, "flagged": p.flagged, "reasons": list(p.reasons),
                            "classes": [{"label": c.label, "n": c.n, "auc": c.auc, "rule": c.rule(p.property),
                                         "share_in_class": c.share_in_class, "share_in_rest": c.share_in_rest,
                                         "flagged": c.flagged} for c in p.flagged_classes]}
                           for p in self.properties],
            "skipped": dict(self.skipped), "settings": dict(self.settings)}}
