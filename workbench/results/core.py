"""The audit as a whole: what ran, on which model and graph, and each check's findings.

:class:`AuditResult` holds one typed result per check in ``findings`` (keyed by the check's
registered name; see :mod:`workbench.checks.registry`). Every check result follows
:class:`~workbench.results.protocol.CheckResult`. Frozen; ``to_dict`` / ``from_dict`` round-trip
through JSON, and results written by schema 1.0 still load.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

from workbench.results.composition import BalanceResult, BiasResult, Task
from workbench.results.copies import DuplicatesResult, LeakageResult
from workbench.results.files import IntegrityResult
from workbench.results.labels import LabelIssuesResult
from workbench.results.serialize import from_jsonable, to_jsonable

log = logging.getLogger(__name__)

#: One version for the result's JSON (``AuditResult.to_json``) and the export (``render.json_export``).
#: 2.0: findings keyed by check name; 1.0 results still load (:func:`upgrade_v1`).
SCHEMA_VERSION = "2.0"
#: The checks whose results sat at the top level of a schema 1.0 result.
V1_FINDINGS = ("integrity", "duplicates", "leakage", "label_issues", "balance", "bias")

CheckState = Literal["ran", "skipped", "failed"]
R = TypeVar("R")


@dataclass(frozen=True)
class CheckStatus:
    """What happened to one check: ran, skipped (inputs absent) or failed (typed error)."""

    name: str
    state: CheckState
    reason: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class EmbeddingInfo:
    """Which model produced the embeddings, and whether it is the one asked for."""

    model_id: str
    backend: str
    requested: str
    trained: bool
    dim: int
    device: str
    preprocessing: str
    fallback_reason: str | None = None
    n_computed: int = 0
    n_cached: int = 0
    n_failed: int = 0
    seconds: float = 0.0
    #: ``fp32`` or ``bf16`` weights; for bf16 the measured max cosine drift against fp32.
    precision: str = "fp32"
    bf16_drift: float | None = None
    precision_note: str | None = None
    #: What ran the network: ``torch``, ``onnxruntime`` or ``openvino`` (see EmbedderConfig.runtime);
    #: for a compiled runtime, its max cosine drift from PyTorch fp32 on the probe batch.
    runtime: str = "torch"
    runtime_drift: float | None = None

    @property
    def is_fallback(self) -> bool:
        return self.fallback_reason is not None


@dataclass(frozen=True)
class NeighborInfo:
    """How the shared k-NN graph was obtained: built from scratch, or updated from the last audit."""

    method: str  # "exact" | "ivf"
    k: int
    mode: str  # "built" | "updated" | "rebuilt"
    n_rows: int
    n_reused: int = 0
    n_new: int = 0
    n_recomputed: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class AuditArtifacts:
    """Large in-memory outputs of an audit, never serialised.

    The audit table's rows (ids, paths, splits, labels, content hashes), the rows that have
    embeddings, their vectors and the k-NN graph over them. Panels re-filter duplicates at
    another threshold from these (``workbench.checks.duplicates.refilter``) without
    re-embedding; the write-back stores the vectors on the samples.
    """

    sample_ids: tuple[str, ...]
    filepaths: tuple[str, ...]
    splits: tuple[str | None, ...]
    labels: tuple[str | None, ...]
    hashes: tuple[str | None, ...]
    embedded_rows: Any  # numpy int64 [M]: table rows that have a vector
    vectors: Any  # numpy float32 [M, dim], L2-normalised
    neighbor_indices: Any  # numpy [M, k]: rows of ``vectors``; None when M < 2
    neighbor_distances: Any  # numpy [M, k] cosine distances, ascending
    phashes: tuple[str | None, ...] | None = None  # perceptual hashes per table row
    phashes_mirror: tuple[str | None, ...] | None = None  # perceptual hashes of the mirrored images
    thumbs: tuple[str | None, ...] | None = None  # 16x16 colour thumbnails (hex) per table row
    #: ``(row, row, inliers, aligned, dense)`` of the pairs whose pixels were compared (``checks/geometry``;
    #: results saved before the dense tier have four).
    pair_pixels: tuple[tuple, ...] = ()

    @property
    def embedded_ids(self) -> tuple[str, ...]:
        return tuple(self.sample_ids[i] for i in self.embedded_rows)


@dataclass(frozen=True)
class AuditResult:
    """Everything one audit found. Frozen; ``to_dict`` / ``from_dict`` round-trip through JSON."""

    dataset_name: str
    source: str
    task: Task
    n_samples: int
    classes: tuple[str, ...]
    splits: tuple[str, ...]
    created_at: str
    config: dict[str, Any]
    versions: dict[str, str]
    checks: tuple[CheckStatus, ...]
    embedding: EmbeddingInfo | None = None
    neighbors: NeighborInfo | None = None
    #: Each check's result by its registered name; a check that was skipped or failed has none.
    findings: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    #: Review marks found on the samples when the audit ran: ``{sample id: "confirmed" | "not_error"}``
    #: (see ``workbench.marks``), so renderers show what was already reviewed.
    reviews: dict[str, str] = field(default_factory=dict)
    #: The ground-truth field the audit read (object-level findings are written to its objects).
    label_field: str | None = None
    #: The audited data's content hashes (:func:`workbench.history.fingerprint.dataset_fingerprint`):
    #: ``content``, ``files``, ``labels``, ``splits``; empty in results written before they were kept.
    fingerprint: dict[str, str] = field(default_factory=dict)
    schema_version: str = SCHEMA_VERSION
    #: In-memory only (not serialised): embeddings and the k-NN graph, so renderers and
    #: panels can store vectors or re-filter neighbours without recomputing anything.
    artifacts: AuditArtifacts | None = field(default=None, compare=False, repr=False,
                                             metadata={"serialize": False})

    def review_of(self, sample_id: str) -> str | None:
        """``confirmed``, ``not_error`` or None for a sample."""
        return self.reviews.get(sample_id)

    def check(self, name: str) -> CheckStatus | None:
        return next((c for c in self.checks if c.name == name), None)

    def finding(self, kind: type[R]) -> R | None:
        """The result of the given type, e.g. ``result.finding(DuplicatesResult)``; ``None`` when absent."""
        return next((r for r in self.findings.values() if isinstance(r, kind)), None)

    @property
    def integrity(self) -> IntegrityResult | None:
        return self.findings.get("integrity")

    @property
    def duplicates(self) -> DuplicatesResult | None:
        return self.findings.get("duplicates")

    @property
    def leakage(self) -> LeakageResult | None:
        return self.findings.get("leakage")

    @property
    def label_issues(self) -> LabelIssuesResult | None:
        return self.findings.get("label_issues")

    @property
    def balance(self) -> BalanceResult | None:
        return self.findings.get("balance")

    @property
    def bias(self) -> BiasResult | None:
        return self.findings.get("bias")

    @classmethod
    def build(cls, **fields: Any) -> AuditResult:
        """An AuditResult whose check results may be given by check name (``duplicates=...``), like
        :meth:`replace`; ``None`` for a check means it has no result.

        Example:
            >>> AuditResult.build(dataset_name="d", source="/d", task="classification", n_samples=0, classes=(),
            ...                   splits=(), created_at="", config={}, versions={}, checks=(), bias=None).findings
            {}
        """
        from workbench.checks.registry import check_names

        findings = dict(fields.pop("findings", {}))
        for name in [k for k in fields if k in set(check_names())]:
            value = fields.pop(name)
            if value is not None:
                findings[name] = value
        return cls(findings=findings, **fields)

    def replace(self, **changes: Any) -> AuditResult:
        """A copy with fields changed; a registered check's name sets (or, with ``None``, drops) its result.

        Example:
            >>> result.replace(leakage=None).leakage is None  # doctest: +SKIP
            True
        """
        from workbench.checks.registry import check_names

        names = set(check_names())
        findings = dict(changes.pop("findings", self.findings))
        for name in [k for k in changes if k in names]:
            value = changes.pop(name)
            if value is None:
                findings.pop(name, None)
            else:
                findings[name] = value
        return dataclasses.replace(self, findings=findings, **changes)

    def counts(self) -> dict[str, int | None]:
        """Findings per check (its ``count_key``): ``n_findings``, or ``None`` when the check has no result
        (skipped, failed or not run), so that a skipped check never reads as a clean one."""
        from workbench.checks.registry import registered_checks

        return {spec.count_key: (self.findings[spec.name].n_findings if spec.name in self.findings else None)
                for spec in registered_checks() if spec.count_key}

    def to_dict(self) -> dict[str, Any]:
        return to_jsonable(self)

    def to_json(self, path: str | Path | None = None, *, indent: int | None = 1) -> str:
        text = json.dumps(self.to_dict(), indent=indent, allow_nan=False)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditResult:
        """Read a result written by :meth:`to_dict` (schema 2.0, or 1.0 through :func:`upgrade_v1`)."""
        from workbench.checks.registry import registered_checks

        version = data.get("schema_version")
        if version == "1.0":
            data = upgrade_v1(data)
        elif version != SCHEMA_VERSION:
            raise ValueError(f"AuditResult schema {version!r} is neither {SCHEMA_VERSION!r} nor '1.0'; re-run "
                             "the audit with this version of workbench.")
        types_ = {spec.name: spec.result_type for spec in registered_checks()}
        unknown = sorted(set(data.get("findings", {})) - set(types_))
        if unknown:
            log.warning("this result holds findings of checks this version does not know (%s); they are left out",
                        ", ".join(unknown))
        rest = from_jsonable(cls, {k: v for k, v in data.items() if k != "findings"})
        findings = {name: from_jsonable(types_[name], value) for name, value in data.get("findings", {}).items()
                    if name in types_ and value is not None}
        return dataclasses.replace(rest, findings=findings)

    @classmethod
    def from_json(cls, path: str | Path) -> AuditResult:
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))




def upgrade_v1(data: dict[str, Any]) -> dict[str, Any]:
    """A schema 1.0 result (each check's result a top-level key) in the 2.0 layout (``findings``)."""
    out = {k: v for k, v in data.items() if k not in V1_FINDINGS}
    out["findings"] = {k: data[k] for k in V1_FINDINGS if data.get(k) is not None}
    out["schema_version"] = SCHEMA_VERSION
    return out
