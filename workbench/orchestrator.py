"""The thin orchestrator: table -> file facts -> embeddings -> k-NN graph -> checks -> AuditResult.

Each check declares the inputs it needs; a check whose inputs are absent is skipped
with the reason, a check that raises is recorded as failed with its message, and the
rest of the audit goes on. Nothing here draws or writes files; renderers do that.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

from workbench.config import AuditConfig
from workbench.errors import EmbedderUnavailable, PredictionsError, SourceError
from workbench.io.cache_folder import CacheUnusable
from workbench.marks import reviews_from_tags
from workbench.results import (AuditArtifacts, AuditResult, CheckStatus, EmbeddingInfo, FileProblem, IntegrityResult,
                               NeighborInfo)

log = logging.getLogger(__name__)


@dataclass
class AuditInputs:
    """What the checks draw on, filled stage by stage."""

    frame: Any
    task: str
    hashes: list[str | None]
    facts: list[Any]
    load_problems: list[dict]
    embeddings: Any = None
    embedded_rows: np.ndarray | None = None
    graph: Any = None
    embedder: Any = None
    predictions: np.ndarray | None = None
    prediction_rows: np.ndarray | None = None
    prediction_classes: list[str] | None = None
    prediction_source: str | None = None
    edges: Any = None
    near_rule: Any = None
    calibration: Any = None
    pair_reader: Any = None  # io.pair_pixels.PairReader, made on first use
    findings: dict[str, Any] = field(default_factory=dict)

    def has(self, need: str) -> bool:
        f = self.frame
        if need == "labels":
            return self.task == "classification" and f["label"].notna().sum() > 0
        if need == "any_labels":
            return bool(f["label"].notna().any() or f["labels"].map(bool).any())
        if need == "splits":
            return f["split"].notna().any()
        if need == "embeddings":
            return self.embeddings is not None and len(self.embeddings.ids) > 1
        if need == "features_or_predictions":
            return self.has("embeddings") or self.predictions is not None
        if need == "duplicates":
            return "duplicates" in self.findings
        return False


class _NoModel(Exception):
    """``--embedder none``: the audit runs without a model."""


@dataclass(frozen=True)
class CheckSpec:
    """A registered check: its name, the inputs it needs and why it is skipped without them."""

    name: str
    needs: tuple[str, ...]
    run: Callable[[AuditInputs, AuditConfig], Any]


def _run_integrity(inp: AuditInputs, cfg: AuditConfig) -> IntegrityResult:
    f = inp.frame
    problems = [FileProblem(sample_id=sid, filepath=fp, kind=facts.problem_kind, message=facts.problem)
                for sid, fp, facts in zip(f["id"], f["filepath"], inp.facts) if not facts.ok]
    bad = {p.sample_id for p in problems}
    if inp.embeddings is not None:
        fp_of = dict(zip(f["id"], f["filepath"]))
        problems += [FileProblem(sample_id=sid, filepath=fp_of[sid], kind="unreadable",
                                 message=f"could not be embedded ({msg}); re-export or remove it")
                     for sid, msg in inp.embeddings.failed.items() if sid not in bad]
    problems += [FileProblem(sample_id="", filepath=str(p.get("file_name") or p.get("source", "")),
                             kind=p.get("kind", "annotation"), message=str(p["message"])) for p in inp.load_problems]
    return IntegrityResult(problems=tuple(problems))


def _columns(inp: AuditInputs) -> tuple[list, list, list, list]:
    f = inp.frame
    return list(f["id"]), list(f["filepath"]), list(f["split"]), list(f["label"])


def _run_duplicates(inp: AuditInputs, cfg: AuditConfig):
    from workbench.checks.duplicates import duplicate_edges, find_duplicates

    rule = inp.near_rule or _fixed_rule(inp, cfg)
    vectors = inp.embeddings.vectors if inp.embeddings is not None else None
    inp.edges = duplicate_edges(inp.hashes, inp.graph, inp.embedded_rows, rule,
                                phashes=[x.phash for x in inp.facts],
                                phashes_mirror=[x.phash_mirror for x in inp.facts],
                                thumbs=[x.thumb for x in inp.facts], vectors=vectors, geometry=_pair_reader(inp))
    return find_duplicates(*_columns(inp), inp.hashes, inp.edges, threshold=rule.strict,
                           calibration=inp.calibration)


def _pair_reader(inp: AuditInputs):
    """The audit's one reader of pixel-level pair evidence (files are read again only for undecided pairs)."""
    if inp.pair_reader is None:
        from workbench.io.pair_pixels import PairReader

        inp.pair_reader = PairReader([x.filepath if x.ok else None for x in inp.facts],
                                     [(x.width, x.height) for x in inp.facts])
    return inp.pair_reader


