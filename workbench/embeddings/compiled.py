"""Compiled CPU inference: the image tower exported once to ONNX, run by ONNX Runtime or OpenVINO.

PyTorch eager runs a CPU at a few percent of its peak; the same network exported to ONNX and
run by ONNX Runtime is several times faster, with the same fp32 numbers (see README, "Compiled
CPU inference", and ``benchmarks/RESULTS.md``). OpenVINO, an optional extra, adds bf16 on CPUs
with AVX512-BF16 or AMX.

The export is cached under the cache root's ``compiled/`` folder, named by the weights'
fingerprint, the preprocessing and the exporter's versions, so a second load only builds a
session. Every runtime is checked at load on :func:`~workbench.embeddings.precision.probe_batch`
against PyTorch fp32: an fp32 runtime must agree to :data:`FP32_MATCH`, a bf16 one to the bf16
drift limit. A runtime that fails its check is not used.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import tempfile
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from workbench.io.cache_folder import replace_shared

log = logging.getLogger(__name__)

#: The runtimes that run an ONNX export.
COMPILED_RUNTIMES = ("onnxruntime", "openvino")
#: An fp32 runtime is used only when its max cosine drift from PyTorch fp32 on the probe batch is
#: at most this (measured: about 1e-7 for both runtimes on EfficientNet-Lite0 and ViT-B-32).
FP32_MATCH = 1e-5
#: The ONNX operator set of the export (supported by every runtime version the project allows).
OPSET = 17
#: Bump when the export itself changes (names every cached export).
EXPORT_VERSION = 1


def runtime_installed(runtime: str) -> bool:
    """Whether ``runtime``'s Python package is importable (without importing it)."""
    module = {"onnxruntime": "onnxruntime", "openvino": "openvino"}.get(runtime)
    return module is None or importlib.util.find_spec(module) is not None


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


def runtime_order(runtime: str, *, bf16_wanted: bool) -> tuple[str, ...]:
    """The runtimes to try, fastest first, for a ``runtime`` setting.

    Measured on one network and machine (README, "Compiled CPU inference"): in fp32 ONNX Runtime
    is a little faster than OpenVINO; where bf16 is native OpenVINO's bf16 is about twice either.

    Example:
        >>> runtime_order("auto", bf16_wanted=False)
        ('onnxruntime', 'openvino', 'torch')
        >>> runtime_order("openvino", bf16_wanted=False)
        ('openvino',)
    """
    if runtime != "auto":
        return (runtime,)
    return ("openvino", "onnxruntime", "torch") if bf16_wanted else ("onnxruntime", "openvino", "torch")


