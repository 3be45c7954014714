"""bf16 or fp32 weights: what the hardware supports, and how far bf16 drifts from fp32.

bf16 weights roughly double CPU throughput on processors with AVX512-BF16 or AMX and
are the norm on GPUs. They are only used when the cosine drift against fp32, measured on
a fixed probe batch at load time, stays far below the near-duplicate threshold.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

log = logging.getLogger(__name__)

#: bf16 is kept only while its drift stays below this share of the near-duplicate threshold.
MAX_DRIFT_SHARE = 0.1
#: ... and while no distance between two probe images moves by more than this share of it. Measured: a
#: real pair of images moved 3.4x more than any probe pair did (OpenVINO bf16, EfficientNet-Lite0:
#: 0.019 vs 0.0056), so the share leaves a factor of 4 for what the probe does not show.
PAIR_DRIFT_SHARE = 0.025


def pair_drift(reference: Any, got: Any) -> float:
    """The largest change of the cosine distance between two rows, from ``reference`` to ``got``.

    Example:
        >>> import numpy as np
        >>> a = np.eye(3)
        >>> pair_drift(a, a), round(pair_drift(a, a + [[0, 0.1, 0], [0, 0, 0], [0, 0, 0]]), 4)
        (0.0, 0.005)
    """
    import numpy as np

    a = np.asarray(reference, dtype=np.float64)
    b = np.asarray(got, dtype=np.float64)
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    iu = np.triu_indices(len(a), 1)
    return float(np.abs((a @ a.T)[iu] - (b @ b.T)[iu]).max()) if len(iu[0]) else 0.0


def bf16_refusal(drift: float, moved: float, threshold: float) -> str | None:
    """Why bf16 with these measured drifts is not used by ``auto`` (``None``: it may be)."""
    if drift > MAX_DRIFT_SHARE * threshold:
        return f"bf16 drift {drift:.2e} exceeds {MAX_DRIFT_SHARE * threshold:.2e} (10% of the threshold)"
    if moved > PAIR_DRIFT_SHARE * threshold:
        return (f"bf16 moves distances between probe images by up to {moved:.2e}, over "
                f"{PAIR_DRIFT_SHARE * threshold:.2e} (2.5% of the threshold)")
    return None


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags from ``/proc/cpuinfo`` (empty where that file does not exist)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def bf16_supported(device: str) -> bool:
    """Whether ``device`` runs bf16 matrix multiplies natively (not emulated).

    Example:
        >>> isinstance(bf16_supported("cpu"), bool)
        True
    """
    if device.startswith("cuda"):
        import torch

        return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if device == "cpu":
        return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})
    return False


def probe_batch(preprocess: Callable[[Any], Any], n: int = 8) -> Any:
    """A fixed, deterministic batch of structured images (gradients, blocks, rings), preprocessed."""
    import numpy as np
    import torch
    from PIL import Image

    rng = np.random.default_rng(1234)
    yy, xx = np.mgrid[0:256, 0:256] / 255.0
    images = []
    for k in range(n):
        r = np.sin((xx * (k + 1) + yy) * np.pi * 2) * 0.5 + 0.5
        g = ((xx * 4).astype(int) + (yy * (k % 3 + 2)).astype(int)) % 2
        b = np.hypot(xx - 0.5, yy - 0.5) < 0.15 + 0.04 * k
        arr = np.stack([r, g * 0.8, b * 0.9], -1) + rng.normal(0, 0.05, (256, 256, 3))
        images.append(Image.fromarray((np.clip(arr, 0, 1) * 255).astype(np.uint8)))
    return torch.stack([preprocess(img) for img in images])


@dataclass(frozen=True)
class PrecisionChoice:
    """The weights to run, their precision, and the measured drift that justified it."""

    model: Any
    precision: str  # "fp32" | "bf16"
    drift: float | None
    note: str | None


def choose_precision(model: Any, features: Callable[[Any, Any], Any], preprocess: Callable[[Any], Any], *,
                     device: str, requested: str, threshold: float) -> PrecisionChoice:
    """Pick fp32 or bf16 weights for ``model`` (already on ``device``, fp32, in eval mode).

    ``features(model, batch)`` returns the raw embedding batch. With ``requested="auto"`` bf16
    is used when the device supports it and the max cosine drift on :func:`probe_batch` is at
    most ``MAX_DRIFT_SHARE * threshold``; ``"bf16"`` forces it (the drift is still measured).
    """
    import torch

    if requested == "fp32":
        return PrecisionChoice(model, "fp32", None, None)
    if requested == "auto" and not bf16_supported(device):
        return PrecisionChoice(model, "fp32", None, f"bf16 not native on {device}")
    batch = probe_batch(preprocess, n=16).to(device)
    low = copy.deepcopy(model).to(torch.bfloat16)
    with torch.inference_mode():
        ref = torch.nn.functional.normalize(features(model, batch).float(), dim=-1)
        got = torch.nn.functional.normalize(features(low, batch.to(torch.bfloat16)).float(), dim=-1)
    drift = float((1.0 - (ref * got).sum(-1)).max().clamp(min=0.0))
    refusal = bf16_refusal(drift, pair_drift(ref.cpu().numpy(), got.cpu().numpy()), threshold)
    if requested == "bf16" or refusal is None:
        note = None if refusal is None else f"bf16 forced although {refusal}"
        if note:
            log.warning(note)
        return PrecisionChoice(low, "bf16", drift, note)
    note = f"{refusal}; running fp32"
    log.info(note)
    return PrecisionChoice(model, "fp32", drift, note)