def _matched_pairs(inp: AuditInputs) -> dict:
    edges = inp.edges
    return dict(edges.measured or {}) if edges is not None else {}


def _fixed_rule(inp: AuditInputs, cfg: AuditConfig):
    from workbench.checks.near_rule import NearRule

    return NearRule.fixed(_near_threshold(inp, cfg), cfg.phash_max_distance)


def _near_threshold(inp: AuditInputs, cfg: AuditConfig) -> float:
    if inp.near_rule is not None:
        return inp.near_rule.strict
    if cfg.near_duplicate_threshold is not None:
        return cfg.near_duplicate_threshold
    return inp.embedder.near_threshold if inp.embedder is not None else 0.0


def _calibrate(inp: AuditInputs, cfg: AuditConfig) -> None:
    """Set ``inp.near_rule`` and ``inp.calibration`` (see ``checks/calibration``); needs embeddings."""
    from workbench.checks.calibration import choose_rule, judge
    from workbench.embeddings.cache import default_cache_root
    from workbench.embeddings.copies import Original, measure_copies

    fixed = _fixed_rule(inp, cfg)
    vectors, rows = inp.embeddings.vectors, inp.embedded_rows
    by_sha: dict[str, int] = {}
    for g, r in enumerate(rows.tolist()):
        sha = inp.hashes[r]
        if sha is not None and sha not in by_sha:
            by_sha[sha] = g
    sample = sorted(by_sha)[:cfg.calibration_samples]  # by content hash: the same images on every re-audit
    originals = [Original(sha, inp.facts[rows[by_sha[sha]]].filepath, vectors[by_sha[sha]],
                          inp.facts[rows[by_sha[sha]]].thumb, inp.facts[rows[by_sha[sha]]].phash) for sha in sample]
    root = Path(cfg.embedder.cache_dir) if cfg.embedder.cache_dir else default_cache_root()
    copies = measure_copies(originals, inp.embedder, cache_root=root, batch_size=cfg.embedder.batch_size)
    negatives, bar_negatives = _nearest_distinct(inp, cfg.phash_max_distance)
    if cfg.near_duplicate_threshold is not None:
        rule, method, note = fixed, "user", "--near-threshold given: one cosine threshold, judged on known copies"
    else:
        rule = choose_rule(copies, negatives, phash_bits=cfg.phash_max_distance, fallback=fixed.strict,
                           bar_negatives=bar_negatives)
        method, note = ("calibrated", "") if rule != fixed else ("fixed", "too few images to calibrate; the "
                                                                          "model's default threshold")
    inp.near_rule = rule
    inp.calibration = judge(rule, copies, negatives, method=method, n_originals=len(originals), note=note)


#: Images whose neighbours get their pixels compared during calibration (the closest first), each
#: with every non-evident neighbour within reach of the loose threshold; beyond these only the nearest
#: is measured, without pixels (an unmeasured signal never hides a negative).
GEOMETRY_NEGATIVES = 2000


