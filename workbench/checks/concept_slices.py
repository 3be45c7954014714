"""Concept slices, the pure part: per-image attribute levels crossed with the labels.

Each attribute (``setting``, ``weather``, ``imagenet concept``...) gives every image a level or ``None``
(unsure). An attribute × class table with Cramér's V says how much the attribute goes with the labels;
a class is *dominated* by a level when at least ``dominance`` of its images carry it and the other
classes' images carry it at least ``min_lift`` less often ("90% of 'boat' images: water", 20% elsewhere).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from workbench.results.concepts import ConceptExample, ConceptSlicesResult, DominatedClass


def find_dominated(labels: Sequence[str | None], attributes: Mapping[str, Sequence[str | None]], *,
                   dominance: float = 0.9, min_lift: float = 0.2, min_class_size: int = 20,
                   skip_level: str | None = None) -> tuple[list, list[DominatedClass]]:
    """Attribute × class tables (:class:`~workbench.results.composition.AttributeAssociation`) and the
    dominated classes, strongest first. Images without a label or a level are left out of each table.

    Example:
        >>> labels = ["boat"] * 20 + ["car"] * 20
        >>> bg = ["water"] * 19 + ["road"] + ["road"] * 14 + ["water"] * 6
        >>> tables, dominated = find_dominated(labels, {"background": bg})
        >>> [d.sentence() for d in dominated]
        ["95% of 'boat' images: background = water (30% of the other classes)"]
    """
    from workbench.checks.bias import attribute_association

    tables, dominated = [], []
    for name, values in attributes.items():
        rows = [i for i, (lab, v) in enumerate(zip(labels, values)) if lab is not None and v is not None]
        if len({values[i] for i in rows}) < 2 or len({labels[i] for i in rows}) < 2:
            continue
        tables.append(attribute_association(name, [values[i] for i in rows], [labels[i] for i in rows]))
        per_class: dict[str, Counter] = {}
        for i in rows:
            per_class.setdefault(labels[i], Counter())[values[i]] += 1
        total = Counter(values[i] for i in rows)
        for label, counts in per_class.items():
            n = sum(counts.values())
            if n < min_class_size:
                continue
            ranked = [(lv, c) for lv, c in counts.most_common() if lv != skip_level]
            if not ranked:
                continue
            level, k = ranked[0]
            rest_n = len(rows) - n
            share, rest = k / n, (total[level] - k) / rest_n if rest_n else 0.0
            if share >= dominance and share - rest >= min_lift:
                dominated.append(DominatedClass(label, name, str(level), n, round(share, 4), round(rest, 4)))
    dominated.sort(key=lambda d: (-(d.share - d.share_in_rest), d.label, d.attribute))
    tables.sort(key=lambda a: -a.cramers_v)
    return tables, dominated


def concept_slices(sample_ids: Sequence[str], filepaths: Sequence[str], labels: Sequence[str | None],
                   attributes: Mapping[str, Sequence[str | None]], confidence: Mapping[str, Sequence[float]],
                   concepts: Mapping[str, tuple[str, ...]], *, source: str, note: str, dominance: float = 0.9,
                   min_lift: float = 0.2, min_class_size: int = 20, max_examples: int = 12,
                   skip_level: str | None = None) -> ConceptSlicesResult:
    """The result: tables, dominated classes and, for each, its most confident example images.
    ``skip_level`` (e.g. the level lumping rare concepts) never dominates."""
    tables, dominated = find_dominated(labels, attributes, dominance=dominance, min_lift=min_lift,
                                       min_class_size=min_class_size, skip_level=skip_level)
    examples = []
    for d in dominated:
        rows = [i for i, (lab, v) in enumerate(zip(labels, attributes[d.attribute]))
                if lab == d.label and v == d.level]
        rows.sort(key=lambda i: -confidence[d.attribute][i])
        examples += [ConceptExample(sample_ids[i], filepaths[i], d.label, d.attribute, d.level,
                                    round(float(confidence[d.attribute][i]), 4)) for i in rows[:max_examples]]
    settings = {"dominance": dominance, "min_lift": min_lift, "min_class_size": min_class_size}
    return ConceptSlicesResult(source, note, tuple(tables), tuple(dominated), tuple(examples), dict(concepts),
                               sum(any(v[i] is not None for v in attributes.values()) for i in range(len(labels))),
                               settings)
