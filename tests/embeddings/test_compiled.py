"""Compiled CPU inference: ONNX export cached once, each runtime checked against PyTorch fp32 at load.

The runtimes are the real ONNX Runtime and OpenVINO on the real ImageNet EfficientNet-Lite0
weights (and open_clip's ViT for the attention export). Bad inputs at the end: an unusable
compiled folder, a damaged cached export, a runtime that is not installed, a drift too large.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from workbench.config import EmbedderConfig
from workbench.embeddings import compiled
from workbench.embeddings.backends import load_embedder
from workbench.embeddings.precision import bf16_supported
from workbench.errors import EmbedderUnavailable

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "data" / "demo" / "fashion-mnist"


def _lite0(tmp_path: Path, runtime: str, precision: str = "fp32", cache: str = "cache"):
    return load_embedder(EmbedderConfig(name="efficientnet-lite0", runtime=runtime, precision=precision,
                                        cache_dir=str(tmp_path / cache)))


def _images(n: int = 6) -> torch.Tensor:
    from PIL import Image

    from workbench.embeddings.backends import LITE0_MEAN, LITE0_SIZE, LITE0_STD, _square_transform

    pre = _square_transform(LITE0_SIZE, LITE0_MEAN, LITE0_STD)
    files = sorted((DEMO / "train" / "Coat").glob("train-*.png"))[:n]
    return torch.stack([pre(Image.open(f).convert("RGB")) for f in files])


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_runtime_order_prefers_openvino_only_for_bf16():
    assert compiled.runtime_order("auto", bf16_wanted=True)[0] == "openvino"
    assert compiled.runtime_order("auto", bf16_wanted=False)[0] == "onnxruntime"
    assert compiled.runtime_order("torch", bf16_wanted=True) == ("torch",)


def test_weights_fingerprint_follows_every_value():
    torch.manual_seed(0)
    a = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    b = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    b.load_state_dict(a.state_dict())
    assert compiled.weights_fingerprint(a) == compiled.weights_fingerprint(b)
    with torch.no_grad():
        b[0].weight[0, 0, 0, 0] += 1e-6
    assert compiled.weights_fingerprint(a) != compiled.weights_fingerprint(b)


@pytest.mark.parametrize("runtime", ["onnxruntime", "openvino"])
def test_each_fp32_runtime_matches_pytorch_and_shares_its_cache_entries(tmp_path, runtime):
    eager = _lite0(tmp_path, "torch")
    fast = _lite0(tmp_path, runtime)
    assert (eager.runtime, fast.runtime, fast.precision) == ("torch", runtime, "fp32")
    assert fast.runtime_drift is not None and fast.runtime_drift <= compiled.FP32_MATCH
    assert fast.model_id == eager.model_id and fast.preprocessing == eager.preprocessing
    x = _images()
    with torch.inference_mode():
        a, b = eager.forward(x).numpy(), fast.forward(x).numpy()
    assert b.shape == a.shape == (len(x), 1280)
    assert np.allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    assert compiled.cosine_drift(a, b) <= compiled.FP32_MATCH


def test_export_is_written_once_and_reused(tmp_path):
    first = _lite0(tmp_path, "onnxruntime")
    exports = list((tmp_path / "cache" / "compiled").glob("*.onnx"))
    assert len(exports) == 1 and first.runtime == "onnxruntime"
    stamp = exports[0].stat().st_mtime_ns
    second = _lite0(tmp_path, "onnxruntime")
    assert list((tmp_path / "cache" / "compiled").glob("*.onnx")) == exports
    assert exports[0].stat().st_mtime_ns == stamp and second.runtime_drift == first.runtime_drift
    assert not list((tmp_path / "cache" / "compiled").glob(".export-*"))  # no temporary left behind


@pytest.mark.skipif(not bf16_supported("cpu"), reason="this CPU has no native bf16")
def test_openvino_bf16_runs_when_asked_with_its_own_cache_entries_and_auto_says_why_not(tmp_path):
    bf16 = _lite0(tmp_path, "auto", precision="bf16")
    fp32 = _lite0(tmp_path, "auto", precision="fp32")
    assert (bf16.runtime, bf16.precision) == ("openvino", "bf16")
    assert bf16.model_id != fp32.model_id and "bf16 openvino" in bf16.model_id
    assert 0 < bf16.bf16_drift <= 0.1 * bf16.near_threshold and "forced although" in bf16.precision_note
    assert (fp32.runtime, fp32.precision) == ("onnxruntime", "fp32")
    auto = _lite0(tmp_path, "auto", precision="auto")  # its distances between probe images move too far
    assert (auto.runtime, auto.precision) == ("onnxruntime", "fp32")
    assert "openvino bf16 moves distances between probe images" in auto.precision_note


def test_auto_without_native_bf16_runs_onnxruntime_fp32(tmp_path, monkeypatch):
    import workbench.embeddings.precision as prec

    monkeypatch.setattr(prec, "bf16_supported", lambda device: False)
    got = _lite0(tmp_path, "auto", precision="auto")
    assert (got.runtime, got.precision) == ("onnxruntime", "fp32")


@pytest.mark.slow
def test_vision_transformer_attention_exports_and_matches(tmp_path):
    """open_clip's ViT uses PyTorch's fused attention at inference; the export must trace the plain one."""
    torch.manual_seed(0)
    cfg = EmbedderConfig(name="clip", clip_pretrained=None, runtime="onnxruntime", precision="fp32",
                         cache_dir=str(tmp_path / "cache"))
    got = load_embedder(cfg)
    assert got.runtime == "onnxruntime" and got.runtime_drift <= compiled.FP32_MATCH
    assert torch.backends.mha.get_fastpath_enabled()  # the export put PyTorch's setting back


@pytest.mark.slow
def test_demo_neighbours_and_duplicates_are_those_of_pytorch_fp32(tmp_path):
    """Every planted copy of the demo with its original, and 200 more images: the same graph and pairs."""
    from workbench.checks.neighbors import knn_graph
    from workbench.embeddings.pipeline import compute_vectors

    planted = json.loads((REPO / "data" / "demo" / "PLANTED.json").read_text())
    chosen = {e["original"] for e in planted["exact_duplicates"]} | {c for e in planted["exact_duplicates"]
                                                                       for c in e["copies"]}
    chosen |= {e[k] for e in planted["near_duplicates"] for k in ("copy", "original")}
    chosen |= {e[k] for e in planted["leaks"] for k in ("train", "test")}
    others = sorted(str(p.relative_to(DEMO)) for p in DEMO.rglob("train-*.png"))
    chosen |= set(others[::max(1, len(others) // 200)][:200])
    paths = [str(DEMO / p) for p in sorted(chosen)]
    vectors = {}
    for runtime in ("torch", "onnxruntime", "openvino"):
        emb = _lite0(tmp_path, runtime)
        vectors[runtime], errors = compute_vectors(paths, emb, batch_size=64, num_workers=0, progress=False)
        assert not errors
    threshold = 0.06  # the backend's near-duplicate distance
    ref = knn_graph(vectors["torch"], k=10, method="exact")
    ref_pairs = set(zip(*map(np.ndarray.tolist, ref.pairs_within(threshold)[:2])))
    assert len(ref_pairs) >= 2 * len(planted["near_duplicates"])  # the planted copies are found at all
    for runtime in ("onnxruntime", "openvino"):
        got = knn_graph(vectors[runtime], k=10, method="exact")
        assert np.array_equal(got.indices, ref.indices), runtime
        assert np.abs(got.distances - ref.distances).max() < 1e-5
        pairs = set(zip(*map(np.ndarray.tolist, got.pairs_within(threshold)[:2])))
        assert pairs == ref_pairs, runtime


def test_decoding_workers_follow_the_cores():
    from workbench.embeddings.pipeline import auto_workers

    assert [auto_workers("cpu", n) for n in (1, 2, 3, 4, 8, 16, 64)] == [0, 0, 0, 1, 2, 4, 8]
    assert auto_workers("cuda:0", 2) == 2 and auto_workers("cuda", 32) == 8


def test_a_dask_worker_takes_its_share_of_the_host_cores():
    pytest.importorskip("distributed")
    from types import SimpleNamespace

    from workbench.embeddings._dask_worker import EmbedderPlugin

    cores = compiled.usable_cores()
    alone = EmbedderPlugin(EmbedderConfig(name="efficientnet-lite0"), {"10.0.0.5": 1})
    alone.setup(SimpleNamespace(address="tcp://10.0.0.5:4000"))
    shared = EmbedderPlugin(EmbedderConfig(name="efficientnet-lite0"), {"10.0.0.5": 2 * cores})
    shared.setup(SimpleNamespace(address="tcp://10.0.0.5:4001"))
    assert alone._threads == cores and shared._threads == 1


# --- bad inputs -------------------------------------------------------------------------------

def test_bad_input_compiled_folder_is_a_file(tmp_path):
    """Expected: auto runs PyTorch and says why; a named runtime is refused with the reason; the file is untouched."""
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "compiled").write_bytes(b"the user's file")
    before = _snapshot(tmp_path)
    auto = _lite0(tmp_path, "auto")
    assert auto.runtime == "torch" and "onnxruntime fp32 failed" in auto.precision_note
    with pytest.raises(EmbedderUnavailable, match="runtime 'onnxruntime' can't run"):
        _lite0(tmp_path, "onnxruntime")
    assert _snapshot(tmp_path) == before


def test_bad_input_damaged_cached_export_is_exported_again(tmp_path):
    """Expected: a truncated .onnx in the cache is replaced by a fresh export, and the runtime runs."""
    first = _lite0(tmp_path, "onnxruntime")
    (export,) = (tmp_path / "cache" / "compiled").glob("*.onnx")
    export.write_bytes(export.read_bytes()[:4096])
    again = _lite0(tmp_path, "onnxruntime")
    assert again.runtime == "onnxruntime" and again.runtime_drift == first.runtime_drift
    assert export.stat().st_size > 4096


def test_bad_input_runtime_not_installed(tmp_path, monkeypatch):
    """Expected: naming a missing runtime is a clear EmbedderUnavailable; auto goes on to the next one."""
    monkeypatch.setattr(compiled, "runtime_installed", lambda name: name != "openvino")
    with pytest.raises(EmbedderUnavailable, match="openvino is not installed"):
        _lite0(tmp_path, "openvino")
    note = _lite0(tmp_path, "onnxruntime", precision="bf16").precision_note
    assert "ONNX Runtime runs fp32 only" in note
    assert _lite0(tmp_path, "auto", precision="bf16").runtime == "torch"  # forced bf16: PyTorch's bf16


def test_bad_input_bf16_drift_over_the_limit_falls_back_to_fp32(tmp_path):
    """Expected: OpenVINO bf16 whose measured drift exceeds the limit is passed over for fp32, with a note."""
    from workbench.embeddings.backends import _lite0_features, efficientnet_lite0_network
    from workbench.embeddings.precision import probe_batch

    emb = _lite0(tmp_path, "torch")
    model = efficientnet_lite0_network()
    probe = probe_batch(emb.preprocess)
    with torch.inference_mode():
        reference = _lite0_features(model, probe).numpy()
    notes: list[str] = []
    got = compiled.choose_compiled(model, _lite0_features, probe, reference, order=("openvino",),
                                   precision="auto", bf16_wanted=True, threshold=1e-11, input_size=224,
                                   preprocessing=emb.preprocessing, cache_dir=str(tmp_path / "cache"), notes=notes)
    assert got is not None and (got.runtime, got.precision) == ("openvino", "fp32")
    assert len(notes) == 1 and "openvino bf16 drift" in notes[0] and "exceeds" in notes[0]


def test_bad_input_unknown_runtime_is_refused():
    with pytest.raises(ValueError, match="unknown runtime 'tensorrt'"):
        EmbedderConfig(runtime="tensorrt")


@pytest.mark.parametrize("field, value", [("num_workers", -1), ("threads", 0), ("threads", True), ("num_workers", 1.5)])
def test_bad_input_worker_and_thread_counts_are_refused(field, value):
    with pytest.raises(ValueError, match=f"{field} must be"):
        EmbedderConfig(**{field: value})


def test_auto_with_no_hub_models_and_no_network_falls_back_without_importing_open_clip(tmp_path):
    """A fresh offline machine: ``auto`` says why CLIP is unavailable before spending seconds importing it."""
    import os
    import subprocess
    import sys

    code = ("import sys, socket; socket.getaddrinfo = lambda *a, **k: (_ for _ in ()).throw(OSError('offline'))\n"
            "from workbench.config import EmbedderConfig\n"
            "from workbench.embeddings.backends import load_embedder\n"
            f"e = load_embedder(EmbedderConfig(runtime='torch', cache_dir={str(tmp_path / 'c')!r}))\n"
            "print(e.family, 'open_clip' in sys.modules, e.fallback_reason)")
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "empty-hub")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    family, imported, reason = out.stdout.strip().splitlines()[-1].split(" ", 2)
    assert (family, imported) == ("efficientnet-lite0", "False")
    assert "not in the local cache and the model hub is unreachable" in reason


def test_bad_input_a_readable_export_of_another_network_is_exported_again(tmp_path):
    """Expected: an .onnx under the cached name that computes something else (another network) fails the fp32
    probe, is exported again once, and the runtime runs; the result matches PyTorch."""
    first = _lite0(tmp_path, "onnxruntime")
    (export,) = (tmp_path / "cache" / "compiled").glob("*.onnx")
    other = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, stride=4), torch.nn.AdaptiveAvgPool2d(4),
                                torch.nn.Flatten(), torch.nn.Linear(128, 1280)).eval()
    torch.onnx.export(other, (torch.zeros(2, 3, 224, 224),), str(export), input_names=["pixels"],
                      output_names=["features"], dynamic_axes={"pixels": {0: "n"}, "features": {0: "n"}},
                      opset_version=compiled.OPSET, dynamo=False)
    again = _lite0(tmp_path, "onnxruntime")
    assert again.runtime == "onnxruntime" and again.runtime_drift <= compiled.FP32_MATCH
    assert again.runtime_drift == first.runtime_drift


def test_cache_files_are_readable_by_others_as_the_umask_allows(tmp_path):
    """A cache shared by several accounts: exports and plans get the mode any new file gets."""
    import os
    import stat

    from workbench.embeddings import load_plans

    mask = os.umask(0o022)
    try:
        load_plans.load_when_needed(EmbedderConfig(name="efficientnet-lite0", runtime="onnxruntime",
                                                   cache_dir=str(tmp_path / "cache")))
    finally:
        os.umask(mask)
    files = list((tmp_path / "cache" / "compiled").rglob("*.onnx")) + list(
        (tmp_path / "cache" / "compiled").rglob("*.json"))
    assert len(files) == 2
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o644 for f in files)