def _nearest_distinct(inp: AuditInputs, phash_bits: int) -> tuple[list, list]:
    """``(nearest, measured)``: each embedded image's nearest neighbour that is neither the same file nor
    evidently a copy of it (``checks.calibration.evident_copy``), and every non-evident neighbour measured:
    the nearest of each image and, for the closest images, all within reach of the loose threshold (the
    look-alike that links is as often an image's third neighbour as its first)."""
    from workbench.checks.calibration import LOOSE_NEGATIVE_SHARE, Measure, evident_copy
    from workbench.checks.duplicates import _phash_bits
    from workbench.checks.near_rule import thumb_similarity, thumbnail

    g, rows, facts = inp.graph, inp.embedded_rows, inp.facts
    phashes = [x.phash for x in facts]
    mirrors = [x.phash_mirror for x in facts]
    reader = _pair_reader(inp)
    if not len(rows):
        return [], []
    closest_first = np.argsort(g.distances[:, 0], kind="stable")
    wide = set(closest_first[:GEOMETRY_NEGATIVES].tolist())
    reach = 2.0 * float(np.quantile(g.distances[:, 0], LOOSE_NEGATIVE_SHARE))  # beyond any loose threshold
    nearest, measured = [], []
    for i in range(len(rows)):
        a = int(rows[i])
        found = False
        for j, d in zip(g.indices[i].tolist(), g.distances[i].tolist()):
            b = int(rows[j]) if j >= 0 else -1
            if b < 0 or (inp.hashes[a] is not None and inp.hashes[a] == inp.hashes[b]):
                continue
            if found and d > reach:
                break
            bits, mirrored = _phash_bits(phashes, mirrors, a, b)
            m = Measure(float(d), thumb_similarity(thumbnail(facts[a].thumb), thumbnail(facts[b].thumb)), bits,
                        mirrored)
            if not evident_copy(m, phash_bits) and i in wide:
                m = m._replace(**reader(a, b)._asdict())
            if evident_copy(m, phash_bits):
                continue
            if not found:
                nearest.append(m)
                found = True
            measured.append(m)
            if i not in wide:
                break
    return nearest, measured


def _run_leakage(inp: AuditInputs, cfg: AuditConfig):
    from workbench.checks.leakage import find_leaks

    return find_leaks(*_columns(inp), inp.hashes, inp.edges or [], inp.findings["duplicates"])


def _run_label_issues(inp: AuditInputs, cfg: AuditConfig):
    from workbench.checks.label_issues import add_neighbor_votes

    result = _label_issue_result(inp, cfg)
    if inp.graph is None:
        return result
    ids, _, _, labels = _columns(inp)
    rows = inp.embedded_rows
    return add_neighbor_votes(result, {ids[r]: g for g, r in enumerate(rows)}, [labels[r] for r in rows],
                              inp.graph.indices)


def _label_issue_result(inp: AuditInputs, cfg: AuditConfig):
    from workbench.checks.label_issues import find_label_issues, graph_neighbor_labels, label_issues_from_features

    ids, paths, splits, labels = _columns(inp)

    def neighbor_labels(rows):  # the given labels of each row's nearest images, for the review ranking
        if inp.graph is None:
            return None
        graph_rows = inp.embedded_rows
        return graph_neighbor_labels(rows, {int(r): g for g, r in enumerate(graph_rows)},
                                     [labels[r] for r in graph_rows], inp.graph.indices)

    if inp.predictions is not None:
        rows = inp.prediction_rows
        assert rows is not None and inp.prediction_classes is not None
        labelled = [k for k, r in enumerate(rows) if labels[r] is not None]
        rows_l = rows[labelled]
        missing = sorted(set(range(len(ids))) - set(rows.tolist()))
        return find_label_issues([ids[r] for r in rows_l], [paths[r] for r in rows_l], [splits[r] for r in rows_l],
                                 [labels[r] for r in rows_l], inp.predictions[labelled], inp.prediction_classes,
                                 method=f"user predictions ({inp.prediction_source})",
                                 filter_by=cfg.label_issue_filter, not_assessed=[ids[r] for r in missing],
                                 not_assessed_reason="no prediction for this sample" if missing else "",
                                 review_budget=cfg.review_budget, neighbor_labels=neighbor_labels(rows_l))
    emb = inp.embeddings
    rows = inp.embedded_rows
    return label_issues_from_features([ids[r] for r in rows], [paths[r] for r in rows], [splits[r] for r in rows],
                                      [labels[r] for r in rows], emb.vectors, n_folds=cfg.cv_folds, seed=cfg.seed,
                                      filter_by=cfg.label_issue_filter, review_budget=cfg.review_budget,
                                      neighbor_labels=neighbor_labels(rows))