def weights_fingerprint(model: Any) -> str:
    """A digest of every parameter and buffer of ``model`` (names, dtypes, shapes, bytes)."""
    import torch

    digest = hashlib.blake2b(digest_size=16)
    for name, tensor in model.state_dict().items():
        t = tensor.detach().to("cpu").contiguous().reshape(-1)
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        digest.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def compiled_root(cache_dir: str | None) -> Path:
    """Where exports are kept: ``<cache_dir>/compiled`` or ``$WORKBENCH_CACHE/compiled``."""
    if cache_dir:
        return Path(cache_dir) / "compiled"
    base = os.environ.get("WORKBENCH_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "workbench")
    return Path(base) / "compiled"


class _Features:
    """``features(model, batch)`` as the ``torch.nn.Module`` the exporter traces (built lazily)."""

    @staticmethod
    def module(model: Any, features: Callable[[Any, Any], Any]) -> Any:
        import torch

        class Tower(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, x: Any) -> Any:
                return features(self.model, x)

        return Tower().eval()


def export_onnx(model: Any, features: Callable[[Any, Any], Any], *, input_size: int, preprocessing: str,
                cache_dir: str | None) -> Path:
    """The ONNX file of ``features(model, ·)`` for ``[N, 3, size, size]`` batches, exported once.

    The file is written next to its final name and renamed into place, so concurrent loads
    never read half a file.

    Raises:
        OSError: the compiled folder can't be written (the caller falls back to PyTorch).
    """
    import torch

    key = hashlib.sha1(f"{weights_fingerprint(model)}|{preprocessing}|{input_size}|opset{OPSET}|"
                       f"torch{torch.__version__}|v{EXPORT_VERSION}".encode()).hexdigest()[:20]
    folder = compiled_root(cache_dir)
    target = folder / f"{key}.onnx"
    if target.is_file() and target.stat().st_size > 0:
        return target
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".export-", suffix=".onnx")
    os.close(fd)
    try:
        example = torch.zeros(2, 3, input_size, input_size)
        fastpath = torch.backends.mha.get_fastpath_enabled()
        # The fused attention kernel PyTorch uses at inference has no ONNX form; the exporter traces
        # the plain attention it replaces (same numbers).
        torch.backends.mha.set_fastpath_enabled(False)
        with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
            warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notices
            torch.onnx.export(_Features.module(model, features), (example,), tmp, input_names=["pixels"],
                              output_names=["features"], dynamic_axes={"pixels": {0: "n"}, "features": {0: "n"}},
                              opset_version=OPSET, dynamo=False)
        replace_shared(tmp, target)
    finally:
        torch.backends.mha.set_fastpath_enabled(fastpath)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    log.info("exported the image tower to %s", target)
    return target


