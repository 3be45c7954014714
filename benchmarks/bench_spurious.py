"""Spurious correlations: workbench against cleanlab Datalab on planted shortcuts, in one run.

Data: 2,000 Fashion-MNIST test-split (t10k) images, 200 per class, drawn with a fixed seed. Each
variant plants one shortcut a model could learn instead of the garment, in one or two classes:

- ``clean``: every image a PNG as released (the control: what each tool flags with nothing planted);
- ``jpeg_one_class``: the Bags saved as JPEG quality 30, every other image a PNG;
- ``jpeg_quality``: every image a JPEG, the Bags and the Sandals at quality 40, the rest at 92;
- ``dark_one_class``: the Sneakers' pixels scaled by 0.55 (darker, less contrast);
- ``blur_one_class``: the Shirts blurred (Gaussian, radius 1 px);
- ``size_one_class``: the Coats enlarged to 56 x 56 px.

Tools, on the same files:

- ``workbench``: the ``spurious_correlations`` check (its properties measured by the same reader the
  audit uses, :func:`workbench.io.files.inspect_file`), default options;
- ``datalab``: cleanlab Datalab with CleanVision, ``find_issues()`` on a Hugging Face image dataset,
  then ``get_info("spurious_correlations")`` (flagged: score < its 0.3 threshold). Its properties are
  CleanVision's issue scores (dark, light, blurry, low information, odd size, odd aspect, grayscale);
- ``cleanlab_on_ours``: cleanlab's ``SpuriousCorrelations`` scorer on workbench's property table, to
  tell the scoring apart from the properties.

A planted shortcut is *found* when the tool flags a property that carries it (for workbench: a
flagged class of the planted set on a property of the planted family). Extra flags are listed, and
compared with the control's.

    python -m benchmarks.bench_spurious [--per-class 200] [--install-peers]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks import common
from benchmarks.fmnist import DEFAULT_SOURCE, _demo_builder

REPO = Path(__file__).resolve().parents[1]
DATALAB_DEPS = REPO / ".venv" / "bench-deps"
CLEANVISION_DEPS = REPO / ".venv" / "bench-deps-nd"

#: variant -> (classes planted, property families that carry the shortcut for workbench, Datalab's properties)
PLANTED: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "clean": ((), (), ()),
    "jpeg_one_class": (("Bag",), ("file_format", "jpeg_quality"), ()),
    "jpeg_quality": (("Bag", "Sandal"), ("jpeg_quality",), ()),
    "dark_one_class": (("Sneaker",), ("brightness", "contrast"), ("dark_score", "light_score")),
    "blur_one_class": (("Shirt",), ("sharpness",), ("blurry_score",)),
    "size_one_class": (("Coat",), ("size",), ("odd_size_score",)),
}


def build(out: Path, per_class: int, seed: int) -> dict[str, Path]:
    """Write each variant's ``<variant>/<class>/<index>.<png|jpg>`` (skipped when its DONE marker exists)."""
    from PIL import Image, ImageFilter

    demo = _demo_builder()
    images, labels = demo.load_split(DEFAULT_SOURCE, "test")
    rng = np.random.default_rng(seed)
    picked = {c: rng.choice(np.flatnonzero(labels == k), per_class, replace=False)
              for k, c in enumerate(demo.CLASSES)}
    folders = {}
    for variant, (planted, _, _) in PLANTED.items():
        folder = out / f"{variant}-{per_class}"
        folders[variant] = folder
        if (folder / "DONE").exists():
            continue
        for c, rows in picked.items():
            (folder / c).mkdir(parents=True, exist_ok=True)
            for i in rows:
                img = Image.fromarray(np.asarray(images[i], dtype=np.uint8))
                fmt, quality = "PNG", None
                if variant == "jpeg_one_class" and c in planted:
                    fmt, quality = "JPEG", 30
                elif variant == "jpeg_quality":
                    fmt, quality = "JPEG", 40 if c in planted else 92
                elif variant == "dark_one_class" and c in planted:
                    img = Image.fromarray((np.asarray(img, dtype=np.float32) * 0.55).astype(np.uint8))
                elif variant == "blur_one_class" and c in planted:
                    img = img.filter(ImageFilter.GaussianBlur(1))
                elif variant == "size_one_class" and c in planted:
                    img = img.resize((56, 56), Image.Resampling.BICUBIC)
                name = folder / c / f"{i:05d}.{'jpg' if fmt == 'JPEG' else 'png'}"
                img.save(name, fmt, **({"quality": quality} if quality else {}))
        (folder / "DONE").write_text("ok\n")
    return folders


