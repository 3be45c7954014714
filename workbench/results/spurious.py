"""Spurious correlations: simple image properties (brightness, size, format, JPEG quality...) that
predict the label, with the per-class evidence and the images that carry each shortcut."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.results.protocol import Finding, printable


@dataclass(frozen=True)
class ClassProfile:
    """One class against the rest of the dataset on one property.

    ``auc`` is the one-vs-rest separability in the direction of the class's rule, from 0.5 (none) to 1
    (the property alone tells the class apart): for a number, the probability that an image of the
    class is further along ``side`` than one of the rest; for a category, the balanced accuracy of the
    rule "value is ``cut``".
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
    #: Separated as clearly as a flagged class, but the class (or the rest) is under ``min_class_size``.
    too_small: bool = False
    #: A number: (5th, 25th, 50th, 75th, 95th percentile) of the class's values.
    quantiles: tuple[float, ...] = ()
    #: A category: ``{value: share of the class's images}``.
    shares: dict[str, float] = field(default_factory=dict)

    @property
    def strength(self) -> float:
        """How far from chance the class's separability is: 0 (none) to 1 (fully apart)."""
        return round(max(0.0, self.auc - 0.5) * 2, 6)

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
    #: What the flags leave out: classes separated as clearly but too small to flag.
    notes: tuple[str, ...] = ()
    #: A flagged property whose flagged classes carry the same images as an earlier, stronger property's
    #: (greyscale and colourfulness; size and aspect of one enlarged class): named here, not counted again.
    same_as: str = ""

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
        """Flagged properties, each shortcut once (a property with the same images as another is not counted)."""
        return sum(1 for p in self.flagged if not p.same_as)

    def summary(self) -> str:
        """A headline, then a line per flagged property (at most four).

        Example:
            >>> SpuriousCorrelationResult(n_samples=10).summary()
            'no image property predicts the labels (0 properties tested on 10 images)'
        """
        if not self.flagged:
            return (f"no image property predicts the labels ({_plural(len(self.properties), 'property', 'properties')}"
                    f" tested on {self.n_samples:,} images)")
        lines = [f"{len(self.flagged)} of {_plural(len(self.properties), 'image property', 'image properties')} "
                 "predict the labels: " + ", ".join(p.property + (f" (same images as {p.same_as})" if p.same_as else "")
                                                    for p in self.flagged)]
        shown = [p for p in self.flagged if not p.same_as]
        for p in shown[:4]:
            tops = sorted(p.flagged_classes, key=lambda c: -c.strength)[:2]
            said = "; ".join(f"{c.share_in_class:.0%} of '{printable(c.label)}' vs {c.share_in_rest:.0%} of the "
                             f"rest have {c.rule(p.property)}" for c in tops)
            lines.append(f"{p.property}: score {p.uncorrelatedness:.2f} (1 = no association)"
                         + (f"; {said}" if said else ""))
        if len(shown) > 4:
            lines.append(f"... and {len(shown) - 4} more flagged (see the report or the JSON)")
        return "\n".join(lines)

    def finding_rows(self) -> tuple[Finding, ...]:
        """Each flagged property, by property and the classes it sets apart."""
        return tuple(Finding("property", (), (p.property, *sorted(c.label for c in p.flagged_classes)), None,
                             p.uncorrelatedness, "; ".join(c.rule(p.property) for c in p.flagged_classes))
                     for p in self.flagged if not p.same_as)

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
                            "cramers_v": p.cramers_v, "flagged": p.flagged, "same_as": p.same_as or None,
                            "reasons": list(p.reasons), "notes": list(p.notes),
                            "classes": [{"label": c.label, "n": c.n, "auc": c.auc, "rule": c.rule(p.property),
                                         "share_in_class": c.share_in_class, "share_in_rest": c.share_in_rest,
                                         "flagged": c.flagged, "too_small": c.too_small}
                                        for c in p.classes if c.flagged or c.too_small]}
                           for p in self.properties],
            "skipped": dict(self.skipped), "settings": dict(self.settings)}}


def _plural(n: int, one: str, many: str) -> str:
    return f"{n:,} {one if n == 1 else many}"