def _onnxruntime_session(path: Path, threads: int) -> Callable[[np.ndarray], np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: its warnings name graph rewrites, not problems
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run(batch: np.ndarray) -> np.ndarray:
        return session.run(None, {"pixels": batch})[0]

    return run


def _openvino_model(path: Path, threads: int, precision: str) -> Callable[[np.ndarray], np.ndarray]:
    import openvino as ov

    compiled = ov.Core().compile_model(str(path), "CPU", {
        "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
        "INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"})
    request = compiled.create_infer_request()
    lock = threading.Lock()  # one infer request serves one call at a time (Dask workers run task threads)

    def run(batch: np.ndarray) -> np.ndarray:
        with lock:
            return np.array(request.infer({0: batch})[0], copy=True)

    return run


def load_compiled(runtime: str, path: Path, *, precision: str, threads: int) -> Callable[[np.ndarray], np.ndarray]:
    """A function from a float32 ``[N, 3, H, W]`` batch to raw float32 features on ``runtime``."""
    if runtime == "onnxruntime":
        return _onnxruntime_session(path, threads)
    if runtime == "openvino":
        return _openvino_model(path, threads, precision)
    raise ValueError(f"no compiled runtime {runtime!r}; choose one of {', '.join(COMPILED_RUNTIMES)}")


def cosine_drift(reference: np.ndarray, got: np.ndarray) -> float:
    """The largest cosine distance between matching rows (0 when identical up to scale)."""
    a = reference / np.linalg.norm(reference, axis=1, keepdims=True)
    b = got / np.linalg.norm(got, axis=1, keepdims=True)
    return float(max(0.0, (1.0 - (a * b).sum(axis=1)).max()))


@dataclass(frozen=True)
class CompiledChoice:
    """A compiled runtime that passed its probe: raw features from a numpy batch."""

    runtime: str
    precision: str  # "fp32" | "bf16"
    drift: float
    run: Callable[[np.ndarray], np.ndarray]


def choose_compiled(model: Any, features: Callable[[Any, Any], Any], probe: Any, reference: np.ndarray, *,
                    order: tuple[str, ...], precision: str, bf16_wanted: bool, threshold: float,
                    input_size: int, preprocessing: str, cache_dir: str | None,
                    notes: list[str], threads: int | None = None) -> CompiledChoice | None:
    """The first compiled runtime of ``order`` that installs, exports and passes its probe.

    ``reference`` is PyTorch fp32 on ``probe``; ``threshold`` the model's near-duplicate distance, which
    bf16 must respect (:func:`~workbench.embeddings.precision.bf16_refusal`). What was passed over, and
    why, is appended to ``notes``; ``None`` means none qualified (the caller runs PyTorch).
    """
    path: Path | None = None
    reexported = False
    batch = np.ascontiguousarray(probe.numpy(), dtype=np.float32)
    # OpenVINO's bf16 first where it is wanted; then the fp32 runtimes, ONNX Runtime first (the faster in fp32).
    attempts = [("openvino", "bf16")] if bf16_wanted and "openvino" in order else []
    attempts += [(r, "fp32") for r in ("onnxruntime", "openvino") if r in order]
    if precision == "bf16":
        attempts = [a for a in attempts if a[1] == "bf16"] or attempts
    passed_over: set[str] = set()
    for runtime, attempt in attempts:
        if runtime in passed_over:
            continue
        if not runtime_installed(runtime):
            notes.append(f"{runtime} is not installed")
            passed_over.add(runtime)
            continue
        for prec in (attempt,):  # a loop of one: `break` and `continue` pass the runtime over
            try:
                path = path or export_onnx(model, features, input_size=input_size, preprocessing=preprocessing,
                                           cache_dir=cache_dir)
                try:
                    run = load_compiled(runtime, path, precision=prec, threads=threads or usable_cores())
                except Exception as exc:  # a damaged cached export (a full disk, a copy cut short): export again
                    log.warning("compiled inference: %s can't read %s (%s: %s); exporting it again", runtime, path,
                                type(exc).__name__, exc)
                    path.unlink(missing_ok=True)
                    path = export_onnx(model, features, input_size=input_size, preprocessing=preprocessing,
                                       cache_dir=cache_dir)
                    run = load_compiled(runtime, path, precision=prec, threads=threads or usable_cores())
                drift = cosine_drift(reference, run(batch))
            except Exception as exc:  # an exporter or runtime that can't take this network: try the next
                notes.append(f"{runtime} {prec} failed: {type(exc).__name__}: {exc}")
                log.warning("compiled inference: %s", notes[-1])
                passed_over.add(runtime)
                break
            if prec == "bf16":
                from workbench.embeddings.precision import bf16_refusal, pair_drift

                refusal = bf16_refusal(drift, pair_drift(reference, run(batch)), threshold)
                if refusal is None or precision == "bf16":
                    if refusal is not None:
                        notes.append(f"{runtime} bf16 forced although {refusal}")
                    return CompiledChoice(runtime, prec, drift, run)
                notes.append(f"{runtime} {refusal}")
                log.info("compiled inference: %s", notes[-1])
                continue
            if drift > FP32_MATCH and not reexported:
                # A readable export that computes something else (another network copied under this name, a
                # file changed by hand): export again, once, before giving up on the runtime.
                log.warning("compiled inference: %s on %s drifts %.1e from PyTorch; exporting it again", runtime,
                            path, drift)
                reexported = True
                try:
                    path.unlink(missing_ok=True)
                    path = export_onnx(model, features, input_size=input_size, preprocessing=preprocessing,
                                       cache_dir=cache_dir)
                    run = load_compiled(runtime, path, precision=prec, threads=threads or usable_cores())
                    drift = cosine_drift(reference, run(batch))
                except Exception as exc:  # noqa: BLE001 - as above: this runtime is passed over
                    notes.append(f"{runtime} {prec} failed: {type(exc).__name__}: {exc}")
                    log.warning("compiled inference: %s", notes[-1])
                    break
            if drift <= FP32_MATCH:
                return CompiledChoice(runtime, prec, drift, run)
            notes.append(f"{runtime} {prec} drift {drift:.1e} exceeds {FP32_MATCH:.0e} ({path})")
            log.warning("compiled inference: %s", notes[-1])
    return None
