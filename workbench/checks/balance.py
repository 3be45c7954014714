"""Class balance: counts per class and split, the smallest/largest ratio, per-class readiness."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import TYPE_CHECKING, Sequence

from workbench.checks.registry import ANY_LABELS, CheckInputs, GateSpec, PanelSpec, register_check
from workbench.config import READINESS_TABLE
from workbench.results import BalanceResult, ClassReadiness

if TYPE_CHECKING:
    from workbench.config import AuditConfig

LEVELS = ("below minimum", "minimum", "good", "excellent")


def readiness_of(count: int, thresholds: tuple[int, int, int]) -> ClassReadiness:
    """Where ``count`` stands against (minimum, good, excellent)."""
    minimum, good, excellent = thresholds
    bounds = [minimum, good, excellent]
    level = LEVELS[sum(count >= b for b in bounds)]
    nxt = next(((LEVELS[k + 1], b) for k, b in enumerate(bounds) if count < b), None)
    return ClassReadiness(label="", count=count, level=level, next_level=nxt[0] if nxt else None,
                          needed_for_next=(nxt[1] - count) if nxt else 0)


def class_balance(labels: Sequence[Sequence[str]], splits: Sequence[str | None], *, task: str = "classification",
                  min_ratio: float = 0.10,
                  readiness: dict[str, tuple[int, int, int]] | None = None) -> BalanceResult:
    """Count classes per split and judge them against the data guide.

    Args:
        labels: per sample, the list of its classes (one for classification, one per object for detection).
        splits: per sample, its split or None.
        task: ``classification``, ``detection`` or ``segmentation``; picks the readiness row and the unit.
        min_ratio: the smallest class should have at least this share of the largest.

    The ratio and the readiness are judged on the train split when there is one (that is
    what the model learns from), else on all samples.

    Example:
        >>> r = class_balance([["cat"]] * 50 + [["dog"]] * 4, ["train"] * 54)
        >>> r.imbalance_ratio, r.below_ratio
        (0.08, ('dog',))
    """
    table = readiness or READINESS_TABLE
    thresholds = table.get(task, table["classification"])
    counts: dict[str, Counter] = defaultdict(Counter)
    n_unlabeled = 0
    for labs, split in zip(labels, splits):
        key = split or "all"
        if not labs:
            n_unlabeled += 1
        counts[key].update(labs)
    classes = sorted({c for cnt in counts.values() for c in cnt})
    totals = Counter()
    for cnt in counts.values():
        totals.update(cnt)
    basis = counts["train"] if "train" in counts else totals
    basis_name = "train" if "train" in counts else "all"
    per_class = {c: basis.get(c, 0) for c in classes}
    ratio = rarest = most = None
    below: tuple[str, ...] = ()
    if per_class:
        most = max(per_class, key=lambda c: (per_class[c], c))
        rarest = min(per_class, key=lambda c: (per_class[c], c))
        ratio = round(per_class[rarest] / per_class[most], 6) if per_class[most] else None
        below = tuple(sorted(c for c, n in per_class.items() if n < min_ratio * per_class[most]))
    ready = tuple(ClassReadiness(label=c, count=n, level=r.level, next_level=r.next_level,
                                 needed_for_next=r.needed_for_next)
                  for c, n in per_class.items() for r in [readiness_of(n, thresholds)])
    negative_share = None
    if task == "detection" and labels:
        negative_share = round(sum(1 for labs in labels if not labs) / len(labels), 6)
    return BalanceResult(
        task=task if task in ("classification", "detection", "segmentation") else "classification",
        unit="instances" if task == "detection" else "images",
        counts={s: {c: int(cnt.get(c, 0)) for c in classes} for s, cnt in sorted(counts.items())},
        totals={c: int(totals[c]) for c in classes}, imbalance_ratio=ratio, min_ratio=min_ratio, rarest=rarest,
        most_common=most, below_ratio=below, readiness=ready,
        thresholds={"minimum": thresholds[0], "good": thresholds[1], "excellent": thresholds[2]},
        n_unlabeled=0 if task == "detection" else n_unlabeled, negative_share=negative_share, basis=basis_name)


@register_check(
    name="balance", title="balance", result=BalanceResult, needs=(ANY_LABELS,), count_key="imbalanced_classes",
    gate=GateSpec("imbalance", "classes below the ratio", lambda r: len(r.below_ratio),
                  total=lambda r, audit: len(audit.classes)),
    section="sections/balance.html.j2", panel=PanelSpec("Bias & imbalance", "workbench.panels.bias:bias_panel"),
    absent_export={"class_counts": {}, "balance": None})
def run(inputs: CheckInputs, config: AuditConfig, options: None) -> BalanceResult:
    cols = inputs.columns
    return class_balance([list(labs) for labs in cols.label_lists], list(cols.splits), task=inputs.task,
                         min_ratio=config.min_class_ratio, readiness=config.readiness)
