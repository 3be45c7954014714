"""Full audit of Fashion-MNIST (70,000 real images) through the CLI, then an incremental re-audit.

Phases (each a separate ``workbench audit`` process, timed end to end with its peak RSS):

* ``cold``: 99% of the images (69,300), empty embedding cache: load into FiftyOne,
  hash, embed, k-NN graph, every check, write-back, JSON and HTML report.
* ``cached``: the same images as a new FiftyOne dataset (any earlier one of that name is
  deleted, and the held-back 1% unlinked from the work folder), embeddings from the cache:
  the full audit with cached embeddings. ``--phases cached,incremental`` can be re-run.
* ``incremental``: the held-back 1% (700 images) is added to the folder and the
  ``cached`` phase's dataset is audited again: only the new images are read and embedded,
  and the neighbour graph stored by the previous audit is updated, not rebuilt.

    python -m benchmarks.bench_audit --phases cold,cached,incremental

Results are merged into ``build/bench/audit-fmnist.json`` (phases can run separately).
The benchmark works in ``build/bench/fmnist-work`` with its own MongoDB; Debian's
dataset files are only read.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.fmnist import export

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "build" / "bench" / "fmnist-work"
OUT = ROOT / "build" / "bench" / "audit-fmnist.json"


def _link_tree(src: Path, dst: Path) -> int:
    """Hard-link (or copy) every file of ``src`` into ``dst``; returns the number of files added."""
    added = 0
    for f in src.rglob("*.png"):
        target = dst / f.relative_to(src)
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(f, target)
        except OSError:
            shutil.copy2(f, target)
        added += 1
    return added


def _unlink_tree(src: Path, dst: Path) -> int:
    """Remove from ``dst`` the links ``_link_tree(src, dst)`` made (the benchmark's own copies)."""
    removed = 0
    for f in src.rglob("*.png"):
        target = dst / f.relative_to(src)
        if target.exists() and os.path.samefile(f, target):
            target.unlink()
            removed += 1
    return removed


def _forget_cached(src: Path, cache: Path, aside: Path) -> int:
    """Move aside the embedding-cache shards that hold only ``src``'s images, so that a re-run of
    the incremental phase embeds them again (the cache is content-addressed: without this a
    second run would find them cached). Returns the number of shards moved."""
    import hashlib

    import numpy as np

    held_back = {hashlib.sha256(f.read_bytes()).hexdigest() for f in src.rglob("*.png")}
    moved = 0
    for shard in cache.glob("*/shard-*.npz"):
        with np.load(shard) as data:
            hashes = set(data["hashes"].tolist())
        if hashes and hashes <= held_back:
            target = aside / shard.parent.name / shard.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shard.rename(target)
            moved += 1
    return moved


def _delete_dataset(name: str, env: dict[str, str]) -> None:
    """Delete a FiftyOne dataset in the benchmark's database (a fresh process, like the CLI's)."""
    code = f"import fiftyone as fo\nif fo.dataset_exists({name!r}): fo.delete_dataset({name!r})"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)


def run_cli(args: list[str], env: dict[str, str]) -> dict:
    """Run ``workbench`` with ``args``; wall seconds, peak RSS (MB) and return code."""
    exe = str(Path(sys.executable).with_name("workbench"))
    start = time.perf_counter()
    proc = subprocess.Popen([exe, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    rc = os.waitstatus_to_exitcode(status)
    if rc not in (0, 1):
        raise RuntimeError(f"workbench {' '.join(args)} failed ({rc}):\n{out[-4000:]}")
    return {"seconds": round(seconds, 1), "peak_rss_mb": round(usage.ru_maxrss / 1024), "rc": rc,
            "summary_tail": out.strip().splitlines()[-25:]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--phases", default="cold,cached,incremental")
    p.add_argument("--fresh", action="store_true", help="delete the work folder (cache, database) first")
    args = p.parse_args(argv)
    from workbench._mongo import start_private_mongod, stop_process

    if args.fresh and WORK.exists():
        shutil.rmtree(WORK)
    export_dir = ROOT / "build" / "bench" / "fashion-mnist"
    export(export_dir)
    data = WORK / "data"
    _link_tree(export_dir / "base", data)
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    mongod, uri = start_private_mongod(WORK / "mongo")
    env = dict(os.environ, FIFTYONE_DATABASE_URI=uri, FIFTYONE_DO_NOT_TRACK="true", HF_HUB_OFFLINE="1",
               FIFTYONE_DATABASE_DIR=str(WORK / "fiftyone-db"))
    common = ["--cache-dir", str(WORK / "cache"), "--quiet", "--embedder", "efficientnet-lite0"]
    try:
        for phase in [x.strip() for x in args.phases.split(",") if x.strip()]:
            name = {"cold": "fmnist-bench", "cached": "fmnist-bench-warm", "incremental": "fmnist-bench-warm"}[phase]
            if phase == "cached":
                _delete_dataset(name, env)
                _unlink_tree(export_dir / "new", data)  # back to 99%, so the phases can run again
                _forget_cached(export_dir / "new", WORK / "cache", WORK / "set-aside")
            added = _link_tree(export_dir / "new", data) if phase == "incremental" else 0
            out_dir = WORK / phase
            out_dir.mkdir(parents=True, exist_ok=True)
            r = run_cli(["audit", str(data), "--name", name, "--json", str(out_dir / "audit.json"),
                         "--report", str(out_dir / "report.html"), *common], env)
            audit = json.loads((out_dir / "audit.json").read_text())
            r.update(phase=phase, images_added=added, n_samples=audit["dataset"]["n_samples"],
                     timings=audit.get("timings"), embedding=audit.get("embedding_model"),
                     neighbor_graph=audit.get("neighbor_graph"),
                     date=time.strftime("%Y-%m-%d %H:%M"), commit=subprocess.run(
                         ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                         text=True).stdout.strip())
            results[phase] = r
            OUT.parent.mkdir(parents=True, exist_ok=True)
            OUT.write_text(json.dumps(results, indent=2))
            print(f"{phase}: {r['seconds']} s, peak RSS {r['peak_rss_mb']} MB, samples {r['n_samples']}")
    finally:
        stop_process(mongod)
    for ref in ("cold", "cached"):
        if ref in results and "incremental" in results:
            print(f"incremental / {ref} = {results['incremental']['seconds'] / results[ref]['seconds']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
