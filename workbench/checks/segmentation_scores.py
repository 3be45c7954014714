"""Pixel label issues in semantic segmentation masks, from a model's per-pixel probabilities (cleanlab).

cleanlab's ``segmentation.rank.get_label_quality_scores(method="softmin")`` scores each image (in [0, 1],
low = likely wrong) and ``segmentation.filter.find_label_issues`` flags the pixels whose given class the
model contradicts with confidence (per-class thresholds learnt over every pixel of the dataset). For each
image the flagged pixels are grouped by ``(given class, predicted class)``; a pair covering at least
``min_share`` of the image is one issue (kind ``swapped``: the region is there, its class is not), carrying
where those pixels are on a coarse grid over the image (:func:`~workbench.results.mask_grid.mask_grid`).

The inputs are already on one working grid (:mod:`workbench.io.segmentation_predictions` samples large
or unequal masks), so cleanlab's own ``downsample`` stays at 1: it averages class *indices* over blocks,
which invents classes at boundaries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from workbench.results.mask_grid import REGION_CELLS, mask_grid
from workbench.results.object_labels import (
    ImageLabelScore,
    ObjectLabelIssue,
    ObjectLabelIssuesResult,
)


@dataclass(frozen=True)
class SegmentationThresholds:
    """``min_share``: the share of an image's pixels a ``given -> predicted`` pair must flag to be an
    issue; ``temperature``: cleanlab's softmin temperature for the image score."""

    min_share: float = 0.005
    temperature: float = 0.1


def find_segmentation_label_issues(sample_ids: Sequence[str], filepaths: Sequence[str], labels: Any, probs: Any,
                                   classes: Sequence[str], *,
                                   thresholds: SegmentationThresholds = SegmentationThresholds()
                                   ) -> ObjectLabelIssuesResult:
    """Per image a score and its flagged ``given -> predicted`` regions; method ``segmentation``.

    Args:
        labels: ``(N, H, W)`` class indices into ``classes``; probs: ``(N, K, H, W)`` probabilities.

    Example:
        >>> import numpy as np
        >>> labels = np.zeros((4, 8, 8), dtype=int); labels[0, :4] = 1
        >>> probs = np.stack([np.eye(2)[l].transpose(2, 0, 1) * 0.9 + 0.05 for l in np.zeros((4, 8, 8), int)])
        >>> r = find_segmentation_label_issues(list("abcd"), list("abcd"), labels, probs, ["bg", "road"])
        >>> [(i.sample_id, i.label, i.suggested_label, i.pixels) for i in r.issues]
        [('a', 'road', 'bg', 32)]
    """
    import numpy as np
    from cleanlab.segmentation.filter import find_label_issues
    from cleanlab.segmentation.rank import get_label_quality_scores

    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs, dtype=np.float32)
    k = probs.shape[1]
    scores, pixel_scores = get_label_quality_scores(labels, probs, method="softmin", verbose=False,
                                                    temperature=thresholds.temperature)
    flagged = find_label_issues(labels, probs, verbose=False, n_jobs=1)
    predicted = probs.argmax(axis=1)
    n_pixels = labels.shape[1] * labels.shape[2]
    by_class = np.zeros((k, k), dtype=np.int64)
    issues, images = [], []
    for n, (sid, fp) in enumerate(zip(sample_ids, filepaths)):
        mask = flagged[n]
        pairs = labels[n][mask] * k + predicted[n][mask]
        counts = np.bincount(pairs, minlength=k * k).reshape(k, k)
        by_class += counts
        found = []
        for g, p in zip(*np.nonzero(counts)):
            if counts[g, p] / n_pixels < thresholds.min_share:
                continue
            where = mask & (labels[n] == g) & (predicted[n] == p)
            found.append(ObjectLabelIssue(sid, fp, None, classes[g], None, "swapped",
                                          float(pixel_scores[n][where].mean()), classes[p], "segmentation",
                                          pixels=int(counts[g, p]), pixel_share=float(counts[g, p] / n_pixels),
                                          mask=mask_grid(where, cells=REGION_CELLS)))
        issues.extend(found)
        images.append(ImageLabelScore(sid, fp, float(scores[n]), bool(found),
                                      flagged_share=float(mask.mean())))
    order = {img.sample_id: img.score for img in images}
    issues.sort(key=lambda i: (order[i.sample_id], -(i.pixels or 0), i.filepath))
    facts = {"pixels_per_image": n_pixels, "pixels_flagged": int(flagged.sum()),
             "pixel_issues_by_class": {classes[g]: {classes[p]: int(by_class[g, p]) for p in range(k)
                                                    if by_class[g, p]}
                                       for g in range(k) if by_class[g].any()}}
    regions = sum(len(np.unique(labels[n])) for n in range(len(labels)))
    return ObjectLabelIssuesResult(method="segmentation", issues=tuple(issues), images=tuple(images),
                                   n_images=len(images), n_objects=regions,
                                   thresholds={"min_share": thresholds.min_share}, facts=facts)
