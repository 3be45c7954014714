"""Bias: class-distribution shift between splits and label x attribute associations."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from workbench.checks.registry import ANY_LABELS, CheckInputs, PanelSpec, register_check
from workbench.results import AttributeAssociation, BiasResult, SplitShift

if TYPE_CHECKING:
    from workbench.config import AuditConfig


def chi2_cramers_v(table: np.ndarray) -> tuple[float, float, float]:
    """Chi-square statistic, p-value and Cramér's V of a contingency table (zero rows/cols dropped)."""
    from scipy.stats import chi2_contingency

    t = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    if t.shape[0] < 2 or t.shape[1] < 2:
        return 0.0, 1.0, 0.0
    chi2, p, _, _ = chi2_contingency(t, correction=False)
    n = t.sum()
    v = math.sqrt(chi2 / (n * (min(t.shape) - 1))) if n else 0.0
    return float(chi2), float(p), float(min(1.0, v))


def split_shift(counts: dict[str, dict[str, int]], split_a: str, split_b: str) -> SplitShift:
    """Compare the class distributions of two splits.

    Example:
        >>> s = split_shift({"train": {"a": 50, "b": 50}, "test": {"a": 90, "b": 10}}, "train", "test")
        >>> round(s.cramers_v, 2), s.largest_gaps[0][0]
        (0.44, 'a')
    """
    from scipy.spatial.distance import jensenshannon

    classes = sorted(set(counts[split_a]) | set(counts[split_b]))
    a = np.array([counts[split_a].get(c, 0) for c in classes], dtype=float)
    b = np.array([counts[split_b].get(c, 0) for c in classes], dtype=float)
    pa, pb = a / max(a.sum(), 1), b / max(b.sum(), 1)
    jsd = float(jensenshannon(pa, pb, base=2) ** 2) if a.sum() and b.sum() else 0.0
    chi2, p, v = chi2_cramers_v(np.vstack([a, b]))
    gaps = sorted(((c, round(float(pb[k] - pa[k]), 6)) for k, c in enumerate(classes)), key=lambda g: -abs(g[1]))
    missing = tuple(c for k, c in enumerate(classes) if a[k] > 0 and b[k] == 0)
    return SplitShift(split_a=split_a, split_b=split_b, js_divergence=round(jsd, 6), chi2=round(chi2, 4),
                      p_value=p, cramers_v=round(v, 6), largest_gaps=tuple(gaps[:3]), missing_in_b=missing)


def attribute_association(attribute: str, values: Sequence[Any], labels: Sequence[str]) -> AttributeAssociation:
    """Cross-tabulate labels by one attribute; Cramér's V measures how much the attribute predicts the label."""
    levels = sorted({str(v) for v in values})
    classes = sorted(set(labels))
    li = {lv: k for k, lv in enumerate(levels)}
    ci = {c: k for k, c in enumerate(classes)}
    table = np.zeros((len(levels), len(classes)), dtype=np.int64)
    for v, lab in zip(values, labels):
        table[li[str(v)], ci[lab]] += 1
    chi2, p, v = chi2_cramers_v(table)
    return AttributeAssociation(
        attribute=attribute, n_levels=len(levels), cramers_v=round(v, 6), chi2=round(chi2, 4), p_value=p,
        table={lv: {c: int(table[li[lv], ci[c]]) for c in classes if table[li[lv], ci[c]]} for lv in levels})


def size_bucket(width: int | None, height: int | None) -> str | None:
    """Coarse image-size bucket by the longer side."""
    if not width or not height:
        return None
    side = max(width, height)
    for limit, name in ((64, "<=64px"), (256, "65-256px"), (640, "257-640px"), (1280, "641-1280px")):
        if side <= limit:
            return name
    return ">1280px"


def aspect_bucket(width: int | None, height: int | None) -> str | None:
    if not width or not height:
        return None
    r = width / height
    return "portrait" if r < 0.9 else "landscape" if r > 1.1 else "square"


def find_bias(labels: Sequence[str | None], splits: Sequence[str | None], attributes: dict[str, Sequence[Any]],
              *, counts: dict[str, dict[str, int]] | None = None, max_levels: int = 30) -> BiasResult:
    """Split shifts (each split against train, or the first split) and label associations per attribute.

    Attributes with a single level, or more than ``max_levels``, are skipped with the reason.
    """
    if counts is None:
        counts = {}
        for lab, split in zip(labels, splits):
            if lab is not None and split is not None:
                counts.setdefault(split, {}).setdefault(lab, 0)
                counts[split][lab] += 1
    named = sorted(s for s in counts if s != "all")
    base = "train" if "train" in named else (named[0] if named else None)
    shifts = tuple(split_shift(counts, base, s) for s in named if s != base) if base else ()
    assocs, skipped = [], []
    for name, vals in attributes.items():
        pairs = [(v, lab) for v, lab in zip(vals, labels) if v is not None and lab is not None]
        n_levels = len({str(v) for v, _ in pairs})
        if n_levels < 2:
            skipped.append((name, "has a single value"))
        elif n_levels > max_levels:
            skipped.append((name, f"has {n_levels} distinct values (more than {max_levels})"))
        else:
            assocs.append(attribute_association(name, [v for v, _ in pairs], [lab for _, lab in pairs]))
    assocs.sort(key=lambda a: -a.cramers_v)
    return BiasResult(split_shifts=shifts, attributes=tuple(assocs), skipped_attributes=tuple(skipped))


@register_check(name="bias", title="bias", result=BiasResult, needs=(ANY_LABELS,), section="sections/bias.html.j2",
                panel=PanelSpec("Bias & imbalance"), absent_export={"bias": None})
def run(inputs: CheckInputs, config: AuditConfig, options: None) -> BiasResult:
    """Labels against image size, aspect ratio, file format and the table's metadata fields; detection
    repeats an image's attributes for each of its objects."""
    attrs: dict[str, Sequence[Any]] = {
        "image_size": [size_bucket(x.width, x.height) for x in inputs.facts],
        "aspect_ratio": [aspect_bucket(x.width, x.height) for x in inputs.facts],
        "file_format": [x.image_format for x in inputs.facts],
        **inputs.metadata}
    if config.bias_attributes is not None:
        attrs = {k: v for k, v in attrs.items() if k in config.bias_attributes}
    lists, splits = inputs.columns.label_lists, inputs.columns.splits
    idx = [i for i, labs in enumerate(lists) for _ in labs]
    labels = [lab for labs in lists for lab in labs]
    return find_bias(labels, [splits[i] for i in idx], {k: [v[i] for i in idx] for k, v in attrs.items()},
                     max_levels=config.max_attribute_levels)
