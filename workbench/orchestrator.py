"""The thin orchestrator: table -> file facts -> embeddings -> k-NN graph -> checks -> AuditResult.

The checks are the registered ones (:mod:`workbench.checks.registry`), run in the order their
declared needs allow. A check whose inputs are absent is skipped with the reason, a check that
raises is recorded as failed with its message, and the rest of the audit goes on. Each check gets
a frozen :class:`~workbench.checks.registry.CheckInputs` holding only the results it declared.
Nothing here draws or writes files; renderers do that.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from datetime import datetime, timezone
from typing import Any

import numpy as np

from workbench.checks.registry import CheckInputs, CheckSpec, ResultOf, SampleColumns, registered_checks
from workbench.config import AuditConfig
from workbench.errors import CheckNotApplicable, EmbedderUnavailable
from workbench.io.cache_folder import CacheUnusable
from workbench.io.table import ANNOTATION_PREFIX
from workbench.marks import reviews_from_tags
from workbench.results import AuditArtifacts, AuditResult, CheckStatus, EmbeddingInfo
from workbench.stages import Stages, crop_reader

log = logging.getLogger(__name__)

#: Table columns every table has; the others are metadata (bias reads them).
CORE_COLUMNS = frozenset({"id", "filepath", "tags", "split", "label", "labels", "boxes", "object_ids",
                          "mask_problem", "mask_region", "mask_shapes"})


class _NoModel(Exception):
    """``--embedder none``: the audit runs without a model."""


class _Log:
    """The audit's record of stages and checks: their states and their timings."""

    def __init__(self) -> None:
        self.checks: list[CheckStatus] = []
        self.timings: dict[str, float] = {}

    def add(self, name: str, state: str, reason: str = "", since: float | None = None) -> None:
        seconds = round(time.perf_counter() - since, 3) if since is not None else 0.0
        self.checks.append(CheckStatus(name, state, reason, seconds))  # type: ignore[arg-type]

    def failed(self, name: str, exc: BaseException, since: float) -> None:
        log.error("%s failed: %s: %s", name, type(exc).__name__, exc, exc_info=log.isEnabledFor(logging.DEBUG))
        self.add(name, "failed", f"{type(exc).__name__}: {exc}", since)


def _load_model(cfg: AuditConfig) -> tuple[Any, BaseException | None]:
    """The embedding model, loaded before any file is read: a model asked for by name that can't be
    loaded is an input error found in seconds. ``auto`` records the failure and goes on. Where this
    environment loaded the same model before, the load waits until a vector must be computed
    (:mod:`workbench.embeddings.load_plans`): a re-audit with every vector cached loads none."""
    from workbench.embeddings.load_plans import load_when_needed

    if cfg.embedder.name == "none":
        return None, None
    try:
        return load_when_needed(cfg.embedder), None
    except EmbedderUnavailable as exc:
        if cfg.embedder.name != "auto":
            raise
        return None, exc
    except Exception as exc:  # recorded on the result; duplicates still run on content hashes
        return None, exc


def _embed(st: Stages, cfg: AuditConfig, model: Any, error: BaseException | None, record: _Log,
           progress: bool) -> EmbeddingInfo | None:
    from workbench.embeddings.pipeline import embed_files

    t = time.perf_counter()
    try:
        if cfg.embedder.name == "none":
            raise _NoModel
        if error is not None:
            raise error
        cols = st.columns
        readable = [i for i, x in enumerate(st.facts) if x.ok]
        emb = embed_files([cols.ids[i] for i in readable], [cols.filepaths[i] for i in readable],
                          [cols.hashes[i] for i in readable], model, cache_dir=cfg.embedder.cache_dir,
                          batch_size=cfg.embedder.batch_size, num_workers=cfg.embedder.num_workers, progress=progress)
        st.embedder, st.embeddings = model, emb
        row_of = {sid: i for i, sid in enumerate(cols.ids)}
        st.embedded_rows = np.array([row_of[s] for s in emb.ids], dtype=np.int64)
        record.add("embeddings", "ran", since=t)
        return EmbeddingInfo(model_id=model.model_id, backend=model.family, requested=model.requested,
                             trained=model.trained, dim=model.dim, device=model.device,
                             preprocessing=model.preprocessing, fallback_reason=model.fallback_reason,
                             n_computed=emb.n_computed, n_cached=emb.n_cached, n_failed=len(emb.failed),
                             seconds=emb.seconds, precision=model.precision, bf16_drift=model.bf16_drift,
                             precision_note=model.precision_note, runtime=model.runtime,
                             runtime_drift=model.runtime_drift)
    except CacheUnusable:  # the user's to fix (exit 2), not a stage that failed
        raise
    except _NoModel:
        record.add("embeddings", "skipped", "no model was asked for (--embedder none); duplicates use content and "
                                            "perceptual hashes")
    except Exception as exc:  # recorded on the result; duplicates still run on content hashes
        record.failed("embeddings", exc, t)
    finally:
        record.timings["embeddings"] = time.perf_counter() - t
    return None