def _label_lists(inp: AuditInputs) -> list[list[str]]:
    f = inp.frame
    if inp.task == "classification":
        return [[lab] if lab is not None else [] for lab in f["label"]]
    return [list(labs) for labs in f["labels"]]


def _run_balance(inp: AuditInputs, cfg: AuditConfig):
    from workbench.checks.balance import class_balance

    return class_balance(_label_lists(inp), list(inp.frame["split"]), task=inp.task,
                         min_ratio=cfg.min_class_ratio, readiness=cfg.readiness)


def _run_bias(inp: AuditInputs, cfg: AuditConfig):
    from workbench.checks.bias import aspect_bucket, find_bias, size_bucket

    f = inp.frame
    attrs: dict[str, list] = {}
    widths = [x.width for x in inp.facts]
    heights = [x.height for x in inp.facts]
    attrs["image_size"] = [size_bucket(w, h) for w, h in zip(widths, heights)]
    attrs["aspect_ratio"] = [aspect_bucket(w, h) for w, h in zip(widths, heights)]
    attrs["file_format"] = [x.image_format for x in inp.facts]
    core = {"id", "filepath", "tags", "split", "label", "labels"}
    for col in f.columns:
        if col not in core:
            attrs[col] = list(f[col])
    if cfg.bias_attributes is not None:
        attrs = {k: v for k, v in attrs.items() if k in cfg.bias_attributes}
    # Labels per sample for the cross-tabs; detection repeats the image's attributes per object.
    lists, splits = _label_lists(inp), list(f["split"])
    idx = [i for i, labs in enumerate(lists) for _ in labs]
    labels = [lab for labs in lists for lab in labs]
    balance = inp.findings.get("balance")
    return find_bias(labels, [splits[i] for i in idx], {k: [v[i] for i in idx] for k, v in attrs.items()},
                     counts=balance.counts if balance is not None else None, max_levels=cfg.max_attribute_levels)


CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec("integrity", (), _run_integrity),
    CheckSpec("duplicates", (), _run_duplicates),
    CheckSpec("leakage", ("splits", "duplicates"), _run_leakage),
    CheckSpec("label_issues", ("labels", "features_or_predictions"), _run_label_issues),
    CheckSpec("balance", ("any_labels",), _run_balance),
    CheckSpec("bias", ("any_labels",), _run_bias),
)

_WHY_MISSING = {
    "labels": "needs image-level class labels (a Classification field)",
    "any_labels": "the dataset has no labels",
    "splits": "the dataset has no splits (folders, tags or a split field)",
    "embeddings": "no embeddings could be computed",
    "features_or_predictions": "needs embeddings or user predictions",
    "duplicates": "the duplicates check did not run",
}


def _why_missing(need: str, task: str) -> str:
    """Why a check that needs ``need`` was skipped, in the terms of this dataset's task."""
    if need == "labels" and task == "detection":
        return _WHY_MISSING[need] + "; detection label review needs predicted boxes, which this version does not take"
    if need == "labels" and task == "segmentation":
        return _WHY_MISSING[need] + "; segmentation masks are not reviewed for label errors in this version"
    return _WHY_MISSING[need]


