"""Image quality and outliers against planted ground truth: precision and recall per planted kind.

Data (built under ``--workdir``, default ``build/bench/quality``): a copy of the shipped demo
(``data/demo/fashion-mnist``, see data/README.md) plus ``--n`` planted images of each kind, put in
random class folders (same split as their source; out-of-distribution ones 80/20 train/test):

- ``blurred``: a demo original under a Gaussian blur of radius 1.5 px (5% of the 28-px side).
- ``dark``: a demo original at 35% brightness (``ImageEnhance.Brightness(0.35)``).
- ``bright``: a demo original washed out: ``1 - 0.5 (1 - x)`` (a screen blend with 50% white, as
  an over-exposed shot with flare: blacks go to mid-grey).
- ``ood``: half photos, half drawings from Debian's wallpaper and clip-art packages (``/usr/share/backgrounds``,
  ``/usr/share/wallpapers``; ``/usr/share/openclipart``), transparency on white, made grey, centre
  square cropped and resized to 28 px like Fashion-MNIST; when fewer are installed, synthetic noise
  and text images fill in (with a warning; the manifest says which).

``ground_truth.json`` in the data folder lists every planted file. Each planted kind is scored
against the finding meant to catch it (blurred: ``blurry``, dark: ``dark``, bright: ``bright``,
ood: ``outlier``): precision counts every image flagged with that finding, recall the planted ones
found. The table also shows what else flagged the planted images, and the flags on the demo's own
images (which carry no planted quality problem).

Where the findings come from (``--mode``):

- ``audit`` (default): ``workbench audit <data> --json out.json --no-write-back --quiet`` with a
  private ``mongod``; findings from the export's ``image_quality`` and ``outliers`` keys (an export
  without them is an error: the checks did not run).
- ``api``: ``workbench.audit(path, write_back=False)`` in this process: ``result.findings``.
- ``pure``: :func:`workbench.checks.image_quality.quality_measures` / ``find_quality_issues`` on
  the files, and ``find_outliers`` on the audit's embedder and k-NN graph (``--embedder``).
- ``--score-json PATH``: score an existing export of this data folder.

    .venv/bin/python -m benchmarks.bench_quality_outliers --mode pure --n 25
    .venv/bin/python -m benchmarks.bench_quality_outliers            # the real audit, through the CLI
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import re
import shutil
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from benchmarks import common

log = logging.getLogger("bench_quality_outliers")
REPO = common.REPO
DEMO = REPO / "data" / "demo" / "fashion-mnist"
#: Planted kind -> the finding meant to catch it.
TARGET = {"blurred": "blurry", "dark": "dark", "bright": "bright", "ood": "outlier"}
OOD_FOLDERS = (Path("/usr/share/backgrounds"), Path("/usr/share/wallpapers"), Path("/usr/share/openclipart"))
BLUR_RADIUS, DARK_FACTOR, WASH = 1.5, 0.35, 0.5
SIDE = 28
RECIPE_VERSION = 2
_ORIGINAL = re.compile(r"^(train|test)-\d{6}\.png$")


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------

def _edit(img, kind: str):
    from PIL import Image, ImageEnhance, ImageFilter

    grey = img.convert("L")
    if kind == "blurred":
        return grey.filter(ImageFilter.GaussianBlur(BLUR_RADIUS))
    if kind == "dark":
        return ImageEnhance.Brightness(grey).enhance(DARK_FACTOR)
    x = np.asarray(grey, dtype=np.float64) / 255.0
    return Image.fromarray(np.rint(255.0 * (1.0 - WASH * (1.0 - x))).astype(np.uint8), "L")


def ood_candidates() -> tuple[list[Path], list[Path]]:
    """``(photos, drawings)`` from Debian packages (JPEG/PNG), one file per wallpaper (KDE ships each in
    several resolutions), sorted."""
    def images(folder: Path) -> list[Path]:
        return sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png") and p.is_file())

    backgrounds, wallpapers, clipart = (images(f) if f.is_dir() else [] for f in OOD_FOLDERS)
    one_each = {p.relative_to(OOD_FOLDERS[1]).parts[0]: p for p in reversed(wallpapers)}
    return sorted(backgrounds + list(one_each.values())), clipart


def _ood_image(path: Path):
    from PIL import Image, ImageOps

    from workbench.io.pixels import to_rgb

    with Image.open(path) as img:
        img.draft("RGB", (4 * SIDE, 4 * SIDE))
        img.load()
        if min(img.size) < 64:
            return None
        grey = to_rgb(img).convert("L")
    return ImageOps.fit(grey, (SIDE, SIDE), Image.Resampling.LANCZOS)


def _synthetic_ood(rng: random.Random, i: int):
    from PIL import Image, ImageDraw

    if i % 2 == 0:
        noise = np.random.default_rng(rng.randrange(2**32)).integers(0, 256, (SIDE, SIDE))
        return Image.fromarray(noise.astype(np.uint8), "L")
    img = Image.new("L", (SIDE, SIDE), 0)
    ImageDraw.Draw(img).text((2, 8), "".join(rng.choice("AEKMRWZ37") for _ in range(3)), fill=255)
    return img


def build(workdir: Path, n: int, seed: int) -> tuple[Path, dict]:
    """Copy the demo under ``workdir/data`` and plant ``n`` images of each kind; reused when unchanged."""
    from PIL import Image

    root = workdir / "data"
    truth_path = root / "ground_truth.json"
    if truth_path.exists():
        truth = json.loads(truth_path.read_text())
        if (truth.get("n"), truth.get("seed"), truth.get("version")) == (n, seed, RECIPE_VERSION):
            return root / "fashion-mnist", truth
    shutil.rmtree(root, ignore_errors=True)
    data = root / "fashion-mnist"
    shutil.copytree(DEMO, data)
    rng = random.Random(seed)
    classes = sorted(p.name for p in (data / "train").iterdir() if p.is_dir())
    originals = sorted(p for p in data.rglob("*.png") if _ORIGINAL.match(p.name))
    picks = rng.sample(originals, 3 * n)
    planted = []
    for j, kind in enumerate(("blurred", "dark", "bright")):
        for src in picks[j * n:(j + 1) * n]:
            split, label = src.parent.parent.name, rng.choice(classes)
            dest = data / split / label / f"q-{kind}-{src.stem}.png"
            with Image.open(src) as img:
                _edit(img, kind).save(dest)
            planted.append({"path": dest.relative_to(data).as_posix(), "kind": kind,
                            "source": src.relative_to(data).as_posix()})
    photos, drawings = ood_candidates()
    rng.shuffle(photos)
    rng.shuffle(drawings)
    made, synthetic = 0, 0
    for i in range(n):
        img, source = None, None
        pools = (photos, drawings) if i % 2 == 0 else (drawings, photos)  # half photos, half drawings
        while img is None and (pools[0] or pools[1]):
            source = (pools[0] or pools[1]).pop()
            try:
                img = _ood_image(source)
            except (OSError, ValueError) as exc:  # an unreadable package file: take the next one
                log.info("skipping %s: %s", source, exc)
        if img is None:
            img, source, synthetic = _synthetic_ood(rng, i), "synthetic", synthetic + 1
        split = "train" if rng.random() < 0.8 else "test"
        dest = data / split / rng.choice(classes) / f"q-ood-{i:03d}.png"
        img.save(dest)
        planted.append({"path": dest.relative_to(data).as_posix(), "kind": "ood", "source": str(source)})
        made += 1
    if synthetic:
        log.warning("only %d out-of-distribution images from %s; %d synthetic (noise and text) fill in",
                    made - synthetic, ", ".join(map(str, OOD_FOLDERS)), synthetic)
    truth = {"version": RECIPE_VERSION, "n": n, "seed": seed, "n_synthetic_ood": synthetic,
             "edits": {"blur_radius": BLUR_RADIUS, "dark_factor": DARK_FACTOR, "wash": WASH}, "planted": planted}
    truth_path.write_text(json.dumps(truth, indent=1))
    return data, truth


# --------------------------------------------------------------------------------------------
# Findings: {finding kind: {relative path, ...}}, plus outlier scores where available
# --------------------------------------------------------------------------------------------

def _rel(path: str, data: Path) -> str:
    try:
        return Path(path).resolve().relative_to(data.resolve()).as_posix()
    except ValueError:
        return path


def _from_results(quality, outliers, data: Path) -> dict:
    flagged: dict[str, set[str]] = defaultdict(set)
    for issue in quality.issues if quality is not None else ():
        for kind in issue.kinds:
            flagged[kind].add(_rel(issue.filepath, data))
    for o in outliers.outliers if outliers is not None else ():
        flagged["outlier"].add(_rel(o.filepath, data))
    found = {"flagged": flagged, "summaries": [r.summary() for r in (quality, outliers) if r is not None]}
    if quality is not None:
        found["thresholds"] = quality.thresholds
    if outliers is not None:
        found["outlier_scores"] = dict(zip(outliers.sample_ids, outliers.scores))
    return found


def findings_from_export(doc: dict, data: Path) -> dict | None:
    """Findings from a JSON export's ``image_quality`` / ``outliers`` parts (``None``: neither there)."""
    quality, outliers = doc.get("image_quality"), doc.get("outliers")
    if quality is None and outliers is None:
        return None
    flagged: dict[str, set[str]] = defaultdict(set)
    for issue in (quality or {}).get("issues", []):
        for kind in issue["kinds"]:
            flagged[kind].add(_rel(issue["path"], data))
    for o in (outliers or {}).get("issues", []):
        flagged["outlier"].add(_rel(o["path"], data))
    return {"flagged": flagged, "thresholds": (quality or {}).get("thresholds")}


