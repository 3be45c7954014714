"""Object-level label issues: one flagged box (or a box the annotators missed) with its evidence.

Shared by both ways of finding them: a detector's predictions scored with cleanlab's
``object_detection`` module, and, without a detector, the crops of the boxes embedded and voted
among their nearest crops (``workbench.checks.object_crops``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from workbench.results.mask_grid import MaskGrid, mask_export
from workbench.results.protocol import Finding, box_key, printable

#: ``swapped``: the box is right but its class is not; ``badly_located``: the class is right but the
#: box is off; ``overlooked``: an object with no box (the box is where it should be; no object id).
ObjectIssueKind = Literal["swapped", "badly_located", "overlooked"]
OBJECT_ISSUE_KINDS: tuple[str, ...] = ("swapped", "badly_located", "overlooked")


@dataclass(frozen=True)
class ObjectLabelIssue:
    """One object whose annotation is likely wrong.

    ``box`` is FiftyOne's relative ``(x, y, w, h)``; ``object_id`` is the annotated object's id
    (``None`` for ``overlooked``: there is no annotation). ``score`` is the label quality in [0, 1]
    (low = likely wrong); ``suggested_label`` the class the evidence points to (``None``: no
    suggestion); ``method`` ``predictions`` or ``crops``.

    Example:
        >>> ObjectLabelIssue("s1", "/d/a.jpg", "o1", "cat", (0.1, 0.1, 0.2, 0.2), "swapped", 0.08, "dog",
        ...                  "crops").kind
        'swapped'
    """

    sample_id: str
    filepath: str
    object_id: str | None
    label: str | None
    box: tuple[float, float, float, float] | None
    kind: str
    score: float
    suggested_label: str | None
    method: str
    #: Segmentation only (``None`` otherwise): the flagged pixels of this ``label -> suggested_label`` pair
    #: on the working grid, and their share of the image.
    pixels: int | None = None
    pixel_share: float | None = None
    #: Segmentation only: where those pixels are, on a coarse grid over the image, for drawing.
    mask: MaskGrid | None = None


@dataclass(frozen=True)
class ImageLabelScore:
    """One assessed image: its label quality in [0, 1] (low = likely wrong; ``None``: not scored per image)
    and whether the image is flagged (cleanlab's ``find_label_issues``, or a flagged object)."""

    sample_id: str
    filepath: str
    score: float | None
    flagged: bool
    #: Segmentation only: the share of the image's pixels cleanlab flagged.
    flagged_share: float | None = None


@dataclass(frozen=True)
class ObjectLabelIssuesResult:
    """Object-level label issues: boxes with the wrong class (``swapped``), boxes in the wrong place
    (``badly_located``) and objects without a box (``overlooked``), worst first.

    ``method`` is ``predictions`` (a detector's boxes scored with cleanlab's ``object_detection``) or
    ``crops`` (no detector: the boxes' crops voted among their nearest crops) or ``segmentation`` (a mask's
    mislabelled regions from per-pixel probabilities: an issue is one ``label -> suggested_label`` region of
    an image, ``n_objects`` counts the images' class regions). ``images`` holds every
    assessed image's score; ``thresholds`` the per-kind cut-offs used; ``facts`` what the method
    measured (e.g. numbers of predicted boxes, crops or folds).

    Example:
        >>> r = ObjectLabelIssuesResult(method="predictions", issues=(ObjectLabelIssue("s1", "/d/a.jpg", "o1", "cat",
        ...     (0.1, 0.1, 0.2, 0.2), "swapped", 0.08, "dog", "predictions"),), n_images=3, n_objects=7)
        >>> r.counts(), r.n_findings
        ({'swapped': 1, 'badly_located': 0, 'overlooked': 0}, 1)
    """

    method: str
    issues: tuple[ObjectLabelIssue, ...] = ()
    images: tuple[ImageLabelScore, ...] = ()
    n_images: int = 0
    n_objects: int = 0
    thresholds: dict[str, float] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)

    KINDS = OBJECT_ISSUE_KINDS

    @property
    def n_findings(self) -> int:
        return len(self.issues)

    def counts(self) -> dict[str, int]:
        """``{kind: issues}`` in :data:`OBJECT_ISSUE_KINDS` order."""
        return {k: sum(i.kind == k for i in self.issues) for k in OBJECT_ISSUE_KINDS}

    @property
    def flagged_images(self) -> tuple[str, ...]:
        """Sample ids of the flagged images, worst first."""
        return tuple(i.sample_id for i in sorted(self.images, key=_image_order) if i.flagged)

    def summary(self) -> str:
        """A headline, then the kinds and the classes suggested most.

        Example:
            >>> ObjectLabelIssuesResult(method="predictions", n_images=4, n_objects=9).summary()
            'no object label issue among 9 objects in 4 images (predictions)'
        """
        things = "class regions" if self.method == "segmentation" else "objects"
        if not self.issues:
            return (f"no object label issue among {self.n_objects:,} {things} in {self.n_images:,} images "
                    f"({self.method})")
        parts = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in self.counts().items() if n)
        if self.method == "segmentation":
            parts = f"{parts} (mislabelled regions)"
        head = (f"{len(self.issues):,} object label issues in {len(self.flagged_images):,} of {self.n_images:,} "
                f"images ({self.method}): {parts}")
        swaps = Counter((printable(i.label), printable(i.suggested_label)) for i in self.issues
                        if i.kind == "swapped" and i.suggested_label is not None)
        if not swaps:
            return head
        return head + "\n" + "swapped most: " + ", ".join(f"{a} -> {b} ({n})" for (a, b), n in swaps.most_common(4))

    def finding_rows(self) -> tuple[Finding, ...]:
        """Each object label issue, by file, kind, label and box (rounded to 1%)."""
        return tuple(Finding(i.kind, (i.filepath,), (i.label or "", box_key(i.box)), i.label, i.score,
                             f"suggested {i.suggested_label}" if i.suggested_label else "") for i in self.issues)

    def to_frame(self) -> Any:
        """One row per flagged object, worst first: ``sample_id, filepath, object_id, label, box, kind,
        suggested_label``, ``is_<kind>_issue`` for each kind and ``object_label_score`` (low = bad);
        segmentation adds ``pixels`` and ``pixel_share``."""
        import pandas as pd

        seg = self.method == "segmentation"
        cols = ["sample_id", "filepath", "object_id", "label", "box", "kind", "suggested_label",
                *(f"is_{k}_issue" for k in OBJECT_ISSUE_KINDS), "object_label_score", "method",
                *(("pixels", "pixel_share") if seg else ())]
        return pd.DataFrame([{"sample_id": i.sample_id, "filepath": i.filepath, "object_id": i.object_id,
                              "label": i.label, "box": None if i.box is None else list(i.box), "kind": i.kind,
                              "suggested_label": i.suggested_label,
                              **{f"is_{k}_issue": i.kind == k for k in OBJECT_ISSUE_KINDS},
                              "object_label_score": i.score, "method": i.method,
                              **({"pixels": i.pixels, "pixel_share": i.pixel_share} if seg else {})}
                             for i in self.issues], columns=cols)

    def to_export(self) -> dict[str, Any]:
        """``{"object_label_issues": {...}}``: counts, thresholds, facts, issues and image scores by path."""
        return {"object_label_issues": {
            "method": self.method, "n_images": self.n_images, "n_objects": self.n_objects, "counts": self.counts(),
            "thresholds": dict(self.thresholds), "facts": dict(self.facts),
            "issues": [{"path": i.filepath, "object_id": i.object_id, "label": i.label,
                        "box": None if i.box is None else list(i.box), "kind": i.kind, "score": i.score,
                        "suggested_label": i.suggested_label, "mask": mask_export(i.mask),
                        **({} if i.pixels is None else {"pixels": i.pixels, "pixel_share": i.pixel_share})}
                       for i in self.issues],
            "images": [{"path": i.filepath, "score": i.score, "flagged": i.flagged,
                        **({} if i.flagged_share is None else {"flagged_share": i.flagged_share})}
                       for i in sorted(self.images, key=_image_order)]}}


def _image_order(image: ImageLabelScore) -> tuple:
    return (not image.flagged, 2.0 if image.score is None else image.score, image.filepath)
