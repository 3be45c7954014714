"""The audit's stages before the checks: read the files, load the model, embed, build the graph,
read the user's predictions. Each returns plain values; the orchestrator records what happened.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from workbench.checks.inputs import ObjectPredictions, SegmentationPredictions
from workbench.checks.registry import Predictions, SampleColumns
from workbench.errors import PredictionsError, SourceError
from workbench.results import NeighborInfo

if TYPE_CHECKING:
    from workbench.config import AuditConfig
    from workbench.io.files import Measures

log = logging.getLogger(__name__)


@dataclass
class Stages:
    """What the stages before the checks produced, filled in order (the checks get a frozen
    :class:`~workbench.checks.registry.CheckInputs` made from it)."""

    columns: SampleColumns
    facts: list[Any]
    embedder: Any = None
    embeddings: Any = None
    embedded_rows: np.ndarray | None = None
    graph: Any = None
    pair_reader: Any = None


def read_files(paths: list[str], info: dict, cfg: AuditConfig, progress: bool, measures: Measures | None = None
               ) -> list[Any]:
    """Each file's facts (with the checks' ``measures``); files outside the dataset root are reported, never
    opened."""
    from workbench.embeddings.cache import default_cache_root
    from workbench.io.boundary import OUTSIDE_ROOT, dataset_roots, outside_root
    from workbench.io.files import FileFacts, inspect_files

    roots = () if cfg.allow_outside_root else dataset_roots(info)
    blocked = outside_root(paths, roots)
    inside = [p for p, b in zip(paths, blocked) if not b]
    facts_db = Path(cfg.embedder.cache_dir or default_cache_root()) / "files.sqlite" if cfg.reuse_file_facts else None
    read = iter(inspect_files(inside, progress=progress, cache_path=facts_db, measures=measures))
    if any(blocked):
        log.warning("%d referenced files lie outside the dataset folder and were not read "
                    "(--allow-outside-root reads them)", sum(blocked))
    where = " or ".join(roots)
    return [FileFacts(p, None, None, None, None, None,
                      f"resolves to {os.path.realpath(p)}, outside the dataset folder {where}; it was not read "
                      "(move it inside, or pass --allow-outside-root)", OUTSIDE_ROOT)
            if b else next(read) for p, b in zip(paths, blocked)]


def refuse_mostly_missing(facts: list[Any], cfg: AuditConfig, source: str) -> None:
    """An audit of a dataset whose images are mostly absent would report "0 duplicates": stop instead."""
    missing = sum(f.problem_kind == "missing" for f in facts)
    if facts and missing > cfg.max_missing_share * len(facts):
        example = next(f.filepath for f in facts if f.problem_kind == "missing")
        raise SourceError(f"{missing} of {len(facts)} referenced images are missing (e.g. {example}); check "
                          f"the images folder of {source} (COCO: --images DIR)")


def neighbor_graph(inp: Stages, cfg: AuditConfig, dataset_name: str) -> tuple[Any, NeighborInfo]:
    """The shared k-NN graph: updated from the last audit of this dataset when possible, else built."""
    from workbench.checks.neighbors import knn_graph, update_knn_graph
    from workbench.embeddings.cache import default_cache_root
    from workbench.io.graph_store import graph_path, load_graph, save_graph

    start = time.perf_counter()
    emb, e = inp.embeddings, inp.embedder
    hashes = [str(inp.columns.hashes[r]) for r in inp.embedded_rows]
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


def crop_reader(st: Stages, cfg: AuditConfig) -> Callable[..., Any] | None:
    """The checks' way to embed box crops of table rows with the audit's model (``None`` without one).

    Rows whose file was not read (missing, undecodable, outside the dataset folder: no content hash)
    give skipped crops, so the dataset root bounds what is read here too.

    Example:
        >>> crops = crop_reader(st, cfg)([0, 0], [(0.1, 0.1, 0.3, 0.3), (0.5, 0.5, 0.2, 0.2)])  # doctest: +SKIP
    """
    if st.embedder is None:
        return None
    model, cols = st.embedder, st.columns

    def crop_features(rows: Sequence[int], boxes: Sequence[Any], *, padding: float = 0.1,
                      min_side_px: float = 8.0) -> Any:
        from workbench.embeddings.crops import embed_crops

        return embed_crops([cols.filepaths[r] for r in rows], [cols.hashes[r] for r in rows], boxes, model,
                           padding=padding, min_side_px=min_side_px, cache_dir=cfg.embedder.cache_dir,
                           batch_size=cfg.embedder.batch_size)

    return crop_features


def read_predictions(columns: SampleColumns, cfg: AuditConfig, dataset: Any) -> Predictions | None:
    """The user's class probabilities (``cfg.predictions``: a CSV or a sample field) for the table's rows.

    Raises:
        PredictionsError: neither a CSV nor a field, or no row matches; the user's to fix.
    """
    from workbench.io.predictions import predictions_from_field, read_predictions_csv

    spec = cfg.predictions
    if not spec:
        return None
    classes = sorted({lab for lab in columns.labels if lab is not None})
    paths = list(columns.filepaths)
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
    return Predictions(np.stack(probs), np.array(rows), tuple(classes), str(spec))


def read_detector_predictions(columns: SampleColumns, facts: Sequence[Any], cfg: AuditConfig, dataset: Any,
                              info: dict) -> ObjectPredictions | None:
    """A detection dataset's predicted boxes (``cfg.predictions``: a COCO results JSON or a Detections field).

    Raises:
        PredictionsError: the user's to fix (see :mod:`workbench.io.object_predictions`).
    """
    from workbench.io.boundary import dataset_roots
    from workbench.io.object_predictions import read_object_predictions

    if not cfg.predictions:
        return None
    sizes = [(f.width, f.height) if f is not None else (None, None) for f in facts]
    return read_object_predictions(cfg.predictions, filepaths=columns.filepaths, sizes=sizes, dataset=dataset,
                                   info=info, roots=dataset_roots(info), allow_outside_root=cfg.allow_outside_root,
                                   classes=sorted({lab for labs in columns.label_lists for lab in labs}))


def read_mask_predictions(columns: SampleColumns, cfg: AuditConfig, dataset: Any, info: dict,
                          label_field: str | None) -> SegmentationPredictions | None:
    """A segmentation dataset's per-pixel probabilities (``cfg.predictions``: a folder of ``.npy`` files).

    Raises:
        PredictionsError: the user's to fix (see :mod:`workbench.io.segmentation_predictions`).
    """
    from workbench.io.boundary import dataset_roots
    from workbench.io.segmentation_predictions import read_segmentation_predictions

    if not cfg.predictions or dataset is None or not label_field:
        return None
    targets = (getattr(dataset, "mask_targets", {}) or {}).get(label_field) or \
        getattr(dataset, "default_mask_targets", None) or {}
    return read_segmentation_predictions(cfg.predictions, filepaths=columns.filepaths,
                                         masks=dataset.values(label_field), targets=targets,
                                         roots=dataset_roots(info), allow_outside_root=cfg.allow_outside_root)


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("workbench", "fiftyone", "open_clip_torch", "torch", "cleanlab", "scikit-learn", "numpy", "timm"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out