def _fixed_rule(cfg: AuditConfig, model: Any):
    from workbench.checks.near_rule import NearRule

    threshold = cfg.near_duplicate_threshold
    if threshold is None:
        threshold = model.near_threshold if model is not None else 0.0
    return NearRule.fixed(threshold, cfg.phash_max_distance)


def _skip_reason(spec: CheckSpec, cfg: AuditConfig, inputs: CheckInputs, found: dict[type, Any],
                 producers: dict[type, str]) -> str:
    """Why ``spec`` can't run on these inputs ("" when it can)."""
    if spec.name in cfg.skip_checks:
        return cfg.skip_reason or "turned off (skip_checks / --skip-check)"
    reasons = []
    for need in spec.needs:
        if isinstance(need, ResultOf):
            if need.result_type not in found:
                reasons.append(f"the {producers.get(need.result_type, need.result_type.__name__)} check did not run")
        elif not need.present(inputs):
            reasons.append(need.reason(inputs.task))
    return "; ".join(reasons)


def _pair_cache(cfg: AuditConfig, hashes: Any) -> Any:
    """The pair-evidence cache beside the file facts (``<cache>/pairs.sqlite``), loaded for these contents;
    ``None`` when file facts are not reused either."""
    from pathlib import Path

    from workbench.embeddings.cache import default_cache_root
    from workbench.io.pair_cache import PairCache

    if not cfg.reuse_file_facts:
        return None
    cache = PairCache(Path(cfg.embedder.cache_dir or default_cache_root()) / "pairs.sqlite")
    cache.load(hashes)
    return cache


def _probe_cache(cfg: AuditConfig) -> Any:
    """Out-of-fold probabilities kept by their inputs (``<cache>/probes/``), with the file facts' switch."""
    from pathlib import Path

    from workbench.embeddings.cache import default_cache_root
    from workbench.io.probe_cache import ProbeCache

    return ProbeCache(Path(cfg.embedder.cache_dir or default_cache_root()) / "probes") if cfg.reuse_file_facts else None


def run_checks(specs: tuple[CheckSpec, ...], inputs: CheckInputs, cfg: AuditConfig, record: _Log) -> dict[str, Any]:
    """Run ``specs`` in order on ``inputs``; each gets the results it declared. ``{name: result}``."""
    findings: dict[str, Any] = {}
    found: dict[type, Any] = {}
    producers = {spec.result_type: spec.name for spec in specs}
    for spec in specs:
        reason = _skip_reason(spec, cfg, inputs, found, producers)
        if reason:
            record.add(spec.name, "skipped", reason)
            continue
        upstream = {n.result_type: found[n.result_type] for n in spec.needs if isinstance(n, ResultOf)}
        t = time.perf_counter()
        try:
            own = dataclasses.replace(inputs, upstream=upstream, measures_key=spec.measures_key)
            result = spec.run(own, cfg, spec.options_from(cfg))
            findings[spec.name] = found[spec.result_type] = result
            record.add(spec.name, "ran", since=t)
        except CheckNotApplicable as exc:  # the data can't support it: a skip with the check's reason
            record.add(spec.name, "skipped", str(exc))
        except Exception as exc:  # a failing check is recorded and the others still run
            record.failed(spec.name, exc, t)
        record.timings[spec.name] = time.perf_counter() - t
    return findings


def _present(values: Any) -> tuple:
    """A table column as a tuple with every missing value as ``None``: pandas 3 stores a missing string as
    ``nan`` (a float), which every check would otherwise take for a value."""
    return tuple(None if _is_nan(v) else v for v in values)


def _text(values: Any) -> tuple[str | None, ...]:
    return tuple(v if isinstance(v, str) else None for v in values)