def _neighbor_graph(inp: AuditInputs, cfg: AuditConfig, dataset_name: str) -> tuple[Any, NeighborInfo]:
    """The shared k-NN graph: updated from the last audit of this dataset when possible, else built."""
    from workbench.checks.neighbors import knn_graph, update_knn_graph
    from workbench.embeddings.cache import default_cache_root
    from workbench.io.graph_store import graph_path, load_graph, save_graph

    start = time.perf_counter()
    emb, e = inp.embeddings, inp.embedder
    hashes = [str(inp.hashes[r]) for r in inp.embedded_rows]
    path = graph_path(cfg.embedder.cache_dir or default_cache_root(), dataset_name, e.model_id, e.preprocessing,
                      cfg.k_neighbors)
    stored = load_graph(path) if cfg.incremental else None
    mapping = stored.rows_in(emb.ids, hashes) if stored is not None else None
    if stored is not None and (mapping >= 0).any() and (cfg.knn_method in ("auto", stored.graph.method)):
        graph, stats = update_knn_graph(stored.graph, mapping, emb.vectors, k=cfg.k_neighbors)
        mode = "rebuilt" if stats["rebuilt"] else "updated"
    else:
        graph = knn_graph(emb.vectors, cfg.k_neighbors, method=cfg.knn_method, seed=cfg.seed)
        stats, mode = {"reused": 0, "new": len(emb.ids), "recomputed": 0}, "built"
    try:
        save_graph(path, emb.ids, hashes, graph)
    except OSError as exc:  # the audit stands; only the next one can't be incremental
        log.warning("could not store the neighbour graph at %s (%s); the next audit rebuilds it", path, exc)
    log.info("k-NN graph %s (%s): %s", mode, graph.method, stats)
    return graph, NeighborInfo(method=graph.method, k=graph.k, mode=mode, n_rows=len(emb.ids),
                               n_reused=stats["reused"], n_new=stats["new"], n_recomputed=stats["recomputed"],
                               seconds=round(time.perf_counter() - start, 3))


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("workbench", "fiftyone", "open_clip_torch", "torch", "cleanlab", "scikit-learn", "numpy", "timm"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def _attach_predictions(inp: AuditInputs, cfg: AuditConfig, dataset: Any) -> None:
    from workbench.io.predictions import predictions_from_field, read_predictions_csv

    spec = cfg.predictions
    if not spec:
        return
    classes = sorted({lab for lab in inp.frame["label"] if lab is not None})
    paths = list(inp.frame["filepath"])
    if Path(spec).expanduser().suffix.lower() == ".csv" or Path(spec).expanduser().is_file():
        table = read_predictions_csv(spec, classes)
        real = [os.path.realpath(fp) for fp in paths]
        rows = [i for i, fp in enumerate(real) if fp in table]
        paths = real
        probs = [table[paths[i]] for i in rows]
        unknown = len(table) - len(rows)
        if unknown:
            log.warning("%d prediction rows name files that are not in the dataset; ignored", unknown)
    else:
        if dataset is None or spec not in dataset.get_field_schema():
            raise PredictionsError(f"predictions {spec!r} is neither a CSV file nor a field of the dataset")
        values = predictions_from_field(dataset.values(spec), classes)
        rows = [i for i, v in enumerate(values) if v is not None]
        probs = [values[i] for i in rows]
    if not rows:
        raise PredictionsError(f"predictions {spec!r} match no sample of the dataset; check the file paths "
                               "(absolute, or relative to the CSV's folder)")
    inp.predictions = np.stack(probs)
    inp.prediction_rows = np.array(rows)
    inp.prediction_classes = classes
    inp.prediction_source = str(spec)


def _read_files(paths: list[str], info: dict, cfg: AuditConfig, progress: bool) -> list[Any]:
    """Each file's facts; files outside the dataset root are reported, never opened."""
    from workbench.embeddings.cache import default_cache_root
    from workbench.io.boundary import OUTSIDE_ROOT, dataset_roots, outside_root
    from workbench.io.files import FileFacts, inspect_files

    roots = () if cfg.allow_outside_root else dataset_roots(info)
    blocked = outside_root(paths, roots)
    inside = [p for p, b in zip(paths, blocked) if not b]
    facts_db = Path(cfg.embedder.cache_dir or default_cache_root()) / "files.sqlite" if cfg.reuse_file_facts else None
    read = iter(inspect_files(inside, progress=progress, cache_path=facts_db))
    if any(blocked):
        log.warning("%d referenced files lie outside the dataset folder and were not read "
                    "(--allow-outside-root reads them)", sum(blocked))
    where = " or ".join(roots)
    return [FileFacts(p, None, None, None, None, None,
                      f"resolves to {os.path.realpath(p)}, outside the dataset folder {where}; it was not read "
                      "(move it inside, or pass --allow-outside-root)", OUTSIDE_ROOT)
            if b else next(read) for p, b in zip(paths, blocked)]


def _refuse_mostly_missing(facts: list[Any], cfg: AuditConfig, source: str) -> None:
    """An audit of a dataset whose images are mostly absent would report "0 duplicates": stop instead."""
    missing = sum(f.problem_kind == "missing" for f in facts)
    if facts and missing > cfg.max_missing_share * len(facts):
        example = next(f.filepath for f in facts if f.problem_kind == "missing")
        raise SourceError(f"{missing} of {len(facts)} referenced images are missing (e.g. {example}); check "
                          f"the images folder of {source} (COCO: --images DIR)")


def run_audit(dataset: Any, config: AuditConfig | None = None, *, label_field: str | None = None,
              split_field: str | None = None, progress: bool = True) -> AuditResult:
    """Audit a FiftyOne dataset (or view) and return an :class:`AuditResult`. Writes nothing.

    Example:
        >>> ds = workbench.load("data/demo/fashion-mnist")  # doctest: +SKIP
        >>> result = run_audit(ds)  # doctest: +SKIP
        >>> result.counts()  # doctest: +SKIP
    """
    from workbench.embeddings.backends import load_embedder
    from workbench.embeddings.pipeline import embed_files
    from workbench.io.table import to_table

    cfg = config or AuditConfig()
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    table = to_table(dataset, label_field=label_field, split_field=split_field)
    frame = table.frame
    timings["table"] = time.perf_counter() - t0

    # The model is loaded before any file is read: a model that was asked for by name and can't
    # be loaded is an input error, found in seconds rather than after reading every file.
    embedder, embedder_error = None, None
    if cfg.embedder.name != "none":
        try:
            embedder = load_embedder(cfg.embedder)
        except EmbedderUnavailable as exc:
            if cfg.embedder.name != "auto":
                raise
            embedder_error = exc
        except Exception as exc:  # recorded on the result; duplicates still run on content hashes
            embedder_error = exc

    t = time.perf_counter()
    info = dataset.info.get("workbench", {}) if hasattr(dataset, "info") else {}
    facts = _read_files(list(frame["filepath"]), info, cfg, progress)
    _refuse_mostly_missing(facts, cfg, table.source or table.dataset_name)
    timings["read_files"] = time.perf_counter() - t
    inp = AuditInputs(frame=frame, task=table.task, hashes=[x.sha256 if x.ok else None for x in facts],
                      facts=facts, load_problems=list(info.get("load_problems", [])))
    checks: list[CheckStatus] = []

    t = time.perf_counter()
    embedding_info = None
    try:
        if cfg.embedder.name == "none":
            raise _NoModel
        if embedder_error is not None:
            raise embedder_error
        inp.embedder = embedder
        readable = [i for i, x in enumerate(facts) if x.ok]
        ids = list(frame["id"])
        emb = embed_files([ids[i] for i in readable], [frame["filepath"].iat[i] for i in readable],
                          [inp.hashes[i] for i in readable], inp.embedder, cache_dir=cfg.embedder.cache_dir,
                          batch_size=cfg.embedder.batch_size, num_workers=cfg.embedder.num_workers,
                          progress=progress)
        inp.embeddings = emb
        row_of = {sid: i for i, sid in enumerate(ids)}
        inp.embedded_rows = np.array([row_of[s] for s in emb.ids], dtype=np.int64)
        e = inp.embedder
        embedding_info = EmbeddingInfo(model_id=e.model_id, backend=e.family, requested=e.requested,
                                       trained=e.trained, dim=e.dim, device=e.device, preprocessing=e.preprocessing,
                                       fallback_reason=e.fallback_reason, n_computed=emb.n_computed,
                                       n_cached=emb.n_cached, n_failed=len(emb.failed), seconds=emb.seconds,
                                       precision=e.precision, bf16_drift=e.bf16_drift,
                                       precision_note=e.precision_note)
        checks.append(CheckStatus("embeddings", "ran", seconds=round(time.perf_counter() - t, 3)))
    except CacheUnusable:  # the user's to fix (exit 2), not a check that failed
        raise
    except _NoModel:
        checks.append(CheckStatus("embeddings", "skipped", "no model was asked for (--embedder none); duplicates "
                                                           "use content and perceptual hashes"))
    except Exception as exc:  # recorded on the result; duplicates still run on content hashes
        log.error("embeddings failed: %s", exc)
        checks.append(CheckStatus("embeddings", "failed", f"{type(exc).__name__}: {exc}",
                                  round(time.perf_counter() - t, 3)))
    timings["embeddings"] = time.perf_counter() - t

    neighbor_info = None
    if inp.embeddings is not None and len(inp.embeddings.ids) > 1:
        t = time.perf_counter()
        try:
            inp.graph, neighbor_info = _neighbor_graph(inp, cfg, table.dataset_name)
            checks.append(CheckStatus("neighbors", "ran", seconds=round(time.perf_counter() - t, 3)))
        except Exception as exc:  # near duplicates then fall back to content hashes only
            log.exception("k-NN graph failed")
            checks.append(CheckStatus("neighbors", "failed", f"{type(exc).__name__}: {exc}",
                                      round(time.perf_counter() - t, 3)))
        timings["neighbors"] = time.perf_counter() - t

    if inp.graph is not None and cfg.calibrate:
        t = time.perf_counter()
        try:
            _calibrate(inp, cfg)
            checks.append(CheckStatus("calibration", "ran", seconds=round(time.perf_counter() - t, 3)))
        except Exception as exc:  # the model's fixed threshold still serves
            log.exception("near-duplicate calibration failed")
            checks.append(CheckStatus("calibration", "failed", f"{type(exc).__name__}: {exc}",
                                      round(time.perf_counter() - t, 3)))
        timings["calibration"] = time.perf_counter() - t
    elif inp.graph is not None:
        checks.append(CheckStatus("calibration", "skipped", "calibration is off (--no-calibration): the model's "
                                                            "fixed near-duplicate threshold"))

    _attach_predictions(inp, cfg, dataset)  # bad predictions are the user's to fix: PredictionsError

    for spec in CHECKS:
        missing = [n for n in spec.needs if not inp.has(n)]
        if missing:
            reason = "; ".join(_why_missing(n, inp.task) for n in missing)
            checks.append(CheckStatus(spec.name, "skipped", reason))
            continue
        t = time.perf_counter()
        try:
            inp.findings[spec.name] = spec.run(inp, cfg)
            checks.append(CheckStatus(spec.name, "ran", seconds=round(time.perf_counter() - t, 3)))
        except Exception as exc:  # a failing check is recorded and the others still run
            log.exception("check %s failed", spec.name)
            checks.append(CheckStatus(spec.name, "failed", f"{type(exc).__name__}: {exc}",
                                      round(time.perf_counter() - t, 3)))
        timings[spec.name] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t0

    labels = _label_lists(inp)
    cfg_dict = cfg.to_dict()
    cfg_dict["near_duplicate_threshold_used"] = _near_threshold(inp, cfg)
    if inp.near_rule is not None:
        cfg_dict["near_duplicate_loose_threshold_used"] = inp.near_rule.loose
    f = inp.findings
    artifacts = None
    if inp.embeddings is not None:
        g = inp.graph
        artifacts = AuditArtifacts(
            sample_ids=tuple(frame["id"]), filepaths=tuple(frame["filepath"]), splits=tuple(frame["split"]),
            labels=tuple(frame["label"]), hashes=tuple(inp.hashes), embedded_rows=inp.embedded_rows,
            vectors=inp.embeddings.vectors, neighbor_indices=None if g is None else g.indices,
            neighbor_distances=None if g is None else g.distances, phashes=tuple(x.phash for x in facts),
            phashes_mirror=tuple(x.phash_mirror for x in facts), thumbs=tuple(x.thumb for x in facts),
            pair_pixels=tuple((a, b, *v) for (a, b), v in sorted(_matched_pairs(inp).items())))
    return AuditResult(
        dataset_name=table.dataset_name, source=table.source, task=table.task, n_samples=len(frame),
        classes=tuple(sorted({lab for labs in labels for lab in labs})),
        splits=tuple(sorted({s for s in frame["split"] if s is not None})),
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"), config=cfg_dict,
        versions=_versions(), checks=tuple(checks), embedding=embedding_info, neighbors=neighbor_info,
        integrity=f.get("integrity"),
        duplicates=f.get("duplicates"), leakage=f.get("leakage"), label_issues=f.get("label_issues"),
        balance=f.get("balance"), bias=f.get("bias"), timings={k: round(v, 3) for k, v in timings.items()},
        reviews=reviews_from_tags(frame["id"], frame["tags"]), artifacts=artifacts)