def findings_pure(data: Path, cache: Path, embedder: str, outlier_options: dict | None = None) -> dict:
    """The pure functions on the files: quality measures per file, outliers on the audit's k-NN graph."""
    from PIL import Image

    from workbench.checks.image_quality import find_quality_issues, quality_measures
    from workbench.checks.neighbors import knn_graph
    from workbench.checks.outliers import find_outliers
    from workbench.config import EmbedderConfig
    from workbench.embeddings.backends import load_embedder
    from workbench.embeddings.pipeline import embed_files
    from workbench.io.files import inspect_files

    paths = sorted(str(p) for p in data.rglob("*") if p.is_file() and p.suffix.lower() in (".png", ".jpg"))
    ids = [_rel(p, data) for p in paths]
    labels = [Path(p).parent.name for p in paths]
    measures = []
    for p in paths:
        try:
            with Image.open(p) as img:
                img.load()
                measures.append(quality_measures(img))
        except (OSError, SyntaxError, ValueError):  # undecodable: the audit reports it as a file problem
            measures.append(None)
    quality = find_quality_issues(ids, paths, labels, measures)
    facts = inspect_files(paths, progress=False)
    emb = embed_files(ids, paths, [f.sha256 if f.ok else None for f in facts],
                      load_embedder(EmbedderConfig(name=embedder)), cache_dir=str(cache), progress=False)
    graph = knn_graph(emb.vectors, k=10)
    row = {sid: i for i, sid in enumerate(ids)}
    rows = [row[s] for s in emb.ids]
    outliers = find_outliers(list(emb.ids), [paths[r] for r in rows], [labels[r] for r in rows],
                             graph.indices, graph.distances, **(outlier_options or {}))
    found = _from_results(quality, outliers, data)
    found["embedder"] = emb.model_id
    return found


