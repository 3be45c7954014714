"""The concept-slices result: attributes named by a model, crossed with the labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.results.composition import AttributeAssociation
from workbench.results.protocol import Finding, printable


@dataclass(frozen=True)
class DominatedClass:
    """A class whose images mostly share one level of an attribute ("90% of 'boat' images: water"),
    far more than the other classes' images do."""

    label: str
    attribute: str
    level: str
    n: int
    share: float
    share_in_rest: float

    def sentence(self) -> str:
        return (f"{self.share:.0%} of {printable(self.label)!r} images: {self.attribute} = {printable(self.level)} "
                f"({self.share_in_rest:.0%} of the other classes)")


@dataclass(frozen=True)
class ConceptExample:
    """An image of a dominated class that carries the dominant level."""

    sample_id: str
    filepath: str
    label: str
    attribute: str
    level: str
    confidence: float


@dataclass(frozen=True)
class ConceptSlicesResult:
    """``source`` says where the attributes came from (``clip zero-shot`` or ``imagenet top-1``) and
    ``note`` how to read them; ``attributes`` are attribute × class tables with Cramér's V."""

    source: str
    note: str
    attributes: tuple[AttributeAssociation, ...] = ()
    dominated: tuple[DominatedClass, ...] = ()
    examples: tuple[ConceptExample, ...] = ()
    #: Per sample id, its concepts (``attribute: level`` for prompts; the top-k ImageNet classes).
    concepts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    n_images: int = 0
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def n_findings(self) -> int:
        return len(self.dominated)

    def level_rows(self, attribute: AttributeAssociation, limit: int = 15) -> tuple[list[str], list[tuple]]:
        """An attribute's table for display: its classes, and ``(level, [n per class], total)`` rows, the
        most common levels first, at most ``limit``."""
        classes = sorted({c for row in attribute.table.values() for c in row})
        rows = sorted(((lv, [row.get(c, 0) for c in classes], sum(row.values())) for lv, row in attribute.table.items()),
                      key=lambda t: (-t[2], t[0]))
        return classes, rows[:limit]

    def summary(self) -> str:
        head = (f"{len(self.dominated)} classes dominated by one context" if self.dominated else
                "no class is dominated by one context")
        lines = [f"{head} ({self.source}, {len(self.attributes)} attributes on {self.n_images:,} images)"]
        lines += [d.sentence() for d in self.dominated[:8]]
        strong = [a for a in self.attributes if a.strength in ("strong", "moderate")]
        if strong:
            lines.append("goes with the labels: " + ", ".join(f"{printable(a.attribute)} (V {a.cramers_v:.2f})"
                                                           for a in strong))
        lines.append(self.note)
        return "\n".join(lines)

    def to_frame(self) -> Any:
        """One row per example image of a dominated class."""
        import pandas as pd

        cols = ["sample_id", "filepath", "label", "attribute", "level", "confidence", "is_dominated_context_issue"]
        return pd.DataFrame([{"sample_id": e.sample_id, "filepath": e.filepath, "label": e.label,
                              "attribute": e.attribute, "level": e.level, "confidence": e.confidence,
                              "is_dominated_context_issue": True} for e in self.examples], columns=cols)

    def to_export(self) -> dict[str, Any]:
        return {"concept_slices": {
            "source": self.source, "note": self.note, "n_images": self.n_images, "settings": dict(self.settings),
            "attributes": [{"attribute": a.attribute, "n_levels": a.n_levels, "cramers_v": a.cramers_v,
                            "p_value": a.p_value, "strength": a.strength, "table": a.table} for a in self.attributes],
            "dominated": [{"label": d.label, "attribute": d.attribute, "level": d.level, "n": d.n,
                           "share": d.share, "share_in_rest": d.share_in_rest} for d in self.dominated]}}

    def finding_rows(self) -> tuple[Finding, ...]:
        """Each dominated class, by class, attribute and level."""
        return tuple(Finding("dominated_context", (), (d.label, d.attribute, d.level), d.label, d.share, d.sentence())
                     for d in self.dominated)