def _columns(frame: Any, task: str, hashes: list[str | None]) -> SampleColumns:
    labels = _text(frame["label"])
    lists = (tuple((lab,) if lab is not None else () for lab in labels) if task == "classification"
             else tuple(tuple(labs) for labs in frame["labels"]))
    boxes = tuple(tuple(b) for b in frame["boxes"]) if "boxes" in frame else ()
    object_ids = tuple(tuple(o) for o in frame["object_ids"]) if "object_ids" in frame else ()
    masks = tuple(v if isinstance(v, str) else None for v in frame["mask_problem"]) if "mask_problem" in frame else ()
    shapes = tuple(tuple(s) for s in frame["mask_shapes"]) if "mask_shapes" in frame else ()
    regions = tuple(frame["mask_region"]) if "mask_region" in frame else ()
    return SampleColumns(tuple(frame["id"]), tuple(frame["filepath"]), _text(frame["split"]), labels, lists,
                         tuple(hashes), boxes, object_ids, masks, shapes, regions)


def run_audit(dataset: Any, config: AuditConfig | None = None, *, label_field: str | None = None,
              split_field: str | None = None, progress: bool = True) -> AuditResult:
    """Audit a FiftyOne dataset (or view) and return an :class:`AuditResult`. Writes nothing.

    Example:
        >>> ds = workbench.load("data/demo/fashion-mnist")  # doctest: +SKIP
        >>> result = run_audit(ds)  # doctest: +SKIP
        >>> result.counts()  # doctest: +SKIP
    """
    from workbench.checks.pair_pixels import PairReader
    from workbench.io.table import to_table
    from workbench.stages import (neighbor_graph, read_detector_predictions, read_files, read_mask_predictions,
                                  read_predictions, refuse_mostly_missing, versions)

    cfg = config or AuditConfig()
    specs = registered_checks()
    record = _Log()
    t0 = time.perf_counter()
    table = to_table(dataset, label_field=label_field, split_field=split_field,
                     annotator_fields=cfg.annotator_fields)
    frame = table.frame
    record.timings["table"] = time.perf_counter() - t0
    model, model_error = _load_model(cfg)

    t = time.perf_counter()
    info = dataset.info.get("workbench", {}) if hasattr(dataset, "info") else {}
    running = [s for s in specs if s.name not in cfg.skip_checks]
    measured = {s.name for s in running} | {name for s in running for name in s.reads_measures}
    measures = {s.measures_key: s.file_measures for s in specs if s.file_measures and s.name in measured}
    facts = read_files(list(frame["filepath"]), info, cfg, progress, measures)
    refuse_mostly_missing(facts, cfg, table.source or table.dataset_name)
    record.timings["read_files"] = time.perf_counter() - t
    st = Stages(_columns(frame, table.task, [x.sha256 if x.ok else None for x in facts]), facts)
    st.pair_reader = PairReader([x.filepath if x.ok else None for x in facts], [(x.width, x.height) for x in facts],
                                st.columns.hashes, _pair_cache(cfg, st.columns.hashes))

    embedding_info = _embed(st, cfg, model, model_error, record, progress)
    neighbor_info = None
    if st.embeddings is not None and len(st.embeddings.ids) > 1:
        t = time.perf_counter()
        try:
            st.graph, neighbor_info = neighbor_graph(st, cfg, table.dataset_name)
            record.add("neighbors", "ran", since=t)
        except Exception as exc:  # near duplicates then fall back to content hashes only
            record.failed("neighbors", exc, t)
        record.timings["neighbors"] = time.perf_counter() - t

    rule, calibration = _fixed_rule(cfg, st.embedder), None
    if st.graph is not None and cfg.calibrate:
        from workbench.calibrate import calibrate

        t = time.perf_counter()
        try:
            rule, calibration = calibrate(st, cfg, rule)
            record.add("calibration", "ran", since=t)
        except Exception as exc:  # the model's fixed threshold still serves
            record.failed("calibration", exc, t)
        record.timings["calibration"] = time.perf_counter() - t
    elif st.graph is not None:
        record.add("calibration", "skipped", "calibration is off (--no-calibration): the model's fixed "
                                             "near-duplicate threshold")

    # bad predictions are the user's to fix
    object_predictions = (read_detector_predictions(st.columns, facts, cfg, dataset, info)
                          if table.task == "detection" else None)
    segmentation_predictions = (read_mask_predictions(st.columns, cfg, dataset, info, table.label_field)
                                if table.task == "segmentation" else None)
    predictions = (read_predictions(st.columns, cfg, dataset)
                   if table.task not in ("detection", "segmentation") else None)
    reviews = reviews_from_tags(frame["id"], frame["tags"])
    inputs = CheckInputs(task=table.task, columns=st.columns, facts=tuple(facts),
                         metadata={c: _present(frame[c]) for c in frame.columns
                                   if c not in CORE_COLUMNS and not c.startswith(ANNOTATION_PREFIX)},
                         load_problems=tuple(info.get("load_problems", [])), embeddings=st.embeddings,
                         embedded_rows=st.embedded_rows, graph=st.graph, predictions=predictions,
                         object_predictions=object_predictions,
                         segmentation_predictions=segmentation_predictions, near_rule=rule,
                         calibration=calibration, pair_reader=st.pair_reader, crop_features=crop_reader(st, cfg),
                         oof_probabilities=_probe_cache(cfg),
                         annotations={f: tuple(None if _is_nan(v) else v for v in frame[ANNOTATION_PREFIX + f])
                                      for f in cfg.annotator_fields},
                         annotation_kind=table.annotation_kind,
                         annotation_info=_annotation_info(dataset, cfg, info, table.annotation_kind),
                         reviews=reviews, dataset_name=table.dataset_name, dataset_info=_plain_info(dataset))
    findings = run_checks(specs, inputs, cfg, record)
    if st.pair_reader.cache is not None:
        st.pair_reader.cache.save()  # the pixel evidence measured this time, for the next audit
    record.timings["total"] = time.perf_counter() - t0

    cols = st.columns
    cfg_dict = cfg.to_dict()
    cfg_dict["near_duplicate_threshold_used"] = rule.strict
    if calibration is not None:
        cfg_dict["near_duplicate_loose_threshold_used"] = rule.loose
    return AuditResult(
        dataset_name=table.dataset_name, source=table.source, task=table.task, label_field=table.label_field,
        n_samples=len(frame),
        classes=tuple(sorted({lab for labs in cols.label_lists for lab in labs})),
        splits=tuple(sorted({s for s in cols.splits if s is not None})),
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), config=cfg_dict, versions=versions(),
        checks=tuple(record.checks), embedding=embedding_info, neighbors=neighbor_info, findings=findings,
        timings={k: round(v, 3) for k, v in record.timings.items()},
        reviews=reviews, artifacts=_artifacts(st, findings.get("duplicates")),
        fingerprint=_fingerprint(table.source, cols))


