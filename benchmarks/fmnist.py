"""Export the full Fashion-MNIST (70,000 images, Debian's ``dataset-fashion-mnist``) as PNG folders.

Layout ``<out>/base/{train,test}/<class>/<split>-<index>.png`` holds 99% of the images;
``<out>/new/...`` holds a fixed 1% (every 100th image) kept back for the incremental
re-audit benchmark. The source files are only read. Idempotent: a finished export is
recognised by its ``DONE`` marker.

    python -m benchmarks.fmnist --out build/bench/fashion-mnist
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = Path("/usr/share/datasets/fashion-mnist")


def _demo_builder():
    """``scripts/build_demo_data.py`` holds the idx reader and the class names; reuse them."""
    spec = importlib.util.spec_from_file_location("build_demo_data", ROOT / "scripts" / "build_demo_data.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def export(out: Path, source: Path = DEFAULT_SOURCE, holdout_every: int = 100) -> dict[str, int]:
    """Write the PNG tree (skipped when ``out/DONE`` exists); returns image counts per part."""
    done = out / "DONE"
    if done.exists():
        return {p: sum(1 for _ in (out / p).rglob("*.png")) for p in ("base", "new")}
    demo = _demo_builder()
    counts = {"base": 0, "new": 0}
    for split in ("train", "test"):
        images, labels = demo.load_split(source, split)
        for i, (img, lab) in enumerate(zip(images, labels)):
            part = "new" if i % holdout_every == holdout_every - 1 else "base"
            folder = out / part / split / demo.CLASSES[int(lab)]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.asarray(img, dtype=np.uint8)).save(folder / f"{split}-{i:05d}.png", compress_level=1)
            counts[part] += 1
    done.write_text(f"{counts}\n")
    return counts


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "fashion-mnist")
    p.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    args = p.parse_args(argv)
    print(export(args.out, args.source))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
