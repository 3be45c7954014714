"""Run every benchmark in sequence: ``python -m benchmarks`` (or ``make bench``).

Each benchmark prints its Markdown table and writes its JSON under ``build/bench/``;
``benchmarks/RESULTS.md`` records the figures with the machine they ran on.

    python -m benchmarks [--only neighbors,embedding,label_issues,review_queue,audit,import,quality,object_labels,spurious,active_learning,drift] [--quick]

``--quick`` runs small sizes only (a smoke run of every benchmark, minutes not an hour).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

FULL = {
    "neighbors": ["--sizes", "10k,100k,1M", "--skip-peers-above", "100000"],
    "embedding": ["--n", "256", "--fiftyone-batches", "64"],
    "label_issues": [],
    "review_queue": [],
    "audit": ["--phases", "cold,cached,incremental"],
    "import": [],
    "quality": [],
    "object_labels": [],
    "spurious": ["--install-peers"],
    "active_learning": [],
    "drift": [],
}
QUICK = {
    "neighbors": ["--sizes", "10k"],
    "embedding": ["--n", "64", "--fiftyone-batches", "64", "--skip-profile"],
    "label_issues": ["--n", "10000"],
    "review_queue": None,  # its first run embeds 4,797 images (about 15 minutes on 2 cores)
    "audit": None,  # the Fashion-MNIST audit has no small form
    "import": ["--repeat", "3"],
    "quality": ["--n", "10"],
    "object_labels": ["--modes", "predictions"],
    "spurious": ["--per-class", "50", "--install-peers"],
    "active_learning": ["--seeds", "1", "--pool", "1000", "--eval", "1000"],
    "drift": ["--random-splits", "1"],
}
MODULES = {"neighbors": "benchmarks.bench_neighbors", "embedding": "benchmarks.bench_embedding",
           "label_issues": "benchmarks.bench_label_issues", "review_queue": "benchmarks.bench_review_queue",
           "audit": "benchmarks.bench_audit",
           "import": "benchmarks.bench_import", "quality": "benchmarks.bench_quality_outliers",
           "object_labels": "benchmarks.bench_object_labels", "spurious": "benchmarks.bench_spurious",
           "active_learning": "benchmarks.bench_active_learning", "drift": "benchmarks.bench_drift"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", default=",".join(MODULES))
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    plan = QUICK if args.quick else FULL
    failed = []
    for name in [n.strip() for n in args.only.split(",") if n.strip()]:
        if plan.get(name) is None:
            print(f"== {name}: skipped in --quick mode")
            continue
        print(f"== {name}", flush=True)
        start = time.perf_counter()
        rc = subprocess.call([sys.executable, "-m", MODULES[name], *plan[name]])
        print(f"== {name}: exit {rc} after {time.perf_counter() - start:.0f} s", flush=True)
        if rc:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
