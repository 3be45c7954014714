"""Import time of ``workbench`` in a fresh interpreter (target: at most 0.3 s), next to peers'.

    python -m benchmarks.bench_import [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

MODULES = {"workbench": "import workbench", "workbench.cli": "import workbench.cli",
           "fiftyone.brain": "import fiftyone.brain", "cleanlab (Datalab)": "from cleanlab import Datalab"}


def import_seconds(statement: str) -> float:
    """Wall seconds of ``statement`` in a fresh interpreter (the interpreter's own start excluded)."""
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5)
    args = p.parse_args(argv)
    print("| module | median s | max s |\n|---|---|---|")
    worst = 0.0
    for name, stmt in MODULES.items():
        times = [import_seconds(stmt) for _ in range(args.repeat)]
        print(f"| {name} | {statistics.median(times):.3f} | {max(times):.3f} |")
        if name == "workbench":
            worst = max(times)
    print(f"import workbench: worst {worst:.3f} s; target <= 0.3 s: {'met' if worst <= 0.3 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