def _files(folder: Path) -> tuple[list[str], list[str]]:
    paths = sorted(str(p) for p in folder.rglob("*") if p.suffix in (".png", ".jpg"))
    return paths, [Path(p).parent.name for p in paths]


def run_workbench(folder: Path) -> dict:
    """The check as the audit runs it: each file read once by the audit's reader with both checks' measures."""
    from workbench.checks.image_properties import property_measures, property_table
    from workbench.checks.image_quality import quality_measures
    from workbench.checks.spurious import SpuriousOptions, find_spurious_correlations
    from workbench.io.files import inspect_file

    paths, labels = _files(folder)
    t0 = time.perf_counter()
    measures = {"q": quality_measures, "p": property_measures}
    facts = [inspect_file(p, measures) for p in paths]
    read_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    table = property_table(facts, [f.measure("q") for f in facts], [f.measure("p") for f in facts])
    result = find_spurious_correlations([str(i) for i in range(len(paths))], paths, labels, table,
                                        options=SpuriousOptions())
    check_s = time.perf_counter() - t1
    return {"read_seconds": round(read_s, 2), "check_seconds": round(check_s, 2),
            "properties": {p.property: {"score": p.uncorrelatedness, "p_value": p.p_value, "flagged": p.flagged,
                                        "classes": [c.label for c in p.flagged_classes],
                                        "top_class_auc": max((max(c.auc, 1 - c.auc) for c in p.classes), default=None)}
                           for p in result.properties},
            "skipped": dict(result.skipped), "table": {k: v for k, v in table.items()}, "labels": labels}


def cleanlab_on_table(table: dict, labels: list[str]) -> dict[str, float]:
    """cleanlab's own scorer (GaussianNB, 5-fold) on workbench's numeric properties."""
    import pandas as pd
    from cleanlab.datalab.internal.spurious_correlation import SpuriousCorrelations

    classes = sorted(set(labels))
    y = np.array([classes.index(lab) for lab in labels])
    cols = {}
    for name, values in table.items():
        if any(isinstance(v, str) for v in values if v is not None):
            levels = sorted({v for v in values if v is not None})
            values = [levels.index(v) if v is not None else -1 for v in values]
        arr = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
        if np.isfinite(arr).all() and len(np.unique(arr)) > 1:
            cols[name] = arr
    frame = pd.DataFrame(cols)
    scores = SpuriousCorrelations(data=frame, labels=y).calculate_correlations()
    return {row.property: round(float(row.score), 4) for row in scores.itertuples()}


def run_datalab_worker(folder: Path) -> int:
    """In a subprocess, with the peers' dependencies on its path: Datalab's image issues and its correlations."""
    sys.path[:0] = [str(DATALAB_DEPS), str(CLEANVISION_DEPS)]
    import datasets
    from cleanlab import Datalab

    paths, labels = _files(folder)
    classes = sorted(set(labels))
    ds = datasets.Dataset.from_dict({"image": paths, "label": [classes.index(x) for x in labels]})
    ds = ds.cast_column("image", datasets.Image())
    t0 = time.perf_counter()
    lab = Datalab(data=ds, label_name="label", image_key="image", verbosity=0)
    lab.find_issues()
    seconds = time.perf_counter() - t0
    info = lab.get_info("spurious_correlations")
    frame = info["correlations_df"]
    print(json.dumps({"seconds": round(seconds, 2), "threshold": info.get("threshold"),
                      "scores": {r.property: round(float(r.score), 4) for r in frame.itertuples()}}))
    return 0