def _fingerprint(source: str, cols: SampleColumns) -> dict[str, str]:
    from workbench.history.fingerprint import dataset_fingerprint, dataset_root

    return dataset_fingerprint(cols.filepaths, cols.hashes, cols.label_lists, cols.splits,
                               root=dataset_root(source, cols.filepaths), boxes=cols.boxes)


def _plain_info(dataset: Any) -> dict[str, Any]:
    """The dataset's ``info`` (and its description, as ``description``) as JSON values; ``{}`` for a view."""
    import json

    info = dict(getattr(dataset, "info", None) or {})
    description = getattr(dataset, "description", None)
    if description and "description" not in info:
        info["description"] = description
    return json.loads(json.dumps(info, default=str))


def _is_nan(value: Any) -> bool:
    """pandas stores a missing class label as NaN; the checks expect ``None``."""
    import math

    return isinstance(value, float) and math.isnan(value)


def _annotation_info(dataset: Any, cfg: AuditConfig, info: dict, kind: str) -> dict[str, Any]:
    """Segmentation annotators: the mask targets of the first annotator field and the folders masks may
    be read from."""
    from workbench.io.boundary import dataset_roots

    if kind != "segmentation":
        return {}
    targets = (getattr(dataset, "mask_targets", {}) or {}).get(cfg.annotator_fields[0]) or \
        getattr(dataset, "default_mask_targets", None) or {}
    return {"mask_targets": {int(k): str(v) for k, v in targets.items() if str(k).isdigit()},
            "roots": () if cfg.allow_outside_root else dataset_roots(info)}


def _artifacts(st: Stages, duplicates: Any) -> AuditArtifacts | None:
    """The vectors, the graph and the per-file signatures, kept in memory for panels and write-back."""
    if st.embeddings is None:
        return None
    cols, g, facts = st.columns, st.graph, st.facts
    edges = getattr(duplicates, "edges", None)
    measured = dict(edges.measured or {}) if edges is not None else {}
    return AuditArtifacts(
        sample_ids=cols.ids, filepaths=cols.filepaths, splits=cols.splits, labels=cols.labels, hashes=cols.hashes,
        embedded_rows=st.embedded_rows, vectors=st.embeddings.vectors,
        neighbor_indices=None if g is None else g.indices, neighbor_distances=None if g is None else g.distances,
        phashes=tuple(x.phash for x in facts), phashes_mirror=tuple(x.phash_mirror for x in facts),
        thumbs=tuple(x.thumb for x in facts), pair_pixels=tuple((a, b, *v) for (a, b), v in sorted(measured.items())))
