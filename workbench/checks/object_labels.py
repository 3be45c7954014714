"""The registered check ``object_labels``: boxes with the wrong class, boxes in the wrong place, and
objects nobody boxed, on a detection dataset; mislabelled regions of semantic segmentation masks.

Three ways, one result (:class:`~workbench.results.object_labels.ObjectLabelIssuesResult`):

- **with a detector's predictions** (``--predictions``: a COCO results JSON or a ``Detections`` field,
  :mod:`workbench.io.object_predictions`), cleanlab's ``object_detection`` scores every box
  (:mod:`workbench.checks.object_scores`);
- **without**, the crops of the boxes are voted among their nearest crops
  (``workbench.checks.object_crops.find_crop_label_issues``). Until that module is present, the check is
  skipped with the reason;
- **segmentation masks with a model's per-pixel probabilities** (``--predictions``: a folder of ``.npy``,
  :mod:`workbench.io.segmentation_predictions`), cleanlab's ``segmentation`` module scores every image and
  flags its pixels (:mod:`workbench.checks.segmentation_scores`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any

from workbench.checks.object_crops import CropOptions, find_crop_label_issues
from workbench.checks.object_scores import ObjectScoreThresholds, find_object_label_issues
from workbench.checks.objects import BOXES
from workbench.checks.segmentation_scores import SegmentationThresholds, find_segmentation_label_issues
from workbench.checks import registry as reg
from workbench.checks.inputs import CheckInputs
from workbench.results.object_labels import ObjectLabelIssuesResult

if TYPE_CHECKING:
    from workbench.config import AuditConfig

#: On the images holding a flagged object, and on the flagged objects themselves.
SAMPLE_TAG = "wb:object_label_issue"
OBJECT_TAG = "wb:object-label-issue"


_PREDICTION_THRESHOLDS = ("swapped_threshold", "badly_located_threshold", "overlooked_threshold", "confident",
                          "plausible", "segmentation_min_share")


@dataclass(frozen=True)
class ObjectLabelOptions:
    """``--check-option object_labels.swapped_threshold=0.3`` and so on.

    With predictions: the ``*_threshold`` options cut cleanlab's per-box scores (in [0, 1], low = likely
    wrong): a box at or under its kind's threshold is flagged. ``confident``: predictions at least this sure
    are evidence of a swapped or overlooked object (default: calibrated on the detector's own scores, see
    :func:`~workbench.checks.object_scores.calibrated_confidence`); ``plausible``: predictions above this
    are used to judge a box's place.

    Without predictions: the ``crops_*`` options are :class:`~workbench.checks.object_crops.CropOptions`
    (``crops_k``, ``crops_background_threshold``, ``crops_proposals`` ...), checked the same way.

    Segmentation: ``segmentation_min_share``, the share of an image's pixels one ``given -> predicted``
    pair of flagged pixels must cover to be an issue.

    Example:
        >>> ObjectLabelOptions(swapped_threshold=0.3).thresholds().swapped
        0.3
        >>> ObjectLabelOptions(crops_k=5).crop_options().k
        5
    """

    swapped_threshold: float = 0.5
    badly_located_threshold: float = 0.5
    overlooked_threshold: float = 0.5
    confident: float | None = None
    plausible: float = 0.5
    crops_k: int = CropOptions.k
    crops_folds: int = CropOptions.folds
    crops_padding: float = CropOptions.padding
    crops_min_crop_side: float = CropOptions.min_crop_side
    crops_min_class_boxes: int = CropOptions.min_class_boxes
    crops_background_per_image: int = CropOptions.background_per_image
    crops_background_threshold: float = CropOptions.background_threshold
    crops_swap_threshold: float = CropOptions.swap_threshold
    crops_proposals: bool = CropOptions.proposals
    crops_relocate_from: float = CropOptions.relocate_from
    crops_relocate_gain: float = CropOptions.relocate_gain
    crops_proposal_threshold: float = CropOptions.proposal_threshold
    crops_proposal_min_votes: float = CropOptions.proposal_min_votes
    crops_proposal_seed: float = CropOptions.proposal_seed
    crops_max_seeds_per_image: int = CropOptions.max_seeds_per_image
    crops_refine_rounds: int = CropOptions.refine_rounds
    crops_max_window_negatives: int = CropOptions.max_window_negatives
    crops_max_proposals_per_image: int = CropOptions.max_proposals_per_image
    crops_proposal_scales: int = CropOptions.proposal_scales
    crops_proposal_max_iou: float = CropOptions.proposal_max_iou
    crops_seed: int = CropOptions.seed
    segmentation_min_share: float = SegmentationThresholds.min_share

    def __post_init__(self) -> None:
        for name in _PREDICTION_THRESHOLDS:
            value = getattr(self, name)
            if value is not None and not 0 <= value <= 1:
                raise ValueError(f"{name} must be between 0 and 1, not {value}")
        try:
            self.crop_options()
        except ValueError as exc:
            raise ValueError(f"crops_{exc}") from None

    def thresholds(self) -> ObjectScoreThresholds:
        return ObjectScoreThresholds(swapped=self.swapped_threshold, badly_located=self.badly_located_threshold,
                                     overlooked=self.overlooked_threshold, confident=self.confident,
                                     plausible=self.plausible)

    def crop_options(self) -> CropOptions:
        """The ``crops_*`` options as the crops path takes them."""
        return CropOptions(**{f.name: getattr(self, f"crops_{f.name}") for f in fields(CropOptions)})


SUBJECT = reg.Requirement(
    "object boxes, or masks with probabilities",
    lambda i: BOXES.present(i) or (i.task == "segmentation" and i.segmentation_predictions is not None),
    "needs object boxes (a Detections or Polylines field)",
    by_task={"segmentation": "semantic masks need a model's per-pixel probabilities (--predictions: a folder of "
                             "<image name>.npy files, (K, H, W) or (H, W, K), in mask_targets order)"})
EVIDENCE = reg.Requirement(
    "predicted boxes or box crops",
    lambda i: (i.object_predictions is not None or i.crop_features is not None
               or i.segmentation_predictions is not None),
    "needs a detector's predictions (--predictions: a COCO results JSON or a Detections field with confidences) "
    "or the audit's embedder to judge the boxes' crops (not --embedder none)")


def _from_segmentation(inputs: CheckInputs, options: ObjectLabelOptions) -> ObjectLabelIssuesResult:
    import dataclasses

    preds, cols = inputs.segmentation_predictions, inputs.columns
    assert preds is not None
    result = find_segmentation_label_issues(
        [cols.ids[r] for r in preds.rows], [cols.filepaths[r] for r in preds.rows], preds.labels, preds.probs,
        preds.classes, thresholds=SegmentationThresholds(min_share=options.segmentation_min_share))
    return dataclasses.replace(result, facts=dict(result.facts, source=preds.source, grid=preds.grid,
                                                  left_out=dict(preds.left_out)))


def _from_predictions(inputs: CheckInputs, options: ObjectLabelOptions) -> ObjectLabelIssuesResult:
    cols, preds = inputs.columns, inputs.object_predictions
    assert preds is not None
    sizes = [(f.width, f.height) if f is not None else (None, None) for f in inputs.facts]
    keep = [(n, row) for n, row in enumerate(preds.rows) if all(sizes[row])]
    rows = [row for _, row in keep]
    boxes = cols.boxes or tuple(() for _ in cols.ids)
    object_ids = cols.object_ids or tuple(() for _ in cols.ids)
    result = find_object_label_issues(
        [cols.ids[r] for r in rows], [cols.filepaths[r] for r in rows], [cols.label_lists[r] for r in rows],
        [boxes[r] for r in rows], [object_ids[r] for r in rows], [sizes[r] for r in rows],  # type: ignore[misc]
        [preds.labels[n] for n, _ in keep], [preds.boxes[n] for n, _ in keep], [preds.scores[n] for n, _ in keep],
        thresholds=options.thresholds())
    facts = dict(result.facts, source=preds.source, unmatched_predictions=preds.n_unmatched,
                 images_without_size=len(preds.rows) - len(rows))
    return ObjectLabelIssuesResult(method=result.method, issues=result.issues, images=result.images,
                                   n_images=result.n_images, n_objects=result.n_objects,
                                   thresholds=result.thresholds, facts=facts)


def _from_crops(inputs: CheckInputs, options: ObjectLabelOptions) -> ObjectLabelIssuesResult:
    from workbench.results.object_labels import ImageLabelScore

    issues, facts = find_crop_label_issues(inputs, options.crop_options())
    cols = inputs.columns
    flagged = {i.sample_id for i in issues}
    images = tuple(ImageLabelScore(sid, fp, None, sid in flagged)
                   for sid, fp, labs in zip(cols.ids, cols.filepaths, cols.label_lists) if labs)
    return ObjectLabelIssuesResult(method="crops", issues=tuple(sorted(issues, key=lambda i: (i.score, i.filepath))),
                                   images=images, n_images=len(images),
                                   n_objects=sum(len(labs) for labs in cols.label_lists),
                                   thresholds={}, facts=dict(facts))


def _image_scores(r: ObjectLabelIssuesResult) -> dict[str, Any]:
    return {i.sample_id: i.score for i in r.images if i.score is not None}


def _images_with_issues(r: ObjectLabelIssuesResult) -> set[str]:
    return {i.sample_id for i in r.issues}


def _on_objects(attr: str) -> Callable[[ObjectLabelIssuesResult], dict[str, Any]]:
    """``{object id: issue.<attr>}`` for the flagged annotated objects (overlooked ones have no id)."""
    return lambda r: {i.object_id: getattr(i, attr) for i in r.issues if i.object_id}


def _overlooked(r: ObjectLabelIssuesResult) -> dict[str, list[dict[str, Any]]]:
    """``{sample id: [the boxes nobody annotated]}``, as detections labelled with the suggested class."""
    out: dict[str, list[dict[str, Any]]] = {}
    for i in r.issues:
        if i.kind == "overlooked" and i.box is not None:
            out.setdefault(i.sample_id, []).append({"label": i.suggested_label, "bounding_box": list(i.box),
                                                    "wb_label_score": i.score})
    return out


WRITES = reg.Writes(
    fields=(reg.SampleField("object_label_score", "wb_object_label_score", _image_scores),
            reg.SampleField("overlooked", "wb_overlooked", _overlooked, kind="detections")),
    tags=(reg.SampleTag("object_label_issue", SAMPLE_TAG, _images_with_issues),),
    views=(reg.SavedView("object_label_issue_images", "wb-object-label-issue-images", SAMPLE_TAG,
                     "wb_object_label_score"),),
    object_attrs=(reg.ObjectAttr("label_issue", "wb_label_issue", _on_objects("kind")),
                  reg.ObjectAttr("label_score", "wb_label_score", _on_objects("score")),
                  reg.ObjectAttr("suggested_label", "wb_suggested_label", _on_objects("suggested_label"))),
    object_tags=(reg.ObjectTag("object_label_issue", OBJECT_TAG, lambda r: set(_on_objects("kind")(r))),),
    patches=(reg.PatchesView("object_label_issues", "wb-object-label-issues", OBJECT_TAG, "wb_label_score"),))


@reg.register_check(
    name="object_labels", title="object labels", report_title="Object label issues", result=ObjectLabelIssuesResult,
    needs=(SUBJECT, EVIDENCE), count_key="object_label_issues", writes=WRITES,
    gate=reg.GateSpec("object-label-issues", "objects with a label issue", lambda r: r.n_findings,
                      total=lambda r, audit: max(r.n_objects, 1)),
    section="sections/object_labels.html.j2", options=ObjectLabelOptions,
    absent_export={"object_label_issues": None})
def run(inputs: CheckInputs, config: AuditConfig, options: ObjectLabelOptions) -> ObjectLabelIssuesResult:
    """The segmentation path for masks, the predictions path when the audit has predicted boxes, else crops."""
    if inputs.segmentation_predictions is not None:
        return _from_segmentation(inputs, options)
    if inputs.object_predictions is not None:
        return _from_predictions(inputs, options)
    return _from_crops(inputs, options)
