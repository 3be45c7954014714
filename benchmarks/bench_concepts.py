"""Concept slices with the offline model: planted contexts found, and false ones in a control.

Data: Fashion-MNIST test-split (t10k) garments, 30 per class (fixed seed), each pasted (40 px, at a seeded
random place) on a seeded random crop (70-100% of the side) of one of Debian's wallpapers
(``gnome-backgrounds``, ``plasma-workspace-wallpapers``; one picture per wallpaper folder), resized to
224 px. Neither the garments nor this layout are used by the tests.

- ``control``: every image on a wallpaper drawn at random from a pool of 12: no class should be dominated;
- ``planted-N``: two classes always on one wallpaper (a different one in each variant, outside the pool),
  the rest drawn from the pool: those two classes should be dominated by one concept, no other.

The vectors are the audit's (``load_embedder(EmbedderConfig(name="efficientnet-lite0"))``: its
preprocessing and runtime), the check is :func:`workbench.checks.concept_slices.concept_slices` with the
attribute from :func:`workbench.checks.concepts._imagenet`, default options.

    python -m benchmarks.bench_concepts [--per-class 30] [--variants 6]
"""

from __future__ import annotations

import argparse
import glob
import json
from pathlib import Path

import numpy as np

from benchmarks import common
from benchmarks.fmnist import DEFAULT_SOURCE, _demo_builder

REPO = Path(__file__).resolve().parents[1]


def wallpapers() -> list[str]:
    seen, out = set(), []
    for w in sorted(glob.glob("/usr/share/backgrounds/**/*.jpg", recursive=True)
                    + glob.glob("/usr/share/wallpapers/**/*.jpg", recursive=True)):
        key = w.split("/contents")[0] if "/contents" in w else w
        if key not in seen:
            seen.add(key)
            out.append(w)
    return out


def compose(wall, item, rng):
    from PIL import Image

    w, h = wall.size
    side = int(min(w, h) * rng.uniform(0.7, 1.0))
    x, y = int(rng.integers(0, w - side + 1)), int(rng.integers(0, h - side + 1))
    base = wall.crop((x, y, x + side, y + side)).resize((224, 224), Image.Resampling.BILINEAR)
    px, py = (int(v) for v in rng.integers(0, 224 - 40, 2))
    base.paste(Image.fromarray(item).convert("RGB").resize((40, 40)), (px, py))
    return base


def run(per_class: int, n_variants: int, seed: int) -> dict:
    import torch
    from PIL import Image

    from workbench.checks.concept_slices import concept_slices
    from workbench.checks.concepts import OTHER, ConceptOptions, _imagenet
    from workbench.config import EmbedderConfig
    from workbench.embeddings.backends import load_embedder

    demo = _demo_builder()
    images, labels = demo.load_split(DEFAULT_SOURCE, "test")
    rng = np.random.default_rng(seed)
    picked = [(c, i) for k, c in enumerate(demo.CLASSES)
              for i in rng.choice(np.flatnonzero(labels == k), per_class, replace=False)]
    walls = wallpapers()
    pool, planted_walls = walls[:12], walls[12:12 + n_variants]
    opened = {w: Image.open(w).convert("RGB") for w in pool + planted_walls}
    model = load_embedder(EmbedderConfig(name="efficientnet-lite0"))
    out = {"model": model.model_id, "runtime": model.runtime, "variants": {}}
    plans = [("control", None, ())] + [(f"planted-{n + 1}", w, tuple(demo.CLASSES[(2 * n + j) % 10] for j in (0, 1)))
                                       for n, w in enumerate(planted_walls)]
    for name, wall, classes in plans:
        vr = np.random.default_rng(seed + 1 + len(out["variants"]))
        tensors = []
        for c, i in picked:
            w = wall if c in classes else pool[int(vr.integers(0, len(pool)))]
            tensors.append(model.preprocess(compose(opened[w], images[i], vr)))
        with torch.inference_mode():
            vecs = np.concatenate([model.forward(torch.stack(tensors[s:s + 64])).numpy()
                                   for s in range(0, len(tensors), 64)])
        levels, conf, concepts, source, note = _imagenet(vecs, ConceptOptions())
        ids = [f"{k}" for k in range(len(picked))]
        r = concept_slices(ids, ids, [c for c, _ in picked], levels, conf, dict(zip(ids, concepts)), source=source,
                           note=note, skip_level=OTHER)
        flagged = {d.label: (d.level, d.share, d.share_in_rest) for d in r.dominated}
        out["variants"][name] = {"wallpaper": None if wall is None else str(Path(wall).relative_to("/usr/share")),
                                 "planted": list(classes), "dominated": flagged,
                                 "found": sorted(set(classes) & set(flagged)),
                                 "false": sorted(set(flagged) - set(classes)),
                                 "cramers_v": r.attributes[0].cramers_v if r.attributes else None}
        print(f"{name:<11} planted {list(classes)} -> dominated {flagged}")
    v = out["variants"].values()
    out["totals"] = {"planted": sum(len(x["planted"]) for x in v), "found": sum(len(x["found"]) for x in v),
                     "false": sum(len(x["false"]) for x in v)}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--per-class", type=int, default=30)
    p.add_argument("--variants", type=int, default=6)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=REPO / "build" / "bench" / "concepts.json")
    args = p.parse_args(argv)
    result = {"machine": common.machine_info(["timm", "torch", "onnxruntime"]),
              **run(args.per_class, args.variants, args.seed)}
    common.write_json(args.out, result)
    print(json.dumps(result["totals"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
