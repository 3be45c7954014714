"""workbench: audit computer-vision datasets before training.

The facade is lazy: ``import workbench`` imports neither torch, open_clip, fiftyone nor
ipywidgets; each is imported by the function that needs it.

Example:
    >>> import workbench
    >>> ds = workbench.load("data/demo/fashion-mnist")           # doctest: +SKIP
    >>> result = workbench.audit(ds)                              # doctest: +SKIP
    >>> workbench.render_html(result, "report.html")              # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "load": "workbench.io.loading",
    "add_annotator_file": "workbench.io.annotator_files",
    "run_audit": "workbench.orchestrator",
    "write_back": "workbench.render.fiftyone_app",
    "launch_app": "workbench.render.app_session",
    "review": "workbench.render.app_session",
    "mark_samples": "workbench.marks",
    "read_marks": "workbench.marks",
    "show": "workbench.panels",
    "render_html": "workbench.render.html_report",
    "to_export_dict": "workbench.render.json_export",
    "write_json": "workbench.render.json_export",
    "text_summary": "workbench.render.summary",
    "AuditConfig": "workbench.config",
    "EmbedderConfig": "workbench.config",
    "AuditResult": "workbench.results",
}

__all__ = sorted([*_LAZY, "audit", "embed", "__version__"])

if TYPE_CHECKING:  # pragma: no cover
    from workbench.config import AuditConfig
    from workbench.results import AuditResult


#: Subpackages reachable as attributes after a bare ``import workbench`` (imported on first use).
_SUBMODULES = frozenset({"panels", "checks", "marks", "results", "config", "embeddings", "io", "render"})


def __getattr__(name: str) -> Any:
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"workbench.{name}")
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")


def audit(source: Any, config: AuditConfig | None = None, *, format: str = "auto", name: str | None = None,
          label_field: str | None = None, split_field: str | None = None, write_back: bool = True,
          progress: bool = True) -> AuditResult:
    """Load ``source`` (a path or a FiftyOne dataset), audit it and write the findings back to FiftyOne.

    Example:
        >>> result = workbench.audit("data/demo/fashion-mnist")  # doctest: +SKIP
        >>> result.counts()["leaks"]  # doctest: +SKIP
        10
    """
    import os

    from workbench.io.loading import load
    from workbench.io.locks import audit_lock
    from workbench.orchestrator import run_audit
    from workbench.render.fiftyone_app import write_back as _write_back

    is_path = isinstance(source, (str, bytes)) or hasattr(source, "__fspath__")
    key = name or (os.path.realpath(os.fsdecode(source)) if is_path else source.name)
    with audit_lock(key, config.embedder.cache_dir if config else None):  # one audit of a dataset at a time
        dataset = load(source, format, name=name) if is_path else source
        result = run_audit(dataset, config, label_field=label_field, split_field=split_field, progress=progress)
        if write_back:
            _write_back(dataset, result)
    return result


def embed(dataset: Any, embedder: str = "auto", *, field: str = "wb_embedding", cache_dir: str | None = None,
          batch_size: int = 64, clip_model: str = "ViT-B-32", clip_pretrained: str | None = "laion2b_s34b_b79k",
          clip_checkpoint: str | None = None, progress: bool = True) -> Any:
    """Embed every readable image of ``dataset``, store vectors on the samples and in the cache.

    Returns the :class:`workbench.embeddings.pipeline.Embeddings`; re-runs embed only new or
    changed files (the cache is keyed by file content hash, model and preprocessing).

    Example:
        >>> emb = workbench.embed(ds, "efficientnet-lite0")  # doctest: +SKIP
        >>> emb.vectors.shape  # doctest: +SKIP
        (1390, 1280)
    """
    from workbench.config import EmbedderConfig
    from workbench.embeddings.backends import load_embedder
    from workbench.embeddings.pipeline import embed_files
    from workbench.io.files import inspect_files

    cfg = EmbedderConfig(name=embedder, clip_model=clip_model, clip_pretrained=clip_pretrained,
                         clip_checkpoint=clip_checkpoint, batch_size=batch_size, cache_dir=cache_dir)
    model = load_embedder(cfg)
    ids, paths = dataset.values(["id", "filepath"])
    facts = inspect_files(paths, progress=progress)
    result = embed_files(ids, paths, [f.sha256 if f.ok else None for f in facts], model, cache_dir=cache_dir,
                         batch_size=batch_size, progress=progress)
    dataset.set_values(field, dict(zip(result.ids, result.vectors)), key_field="id")
    return result
