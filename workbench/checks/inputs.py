"""What a check reads: the table's columns, the file facts, the embeddings and graph, the user's
predictions, and (only as declared) other checks' results. Frozen, made once per audit."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class SampleColumns:
    """The audit table's per-sample columns, row-aligned: what nearly every check reads.

    ``labels`` is the image-level label (``None`` without one); ``label_lists`` every label of the
    sample (detection: one per object); ``hashes`` the files' content hashes (``None``: unreadable).
    Detection only (else empty): ``boxes``, each object's relative ``(x, y, w, h)`` (``None`` when
    malformed), and ``object_ids``, both aligned with ``label_lists``.
    """

    ids: tuple[str, ...]
    filepaths: tuple[str, ...]
    splits: tuple[str | None, ...]
    labels: tuple[str | None, ...]
    label_lists: tuple[tuple[str, ...], ...]
    hashes: tuple[str | None, ...]
    boxes: tuple[tuple[tuple[float, float, float, float] | None, ...], ...] = ()
    object_ids: tuple[tuple[str, ...], ...] = ()
    #: Segmentation only (else empty): what is wrong with each mask (``None``: nothing).
    mask_problems: tuple[str | None, ...] = ()
    #: Detection with instance masks only (else empty): each object's mask summary
    #: (:class:`~workbench.checks.mask_box.MaskShape`; ``None``: no mask), aligned with ``boxes``.
    mask_shapes: tuple[tuple[Any, ...], ...] = ()
    #: Segmentation only (else empty): where each mask holds values its targets don't name
    #: (:class:`~workbench.results.mask_grid.MaskGrid`; ``None``: nowhere, or no mask).
    mask_regions: tuple[Any, ...] = ()

    def __len__(self) -> int:
        return len(self.ids)

    def take(self, rows: Any) -> SampleColumns:
        """The columns of the given rows, in that order."""
        rows = [int(r) for r in rows]
        return SampleColumns(*(tuple(col[r] for r in rows) if col else col
                               for col in (getattr(self, f.name) for f in dataclasses.fields(self))))


@dataclass(frozen=True)
class Predictions:
    """User-supplied class probabilities for some rows of the table."""

    probs: Any  # numpy [n, n_classes]
    rows: Any  # numpy int64 [n]: table rows
    classes: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class ObjectPredictions:
    """A detector's boxes for some rows of the table (:mod:`workbench.io.object_predictions`).

    Per predicted image (``rows``, table rows): each box's class, FiftyOne's relative ``(x, y, w, h)``
    and confidence, aligned. ``n_unmatched`` counts the entries that named no image of the dataset.
    """

    rows: tuple[int, ...]
    labels: tuple[tuple[str, ...], ...]
    boxes: tuple[tuple[tuple[float, float, float, float], ...], ...]
    scores: tuple[tuple[float, ...], ...]
    source: str
    n_unmatched: int = 0


@dataclass(frozen=True)
class SegmentationPredictions:
    """A segmentation model's per-pixel class probabilities for some rows of the table
    (:mod:`workbench.io.segmentation_predictions`), on one working grid.

    ``labels`` ``(N, H, W)`` int: each pixel's class index in ``classes``; ``probs`` ``(N, K, H, W)``
    float32, summing to 1 over K; ``rows`` the table rows, aligned. ``grid`` says how the masks were
    brought to one shape (``native HxW`` or ``sampled HxW``); ``left_out`` counts images not assessed, by why.
    """

    rows: tuple[int, ...]
    labels: Any
    probs: Any
    classes: tuple[str, ...]
    source: str
    grid: str = ""
    left_out: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckInputs:
    """What one check may read. Frozen; other checks' results only as declared (:meth:`result_of`)."""

    task: str
    columns: SampleColumns
    facts: tuple[Any, ...]
    #: Metadata columns of the table beyond the core ones: ``{field: values per row}``.
    metadata: Mapping[str, tuple]
    load_problems: tuple[dict, ...] = ()
    embeddings: Any = None
    embedded_rows: Any = None
    graph: Any = None
    predictions: Predictions | None = None
    #: A detection dataset's predicted boxes (``--predictions`` on a detection dataset).
    object_predictions: ObjectPredictions | None = None
    #: A segmentation dataset's per-pixel probabilities (``--predictions`` folder of ``.npy`` files).
    segmentation_predictions: SegmentationPredictions | None = None
    near_rule: Any = None
    calibration: Any = None
    pair_reader: Any = None
    #: ``crop_features(rows, boxes, *, padding, min_side_px) -> CropEmbeddings``: the audit's embedder on
    #: box crops of table rows (cached; :func:`workbench.stages.crop_reader`). ``None`` without a model.
    crop_features: Any = None
    #: Out-of-fold probabilities, as :func:`workbench.checks.probe.out_of_fold_probabilities` computes them,
    #: from the audit's cache when the same inputs were fitted before (``io.probe_cache``); ``None``: compute.
    oof_probabilities: Any = None
    upstream: Mapping[type, Any] = field(default_factory=dict)
    #: The running check's ``measures_key`` (its ``file_measures`` numbers: :meth:`own_measures`).
    measures_key: str = ""
    #: ``AuditConfig.annotator_fields``' labels, ``{field: per row}``: the class (classification), a tuple
    #: of ``(class, (x, y, w, h) or None)`` (detection) or the mask's path or array (segmentation);
    #: ``None`` where that annotator left the sample without a label.
    annotations: Mapping[str, tuple] = field(default_factory=dict)
    #: Their task (``classification``, ``detection`` or ``segmentation``; "" without annotator fields).
    annotation_kind: str = ""
    #: Segmentation: ``mask_targets`` (value -> class) and ``roots`` (folders masks may be read from; empty:
    #: no boundary).
    annotation_info: Mapping[str, Any] = field(default_factory=dict)
    #: The review marks on the samples (``{sample id: "confirmed" | "not_error"}``, :mod:`workbench.marks`).
    reviews: Mapping[str, str] = field(default_factory=dict)
    #: The dataset's name and its ``info`` (FiftyOne's dataset info: a COCO ``licenses`` block and ``info``
    #: keys land there; ``info["workbench"]`` holds the source folders), as plain values.
    dataset_name: str = ""
    dataset_info: Mapping[str, Any] = field(default_factory=dict)

    def result_of(self, kind: type) -> Any:
        """The result of the check that returns ``kind``; only for a type the check declared in ``needs``."""
        if kind not in self.upstream:
            raise KeyError(f"{kind.__name__} was not declared as a need of this check (ResultOf({kind.__name__}))")
        return self.upstream[kind]

    def measures(self, key: str) -> list[dict[str, float] | None]:
        """Per row, the numbers a check's ``file_measures`` gave for the file (``None``: not readable)."""
        return [f.measure(key) if f is not None and f.ok else None for f in self.facts]

    def own_measures(self) -> list[dict[str, float] | None]:
        """Per row, the numbers the running check's own ``file_measures`` gave."""
        return self.measures(self.measures_key)
