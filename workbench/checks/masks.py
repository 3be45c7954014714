"""Segmentation masks that can't be right: missing, unreadable, empty (background only), or holding
values the dataset's mask targets don't name (a class the training code will not know)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.checks.registry import (CheckInputs, GateSpec, Requirement, SampleField, SampleTag, SavedView, Writes,
                                       register_check)
from workbench.results.mask_grid import MaskGrid, mask_export
from workbench.results.protocol import Finding

if TYPE_CHECKING:
    from workbench.config import AuditConfig

KINDS = ("missing", "unreadable", "empty", "unknown values")


@dataclass(frozen=True)
class MaskProblem:
    sample_id: str
    filepath: str
    #: One of :data:`KINDS`.
    kind: str
    #: E.g. ``unknown values: 7, 9``.
    detail: str
    #: The classes the mask holds, as the table names them.
    classes: tuple[str, ...] = ()
    #: For ``unknown values``: where the mask holds them, on a coarse grid over the image (for drawing).
    mask: MaskGrid | None = None


@dataclass(frozen=True)
class MasksResult:
    """The masks with a problem, by kind; ``n_masks`` images were looked at."""

    problems: tuple[MaskProblem, ...] = ()
    n_masks: int = 0

    @property
    def n_findings(self) -> int:
        return len(self.problems)

    def summary(self) -> str:
        """Example:
            >>> MasksResult(n_masks=3).summary()
            'every one of 3 masks holds named classes'
        """
        if not self.problems:
            return f"every one of {self.n_masks} masks holds named classes"
        kinds = Counter(p.kind for p in self.problems)
        return f"{len(self.problems)} of {self.n_masks} masks: " + ", ".join(f"{n} {k}" for k, n in kinds.items())

    def finding_rows(self) -> tuple[Finding, ...]:
        """Each mask problem, by file and kind."""
        return tuple(Finding(p.kind, (p.filepath,), (), None, None, p.detail) for p in self.problems)

    def to_frame(self) -> Any:
        """One row per mask with a problem: ``sample_id, filepath, label`` (its classes), ``kind``, ``detail``."""
        import pandas as pd

        return pd.DataFrame([{"sample_id": p.sample_id, "filepath": p.filepath, "label": ", ".join(p.classes) or None,
                              "kind": p.kind, "detail": p.detail, "is_mask_issue": True} for p in self.problems],
                            columns=["sample_id", "filepath", "label", "kind", "detail", "is_mask_issue"])

    def to_export(self) -> dict[str, Any]:
        return {"masks": {"n_masks": self.n_masks,
                          "problems": [{"path": p.filepath, "kind": p.kind, "detail": p.detail,
                                        "classes": list(p.classes), "mask": mask_export(p.mask)}
                                       for p in self.problems]}}


def find_mask_problems(sample_ids: Any, filepaths: Any, label_lists: Any, problems: Any,
                       regions: Any = ()) -> MasksResult:
    """One :class:`MaskProblem` per sample whose mask problem (from the table) is not ``None``, with where the
    mask holds unknown values when ``regions`` (aligned, from the table) says.

    Example:
        >>> r = find_mask_problems(["a", "b"], ["/a", "/b"], [["road"], ["7"]], [None, "unknown values: 7"])
        >>> [(p.sample_id, p.kind) for p in r.problems]
        [('b', 'unknown values')]
    """
    regions = list(regions) or [None] * len(sample_ids)
    found = tuple(MaskProblem(sid, fp, problem.split(":")[0], problem, tuple(labs), region)
                  for sid, fp, labs, problem, region in zip(sample_ids, filepaths, label_lists, problems, regions)
                  if problem)
    return MasksResult(problems=found, n_masks=len(sample_ids))


MASKS = Requirement("segmentation masks", lambda i: i.task == "segmentation" and bool(i.columns.mask_problems),
                    "needs segmentation masks (a Segmentation field)")
TAG = "wb:mask_problem"


@register_check(
    name="masks", title="masks", result=MasksResult, needs=(MASKS,), count_key="mask_problems",
    writes=Writes(fields=(SampleField("mask_problem", "wb_mask_problem",
                                      lambda r: {p.sample_id: p.detail for p in r.problems}),),
                  tags=(SampleTag("mask_problem", TAG, lambda r: {p.sample_id for p in r.problems}),),
                  views=(SavedView("mask_problems", "wb-mask-problems", TAG),)),
    gate=GateSpec("mask-problems", "masks with a problem", lambda r: r.n_findings,
                  total=lambda r, audit: max(r.n_masks, 1)),
    absent_export={"masks": None})
def run(inputs: CheckInputs, config: AuditConfig, options: None) -> MasksResult:
    cols = inputs.columns
    return find_mask_problems(cols.ids, cols.filepaths, cols.label_lists, cols.mask_problems, cols.mask_regions)