def run_datalab(folder: Path) -> dict:
    proc = subprocess.run([sys.executable, "-m", "benchmarks.bench_spurious", "--datalab-worker", str(folder)],
                          capture_output=True, text=True, cwd=REPO, env={**os.environ, "TQDM_DISABLE": "1"})
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"exit {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def judge(variant: str, wb: dict, dl: dict, ours_cl: dict[str, float]) -> dict:
    planted, families, datalab_props = PLANTED[variant]
    found_wb = {c for name in families for c in wb["properties"].get(name, {}).get("classes", [])}
    wb_extra = sorted(f"{name}:{c}" for name, p in wb["properties"].items() for c in p["classes"]
                      if not (name in families and c in planted))
    wb_flags = sorted(name for name, p in wb["properties"].items() if p["flagged"])
    dl_scores = dl.get("scores", {})
    dl_flags = sorted(k for k, s in dl_scores.items() if s < 0.3)
    return {"planted": list(planted), "workbench_found": sorted(found_wb & set(planted)),
            "workbench_recall": len(found_wb & set(planted)) / len(planted) if planted else None,
            "workbench_flagged_properties": wb_flags, "workbench_other_flags": wb_extra,
            "datalab_flagged_properties": dl_flags,
            "datalab_found": bool(set(dl_flags) & set(datalab_props)) if planted else None,
            "datalab_can_see_it": bool(datalab_props),
            "cleanlab_scorer_on_our_properties_flagged": sorted(k for k, s in ours_cl.items() if s < 0.3)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--per-class", type=int, default=200)
    p.add_argument("--seed", type=int, default=20261203)
    p.add_argument("--data", type=Path, default=common.BENCH_DIR / "spurious")
    p.add_argument("--variants", default=",".join(PLANTED))
    p.add_argument("--skip-datalab", action="store_true")
    p.add_argument("--install-peers", action="store_true", help="install Datalab's and CleanVision's extras first")
    p.add_argument("--datalab-worker", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.datalab_worker:
        return run_datalab_worker(args.datalab_worker)
    if args.install_peers:  # both idempotent: nothing is fetched when the peers are there
        subprocess.run(["bash", str(REPO / "scripts" / "bench_deps.sh")], check=True,
                       env={**os.environ, "VENV": str(REPO / ".venv")})
    if args.install_peers and not (CLEANVISION_DEPS / "cleanvision").is_dir():
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                        str(CLEANVISION_DEPS), "imagededup==0.3.3.post2", "cleanvision==0.3.7"], check=True,
                       env={**os.environ, "PIP_FIND_LINKS": ""})
    folders = build(args.data, args.per_class, args.seed)
    rows, report = [], {"machine": common.machine_info(("numpy", "cleanlab", "scikit-learn")), "variants": {}}
    for variant in [v.strip() for v in args.variants.split(",") if v.strip()]:
        wb = run_workbench(folders[variant])
        dl = {"skipped": True} if args.skip_datalab else run_datalab(folders[variant])
        ours_cl = cleanlab_on_table(wb["table"], wb["labels"])
        verdict = judge(variant, wb, dl, ours_cl)
        report["variants"][variant] = {"verdict": verdict, "workbench": {k: v for k, v in wb.items()
                                                                         if k not in ("table", "labels")},
                                       "datalab": dl, "cleanlab_scorer_on_our_properties": ours_cl}
        rows.append([variant, ", ".join(verdict["planted"]) or "—",
                     ", ".join(verdict["workbench_found"]) or "—",
                     ", ".join(verdict["workbench_other_flags"]) or "—",
                     ", ".join(verdict["datalab_flagged_properties"]) or "—" if not dl.get("error") else dl["error"],
                     ", ".join(verdict["cleanlab_scorer_on_our_properties_flagged"]) or "—",
                     f"{wb['read_seconds'] + wb['check_seconds']:.1f} / {dl.get('seconds', float('nan')):.1f}"])
        print(f"{variant}: done", file=sys.stderr)
    print(common.markdown_table(["variant", "planted in", "workbench found", "workbench other flags",
                                 "Datalab flagged (score < 0.3)", "cleanlab's scorer on our properties",
                                 "seconds wb / Datalab"], rows))
    out = common.write_json(common.BENCH_DIR / f"spurious-{common.timestamp()}.json", report)
    print(f"\n{out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
