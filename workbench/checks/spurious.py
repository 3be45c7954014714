"""Spurious correlations: image properties a model could learn instead of the object.

Each property of :data:`~workbench.checks.image_properties.PROPERTIES` (brightness, contrast,
sharpness, colourfulness, greyscale, size, aspect ratio, file format, JPEG quality) is tested against
the image labels by :func:`~workbench.checks.property_association.associate_property`: flagged when it
predicts the labels as a whole (cleanlab Datalab's score, with a permutation test) or when it tells
one class apart from the rest (one-vs-rest AUC). The images of a flagged class on its side of the
rule are kept as examples (tagged ``wb:shortcut`` in FiftyOne), most extreme first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from workbench.checks.image_properties import PROPERTIES, property_measures, property_table
from workbench.checks.property_association import associate_property, valid_rows
from workbench.checks.registry import (CheckInputs, GateSpec, PanelSpec, Requirement, SampleTag, SavedView, Writes,
                                       get_check, register_check)
from workbench.results.spurious import PropertyAssociation, ShortcutExample, SpuriousCorrelationResult

if TYPE_CHECKING:
    from workbench.config import AuditConfig

IMAGE_LABELS = Requirement(
    "image labels", lambda i: i.task == "classification" and any(x is not None for x in i.columns.labels),
    "needs image-level class labels (a Classification field)",
    {"detection": "a detection image holds several classes; properties are tested against image labels only",
     "segmentation": "a segmentation image holds several classes; properties are tested against image labels only"})

TAG = "wb:shortcut"


@dataclass(frozen=True)
class SpuriousOptions:
    """``spurious_correlations`` options (``--check-option spurious_correlations.KEY=VALUE``)."""

    #: Flag a property whose score (1 - accuracy over 1 - the largest class's share) is at or under this.
    threshold: float = 0.3
    #: Flag a class the property tells apart with a one-vs-rest AUC at least this far from chance (≥ x or ≤ 1 - x).
    class_auc: float = 0.9
    #: A class (and the rest) needs this many images with the property measured to be flagged.
    min_class_size: int = 20
    #: Permutation-test level for the dataset-wide flag.
    alpha: float = 0.01
    #: Label permutations in that test.
    permutations: int = 199
    #: Example images kept per flagged class and property (most extreme first).
    max_examples: int = 24
    #: Comma-separated properties to test (empty: all).
    properties: str = ""

    def __post_init__(self) -> None:
        if not 0 < self.threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1], not {self.threshold!r}")
        if not 0.5 < self.class_auc <= 1:
            raise ValueError(f"class_auc must be in (0.5, 1], not {self.class_auc!r}")
        if self.min_class_size < 2:
            raise ValueError(f"min_class_size must be at least 2, not {self.min_class_size!r}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), not {self.alpha!r}")
        if not 19 <= self.permutations <= 10_000:
            raise ValueError(f"permutations must be 19 to 10,000, not {self.permutations!r}")
        if self.max_examples < 0:
            raise ValueError(f"max_examples must be 0 or more, not {self.max_examples!r}")
        unknown = sorted(set(self.selected()) - set(PROPERTIES))
        if unknown:
            raise ValueError(f"properties: unknown {', '.join(map(repr, unknown))}; known: {', '.join(PROPERTIES)}")

    def selected(self) -> tuple[str, ...]:
        names = tuple(dict.fromkeys(p.strip() for p in self.properties.split(",") if p.strip()))
        return names or tuple(PROPERTIES)


def find_spurious_correlations(sample_ids: Sequence[str], filepaths: Sequence[str], labels: Sequence[str | None],
                               table: dict[str, Sequence[Any]], *, options: SpuriousOptions = SpuriousOptions(),
                               seed: int = 0) -> SpuriousCorrelationResult:
    """Test each property column of ``table`` (a name of :data:`PROPERTIES` -> a value per row, ``None``
    where not measured) against ``labels``.

    A property is skipped, with the reason, when fewer than two classes or values remain after
    dropping the rows without one, or too few rows to fold.

    Example:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> labels = ["bag"] * 40 + ["coat"] * 40
        >>> bright = list(rng.uniform(0.6, 0.9, 40)) + list(rng.uniform(0.1, 0.4, 40))
        >>> r = find_spurious_correlations([str(i) for i in range(80)], ["f"] * 80, labels,
        ...                                {"brightness": bright, "file_format": ["PNG"] * 80})
        >>> [p.property for p in r.flagged], r.skipped
        (['brightness'], (('file_format', 'has a single value'),))
    """
    props, skipped = [], []
    sides: dict[tuple[str, str], list[tuple[Any, int]]] = {}  # (property, class) -> (value, row) on the rule's side
    measured_rows: set[int] = set()
    for name in options.selected():
        if name not in table:
            continue
        kind, description = PROPERTIES[name]
        rows = valid_rows(table[name], labels)
        values = [table[name][i] for i in rows]
        labs = [labels[i] for i in rows]
        why = _why_skipped(values, labs, kind)
        if why:
            skipped.append((name, why))
            continue
        measured_rows.update(rows)
        assoc = associate_property(name, kind, description, values, labs, threshold=options.threshold,
                                   class_auc=options.class_auc, min_class_size=options.min_class_size,
                                   alpha=options.alpha, permutations=options.permutations, seed=seed)
        props.append(assoc)
        for profile in assoc.flagged_classes:
            on_side = [(v, i) for v, i in zip(values, rows) if labels[i] == profile.label and _on_side(v, profile)]
            if profile.side != "is":  # most extreme first
                on_side.sort(key=lambda t: t[0], reverse=profile.side == "high")
            sides[name, profile.label] = on_side
    # flagged first, the one that sets a class apart most clearly first, then by the dataset-wide score
    props.sort(key=lambda p: (not p.flagged, -max((c.strength for c in p.flagged_classes), default=0.0),
                              p.uncorrelatedness, p.property))
    props = _same_images(props, sides)
    examples = [ShortcutExample(sample_ids[i], filepaths[i], c.label, p.property, v, c.rule(p.property), c.auc)
                for p in props if p.flagged and not p.same_as for c in p.flagged_classes
                for v, i in sides[p.property, c.label][:options.max_examples]]
    settings = {"threshold": options.threshold, "class_auc": options.class_auc,
                "min_class_size": options.min_class_size, "alpha": options.alpha,
                "permutations": options.permutations, "max_examples": options.max_examples}
    return SpuriousCorrelationResult(tuple(props), tuple(skipped), tuple(examples), settings, len(measured_rows))


def _same_images(props: list[PropertyAssociation], sides: dict[tuple[str, str], list[tuple[Any, int]]],
                 overlap: float = 0.9) -> list[PropertyAssociation]:
    """Mark a flagged property whose every flagged class holds (Jaccard ≥ ``overlap``) the same images on its
    rule's side as an earlier flagged property's: one shortcut seen twice (grey images are not colourful)."""
    import dataclasses

    out: list[PropertyAssociation] = []
    for p in props:
        if p.flagged:
            for q in (q for q in out if q.flagged and not q.same_as):
                pairs = [(set(i for _, i in sides[p.property, c.label]),
                          set(i for _, i in sides.get((q.property, c.label), []))) for c in p.flagged_classes]
                if all(b and len(a & b) >= overlap * len(a | b) for a, b in pairs):
                    p = dataclasses.replace(p, same_as=q.property)
                    break
        out.append(p)
    return out


def _why_skipped(values: list[Any], labels: list[str | None], kind: str) -> str:
    if not values:
        return "not measured on any labelled image"
    if len({str(v) if kind == "categorical" else v for v in values}) < 2:
        return "has a single value"
    if len(set(labels)) < 2:
        return "the images it was measured on hold a single class"
    if len(values) < 10:
        return f"measured on {len(values)} labelled images (10 needed)"
    return ""


def _on_side(value: Any, profile: Any) -> bool:
    if profile.side == "is":
        return str(value) == profile.cut
    return value <= profile.cut if profile.side == "low" else value >= profile.cut


@register_check(
    name="spurious_correlations", title="spurious", result=SpuriousCorrelationResult,
    report_title="Spurious correlations",
    needs=(IMAGE_LABELS,), count_key="spurious_correlations",
    writes=Writes(tags=(SampleTag("shortcut", TAG, lambda r: {e.sample_id for e in r.examples}),),
                  views=(SavedView("shortcuts", "wb-shortcuts", TAG),)),
    gate=GateSpec("spurious", "image properties that predict the labels", lambda r: r.n_findings,
                  total=lambda r, audit: len(r.properties)),
    section="sections/spurious.html.j2", panel=PanelSpec("Spurious correlations"),
    figures="workbench.render.property_figures:spurious_figures", options=SpuriousOptions,
    file_measures=property_measures, measures_version=1, reads_measures=("image_quality",),
    absent_export={"spurious_correlations": None})
def run(inputs: CheckInputs, config: AuditConfig, options: SpuriousOptions) -> SpuriousCorrelationResult:
    """The properties from the file facts, the image-quality measures and this check's own measures."""
    from workbench.errors import CheckNotApplicable

    cols = inputs.columns
    quality = inputs.measures(get_check("image_quality").measures_key)
    table = property_table(inputs.facts, quality, inputs.own_measures())
    result = find_spurious_correlations(cols.ids, cols.filepaths, cols.labels, table, options=options,
                                        seed=config.seed)
    if not result.properties:  # nothing looked at: a skip with the reasons, so a gate on it can't pass
        by_reason: dict[str, list[str]] = {}
        for name, why in result.skipped:
            by_reason.setdefault(why, []).append(name)
        raise CheckNotApplicable("no image property could be tested: " + "; ".join(
            f"{', '.join(names)}: {why}" for why, names in by_reason.items()))
    return result