def findings_audit(data: Path, workdir: Path, timeout: float) -> dict | None:
    out = workdir / "audit.json"
    out.unlink(missing_ok=True)
    with common.private_mongod() as mongo:
        env = {**os.environ, **mongo.env(), "HF_HUB_OFFLINE": "1"}
        argv = [sys.executable, "-c", "import sys; from workbench.cli import main; sys.exit(main())", "audit",
                str(data), "--name", "bench-quality", "--overwrite", "--json", str(out), "--no-write-back",
                "--quiet", "--cache-dir", str(workdir / "cache")]
        run = common.run_measured(argv, env=env, cwd=REPO, timeout=timeout, log_path=workdir / "audit.log")
    if run.returncode not in (0, 1) or run.timed_out or not out.exists():
        raise SystemExit(f"the audit failed (exit {run.returncode}); see {workdir / 'audit.log'}")
    return findings_from_export(json.loads(out.read_text()), data)


def findings_api(data: Path, workdir: Path) -> dict | None:
    with common.private_mongod() as mongo:
        os.environ.update({**mongo.env(), "HF_HUB_OFFLINE": "1", "WORKBENCH_CACHE": str(workdir / "cache")})
        import workbench

        result = workbench.audit(str(data), name="bench-quality", write_back=False, progress=False)
    findings = getattr(result, "findings", None) or {}
    if "image_quality" not in findings and "outliers" not in findings:
        return None
    return _from_results(findings.get("image_quality"), findings.get("outliers"), data)


# --------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------

def score(found: dict, truth: dict) -> dict:
    """Precision and recall per planted kind, what else flagged them, and flags on the demo's own images."""
    kind_of = {p["path"]: p["kind"] for p in truth["planted"]}
    flagged = found["flagged"]
    rows = {}
    for kind, target in TARGET.items():
        planted = {p for p, k in kind_of.items() if k == kind}
        hits = planted & flagged.get(target, set())
        n_flagged = len(flagged.get(target, set()))
        also = {k: len(planted & v) for k, v in sorted(flagged.items()) if k != target and planted & v}
        rows[kind] = {"finding": target, "planted": len(planted), "flagged": n_flagged, "found": len(hits),
                      "precision": round(len(hits) / n_flagged, 3) if n_flagged else None,
                      "recall": round(len(hits) / len(planted), 3) if planted else None, "also_flagged_as": also,
                      "missed": sorted(planted - hits)}
    scores = found.get("outlier_scores")
    if scores:
        ood = {p for p, k in kind_of.items() if k == "ood"}
        top = sorted(scores, key=lambda s: scores[s])[:len(ood)]
        rows["ood"]["in_top_n"] = len(ood & set(top))
    clean = defaultdict(int)
    for kind, paths in flagged.items():
        clean[kind] = sum(p not in kind_of for p in paths)
    return {"per_kind": rows, "demo_images_flagged": dict(sorted(clean.items()))}


def markdown(scored: dict) -> str:
    rows = []
    for kind, r in scored["per_kind"].items():
        also = ", ".join(f"{k} {v}" for k, v in r["also_flagged_as"].items()) or "-"
        top = f" (top-{r['planted']}: {r['in_top_n']})" if "in_top_n" in r else ""
        rows.append([kind, r["finding"], r["planted"], r["flagged"], f"{r['found']}{top}",
                     r["precision"], r["recall"], also])
    table = common.markdown_table(["planted", "finding", "planted n", "flagged", "found", "precision", "recall",
                                   "planted also flagged as"], rows, align="llrrrrrl")
    demo = ", ".join(f"{k} {v}" for k, v in scored["demo_images_flagged"].items() if v) or "none"
    return f"{table}\n\nDemo images (no planted quality problem) flagged: {demo}."


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workdir", type=Path, default=common.BENCH_DIR / "quality")
    p.add_argument("--n", type=int, default=25, help="planted images of each kind")
    p.add_argument("--seed", type=int, default=20261211)
    p.add_argument("--mode", choices=("audit", "api", "pure"), default="audit")
    p.add_argument("--embedder", default="auto", help="pure mode: the embedder (as the audit's --embedder)")
    p.add_argument("--outlier-cut", type=float, default=None, help="pure mode: find_outliers(cut=)")
    p.add_argument("--outlier-reference", choices=("class", "all"), default=None,
                   help="pure mode: find_outliers(reference=)")
    p.add_argument("--score-json", type=Path, default=None, help="score this export instead of running anything")
    p.add_argument("--timeout", type=float, default=1800.0)
    p.add_argument("--out", type=Path, default=None)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    data, truth = build(workdir, args.n, args.seed)
    options = {k: v for k, v in (("cut", args.outlier_cut), ("reference", args.outlier_reference)) if v is not None}
    mode = "json" if args.score_json else args.mode
    if args.score_json:
        found = findings_from_export(json.loads(args.score_json.read_text()), data)
    elif args.mode == "audit":
        found = findings_audit(data, workdir, args.timeout)
    elif args.mode == "api":
        found = findings_api(data, workdir)
    else:
        found = findings_pure(data, workdir / "cache", args.embedder, options)
    if found is None:
        log.error("the audit's result has no image_quality or outliers findings: the checks did not run (see the "
                  "audit's log in %s)", workdir)
        return 1
    scored = score(found, truth)
    machine = common.machine_info(["numpy", "Pillow", "torch"])
    report = {"mode": mode, "outlier_options": options, "data": str(data), "n_per_kind": args.n, "seed": args.seed,
              "n_synthetic_ood": truth["n_synthetic_ood"], "thresholds": found.get("thresholds"),
              "embedder": found.get("embedder"), "summaries": found.get("summaries"), **scored, "machine": machine}
    out = common.write_json(args.out or workdir / f"quality-outliers-{common.timestamp()}.json", report)
    print(f"\n<!-- {machine['date']}; {machine['cpu_model']}; nproc {machine['nproc']}; mode {mode}; "
          f"{args.n} planted per kind, seed {args.seed}; git {str(machine['git']['commit'])[:10]} -->")
    for line in found.get("summaries") or ():
        print(line)
    print(markdown(scored))
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
