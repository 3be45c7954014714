"""Near-duplicate recall and false clusters on real images: workbench (defaults) against imagededup and CleanVision.

Data: ``data/near_duplicates/recipe.py`` (see data/README.md): Debian's wallpapers downscaled to
640 px with copies per transform, Fashion-MNIST with brightened/resized JPEG copies, and distinct
transparent clip-art drawings. Every tool runs on the same folders, each in a fresh subprocess:

- ``workbench``: ``workbench audit <folder> --json out.json --no-write-back --quiet`` with default
  settings (embedder ``auto``: EfficientNet-Lite0 when CLIP weights can't be had offline), a private
  ``mongod`` and an empty embedding cache. Clusters are read from the JSON's ``duplicates``.
  ``--workbench-rev REV`` runs the code of a commit (``git archive``) instead of the working tree.
- ``phash`` / ``dhash``: ``imagededup.methods.PHash()/DHash().find_duplicates(image_dir=folder,
  recursive=True)`` at its default ``max_distance_threshold=10``: a pair per reported duplicate.
- ``cleanvision``: ``Imagelab(data_path=folder).find_issues({"exact_duplicates": {},
  "near_duplicates": {}})``; groups are the ``sets`` of both issue types.

imagededup and CleanVision are imported from ``.venv/bench-deps-nd`` (``--install-peers`` puts
them there with ``pip --no-deps``; everything they import is already in the venv).

Scoring: each tool's groups (workbench clusters, CleanVision sets, imagededup pairs) are joined into
connected components. A copy is *found* when it is in the same component as its original.
A *false cluster* is a component holding two different identities (source pictures). *Pairs* are
what the tool reports (imagededup: its pairs; workbench and CleanVision: every pair inside a
group); *false pairs* are those joining two identities.

    .venv/bin/python -m benchmarks.bench_near_duplicates                       # all variants, all tools
    .venv/bin/python -m benchmarks.bench_near_duplicates --workbench-rev HEAD  # the committed code
    .venv/bin/python -m benchmarks.bench_near_duplicates --variants photos --tools workbench,dhash
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from benchmarks import common

log = logging.getLogger("bench_near_duplicates")
REPO = common.REPO
RECIPE = REPO / "data" / "near_duplicates" / "recipe.py"
PEER_DEPS = REPO / ".venv" / "bench-deps-nd"
PEER_PINS = ("imagededup==0.3.3.post2", "cleanvision==0.3.7")
TOOLS = ("workbench", "phash", "dhash", "cleanvision")
PACKAGES = ("numpy", "Pillow", "torch", "fiftyone", "imagehash", "imagededup", "cleanvision")
INSTALL_HINT = (f"PIP_FIND_LINKS= .venv/bin/python -m pip install --no-deps --target {PEER_DEPS.relative_to(REPO)} "
                + " ".join(f'"{p}"' for p in PEER_PINS) + "  (or: --install-peers)")


def _recipe():
    spec = importlib.util.spec_from_file_location("near_duplicates_recipe", RECIPE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------------------------
# Workers (one fresh process per tool and variant): write {"groups": [[abs path, ...], ...]}
# --------------------------------------------------------------------------------------------

def _worker_imagededup(method: str, folder: Path) -> dict:
    sys.path.append(str(PEER_DEPS))
    from imagededup.methods import DHash, PHash

    hasher = {"phash": PHash, "dhash": DHash}[method](verbose=False)
    t0 = time.perf_counter()
    found = hasher.find_duplicates(image_dir=str(folder), recursive=True)
    seconds = time.perf_counter() - t0
    groups = [[str(folder / a), str(folder / b)] for a, dups in found.items() for b in dups if a < b]
    return {"groups": groups, "call_seconds": seconds, "kind": "pairs",
            "settings": {"max_distance_threshold": 10}}


def _worker_cleanvision(folder: Path) -> dict:
    sys.path.append(str(PEER_DEPS))
    from cleanvision import Imagelab

    t0 = time.perf_counter()
    lab = Imagelab(data_path=str(folder))
    lab.find_issues({"exact_duplicates": {}, "near_duplicates": {}})
    seconds = time.perf_counter() - t0
    paths = None
    groups = []
    for issue in ("exact_duplicates", "near_duplicates"):
        for group in lab.info.get(issue, {}).get("sets", []):
            members = list(group)
            if members and not isinstance(members[0], str):  # indices into the dataset, in some versions
                paths = paths or list(lab._dataset.index)
                members = [paths[int(i)] for i in members]
            groups.append([str(Path(m).resolve()) for m in members])
    return {"groups": groups, "call_seconds": seconds, "kind": "groups", "settings": "defaults"}


def run_worker(args) -> int:
    folder = Path(args.folder).resolve()
    if args.worker in ("phash", "dhash"):
        result = _worker_imagededup(args.worker, folder)
    elif args.worker == "cleanvision":
        result = _worker_cleanvision(folder)
    else:
        raise SystemExit(f"unknown worker {args.worker}")
    result["peak_rss_mb"] = common.peak_rss_mb_self()
    Path(args.result).write_text(json.dumps(result))
    return 0


# --------------------------------------------------------------------------------------------
# workbench through its CLI
# --------------------------------------------------------------------------------------------

def workbench_source(rev: str | None, workdir: Path) -> tuple[Path | None, str]:
    """``(PYTHONPATH root or None, label)``: the working tree, or ``rev`` exported with ``git archive``."""
    if not rev:
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "workbench"], cwd=REPO, capture_output=True,
                               text=True).stdout.strip()
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                              text=True).stdout.strip()
        return None, f"working tree ({head}{' + uncommitted changes to workbench/' if dirty else ''})"
    sha = subprocess.run(["git", "rev-parse", "--short", rev], cwd=REPO, capture_output=True, text=True,
                         check=True).stdout.strip()
    root = workdir / f"src-{sha}"
    root.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "archive", sha], cwd=REPO, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
    return root, f"commit {sha}"


def _cluster_paths(cluster: object) -> list[str]:
    """Member paths of one exported cluster, whatever the JSON's version calls them."""
    if isinstance(cluster, dict):
        for key in ("paths", "filepaths", "members", "samples"):
            if key in cluster:
                return [m if isinstance(m, str) else m.get("path") or m.get("filepath") for m in cluster[key]]
    if isinstance(cluster, list):
        return [m if isinstance(m, str) else m.get("path") or m.get("filepath") for m in cluster]
    raise ValueError(f"unrecognised duplicate cluster in the JSON: {str(cluster)[:200]}")


def read_workbench_json(doc: dict) -> dict:
    dups = doc.get("duplicates") or []
    if isinstance(dups, dict):  # a later schema may nest the clusters
        dups = dups.get("clusters", [])
    groups = [_cluster_paths(c) for c in dups]
    emb = doc.get("embedding_model") or {}
    checks = doc.get("checks") or {}
    return {"groups": groups, "kind": "groups", "schema_version": doc.get("schema_version"),
            "n_samples": (doc.get("dataset") or {}).get("n_samples"),
            "near_duplicate_threshold": doc.get("near_duplicate_threshold"),
            "embedding_model": emb.get("id"), "embedding_fallback_reason": emb.get("fallback_reason"),
            "duplicates_check": checks.get("duplicates"), "leaks": len(doc.get("leaks") or []),
            "cluster_kinds": sorted({c.get("kind") for c in dups if isinstance(c, dict)} - {None}),
            "timings": doc.get("timings"), "calibration": doc.get("calibration") or doc.get("near_duplicate_calibration")}


def run_workbench(folder: Path, variant: str, src: Path | None, mongo, workdir: Path, timeout: float,
                  extra: tuple[str, ...] = ()) -> dict:
    out = workdir / f"workbench-{variant}.json"
    env = {**os.environ, **mongo.env(), "HF_HUB_OFFLINE": "1", "WORKBENCH_CACHE": str(workdir / f"cache-{variant}")}
    argv = [sys.executable]
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        argv.append("-P")  # no cwd on sys.path: the exported tree wins over the editable install
    argv += ["-c", "import sys; from workbench.cli import main; sys.exit(main())", "audit", str(folder),
             "--name", f"near-dups-{variant}", "--json", str(out), "--no-write-back", "--quiet",
             "--cache-dir", str(workdir / f"cache-{variant}"), *extra]
    run = common.run_measured(argv, env=env, cwd=REPO, timeout=timeout, log_path=workdir / f"workbench-{variant}.log",
                              watch={"mongod": mongo.process.pid})
    result = {"wall_seconds": run.wall_seconds, "returncode": run.returncode, "timed_out": run.timed_out,
              "peak_rss_mb": run.peak_rss_mb, "log": run.log_path, "argv": argv[3:] if src is None else argv[4:]}
    if run.returncode not in (0, 1) or run.timed_out or not out.exists():
        tail = Path(run.log_path).read_text(errors="replace")[-3000:] if run.log_path else ""
        return {**result, "ok": False, "error": f"exit {run.returncode}: {tail}"}
    return {**result, **read_workbench_json(json.loads(out.read_text())), "ok": True}


def run_peer(tool: str, folder: Path, variant: str, workdir: Path, timeout: float) -> dict:
    if not (PEER_DEPS / ("cleanvision" if tool == "cleanvision" else "imagededup")).is_dir():
        return {"ok": False, "error": f"{PEER_DEPS} lacks the package; install with: {INSTALL_HINT}"}
    out = workdir / f"{tool}-{variant}.json"
    argv = common.python_argv("benchmarks.bench_near_duplicates", "--worker", tool, "--folder", str(folder),
                              "--result", str(out))
    run = common.run_measured(argv, cwd=REPO, timeout=timeout, log_path=workdir / f"{tool}-{variant}.log")
    result = {"wall_seconds": run.wall_seconds, "returncode": run.returncode, "timed_out": run.timed_out,
              "peak_rss_mb": run.peak_rss_mb, "log": run.log_path}
    if not run.ok or not out.exists():
        tail = Path(run.log_path).read_text(errors="replace")[-3000:] if run.log_path else ""
        return {**result, "ok": False, "error": f"exit {run.returncode}: {tail}"}
    return {**result, **json.loads(out.read_text()), "ok": True}


# --------------------------------------------------------------------------------------------
# Scoring
# --------------------------------------------------------------------------------------------

def score(groups: list[list[str]], manifest: dict, root: Path) -> dict:
    """Recall per transform, exact-copy recall, false clusters and pairs, from a tool's groups."""
    images = manifest["images"]
    identity = {(root / i["path"]).resolve().as_posix(): i["identity"] for i in images}
    original = {i["identity"]: (root / i["path"]).resolve().as_posix() for i in images if i["role"] == "original"}
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    unknown, pairs, false_pairs = set(), 0, 0
    for group in groups:
        members = [Path(p).resolve().as_posix() for p in group if p]
        unknown.update(m for m in members if m not in identity)
        pairs += len(members) * (len(members) - 1) // 2
        ids = defaultdict(int)
        for m in members:
            ids[identity.get(m)] += 1
        false_pairs += (len(members) * (len(members) - 1) - sum(c * (c - 1) for c in ids.values())) // 2
        for m in members[1:]:
            ra, rb = find(members[0]), find(m)
            if ra != rb:
                parent[rb] = ra
    components: dict[str, list[str]] = defaultdict(list)
    for node in list(parent):
        components[find(node)].append(node)
    clusters = [c for c in components.values() if len(c) > 1]
    false = []
    for c in clusters:
        ids = sorted({identity.get(m, "?") for m in c})
        if len(ids) > 1:
            false.append({"size": len(c), "identities": len(ids), "sample": ids[:8]})
    false.sort(key=lambda f: -f["size"])
    per_transform: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    missed = []
    for i in images:
        if i["role"] != "copy":
            continue
        path = (root / i["path"]).resolve().as_posix()
        hit = path in parent and original[i["identity"]] in parent and find(path) == find(original[i["identity"]])
        per_transform[i["transform"]][0] += int(hit)
        per_transform[i["transform"]][1] += 1
        if not hit:
            missed.append(i["path"])
    near = [v for k, v in per_transform.items() if k != "exact"]
    return {"recall": {k: {"found": v[0], "copies": v[1]} for k, v in per_transform.items()},
            "near_found": sum(v[0] for v in near), "near_copies": sum(v[1] for v in near),
            "clusters": len(clusters), "images_in_clusters": sum(len(c) for c in clusters),
            "false_clusters": len(false), "largest_false_cluster": false[0]["size"] if false else 0,
            "false_cluster_detail": false[:20], "pairs": pairs, "false_pairs": false_pairs,
            "missed": missed, "unknown_paths": sorted(unknown)[:20]}


# --------------------------------------------------------------------------------------------
# Parent
# --------------------------------------------------------------------------------------------

def _fraction(r: dict | None) -> str:
    return "" if r is None else f"{r['found']}/{r['copies']}"


def _tool_seconds(r: dict) -> str:
    """The tool's own time: workbench's ``timings.total``, the peers' timed call."""
    seconds = r.get("call_seconds") or (r.get("timings") or {}).get("total")
    return "" if seconds is None else f"{seconds:.1f}"


def tables(rows: list[dict], manifests: dict[str, dict]) -> str:
    out = []
    for variant, manifest in manifests.items():
        transforms = list(manifest["transforms"])
        near = [t for t in transforms if t != "exact"]
        headers = ["tool", "wall s", "tool s", *near, "all near", "exact", "clusters", "false clusters (largest)",
                   "pairs", "false pairs"]
        body = []
        for r in rows:
            if r["variant"] != variant:
                continue
            if not r.get("ok"):
                body.append([r["tool"], "failed", *[""] * (len(headers) - 2)])
                continue
            s = r["score"]
            body.append([r["tool"], f"{r['wall_seconds']:.1f}", _tool_seconds(r), *[_fraction(s["recall"].get(t)) for t in near],
                         f"{s['near_found']}/{s['near_copies']}", _fraction(s["recall"].get("exact")),
                         s["clusters"], f"{s['false_clusters']} ({s['largest_false_cluster']})", s["pairs"],
                         s["false_pairs"]])
        n_orig = sum(1 for i in manifest["images"] if i["role"] == "original")
        out.append(f"**{variant}** ({n_orig} originals, {len(manifest['images']) - n_orig} copies)\n\n"
                   + common.markdown_table(headers, body))
    return "\n\n".join(out)


def install_peers() -> int:
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(PEER_DEPS), *PEER_PINS]
    return subprocess.run(cmd, env={**os.environ, "PIP_FIND_LINKS": ""}).returncode


def run_parent(args) -> int:
    if args.install_peers and install_peers() != 0:
        return 2
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    if set(tools) - set(TOOLS):
        raise SystemExit(f"unknown tools {sorted(set(tools) - set(TOOLS))}; choose from {', '.join(TOOLS)}")
    recipe = _recipe()
    t0 = time.perf_counter()
    folders = recipe.build(Path(args.data), tuple(variants), args.seed)
    data_seconds = time.perf_counter() - t0
    manifests = {v: json.loads((folders[v] / "manifest.json").read_text()) for v in variants}
    info = common.machine_info(PACKAGES)
    if PEER_DEPS.is_dir():
        import importlib.metadata

        for dist in importlib.metadata.distributions(path=[str(PEER_DEPS)]):
            if info["packages"].get(dist.metadata["Name"]) is None:
                info["packages"][dist.metadata["Name"]] = f"{dist.version} ({PEER_DEPS.name})"
    out_path = Path(args.out) if args.out else common.BENCH_DIR / f"near-duplicates-{common.timestamp()}.json"
    common.BENCH_DIR.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="bench-near-dups-", dir=common.BENCH_DIR))
    src, wb_label = workbench_source(args.workbench_rev, workdir) if "workbench" in tools else (None, None)
    report = {"benchmark": "near_duplicates", "command": " ".join(sys.argv), "machine": info,
              "config": {"variants": variants, "tools": tools, "seed": args.seed, "data": str(args.data),
                         "workbench": wb_label, "data_seconds": round(data_seconds, 1)},
              "data": {v: {k: m[k] for k in ("transforms", "params", "key", "pillow")} for v, m in manifests.items()},
              "results": []}
    rows: list[dict] = []
    with common.private_mongod() as mongo:
        for variant in variants:
            folder = folders[variant].resolve()
            for tool in tools:
                log.info("%s: %s", variant, tool)
                if tool == "workbench":
                    r = run_workbench(folder, variant, src, mongo, workdir, args.timeout,
                                     tuple(args.workbench_args.split()))
                else:
                    r = run_peer(tool, folder, variant, workdir, args.timeout)
                r.update(variant=variant, tool=tool if tool != "workbench" else "workbench (defaults)",
                         loadavg=os.getloadavg()[0])
                if r.get("ok"):
                    r["score"] = score(r.pop("groups"), manifests[variant], folders[variant])
                    s = r["score"]
                    log.info("  %.1f s, near %d/%d, exact %s, false clusters %d", r["wall_seconds"], s["near_found"],
                             s["near_copies"], _fraction(s["recall"].get("exact")), s["false_clusters"])
                else:
                    log.warning("  failed: %s", r.get("error", "")[-500:])
                rows.append(r)
                report["results"] = rows
                common.write_json(out_path, report)
    markdown = tables(rows, manifests)
    report["markdown"] = markdown
    common.write_json(out_path, report)
    m = info
    print(f"\n<!-- {m['date']}; {m['cpu_model']}; nproc {m['nproc']}; load {m['loadavg_at_start'][0]}; "
          f"python {m['python']}; " + ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v)
          + f"; git {str(m['git']['commit'])[:10]}{'+dirty' if m['git']['dirty'] else ''}; workbench: {wb_label} -->")
    print(markdown)
    ok = all(r.get("ok") for r in rows)
    if ok and not args.keep_workdir:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"\nresults: {out_path}" + ("" if ok and not args.keep_workdir else f"\nworker logs: {workdir}"))
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--variants", default="photos,fmnist,clipart")
    p.add_argument("--tools", default=",".join(TOOLS))
    p.add_argument("--workbench-args", default="",
                   help="extra options for workbench's audit, e.g. '--precision fp32' (what AVX2-only machines run)")
    p.add_argument("--data", default=str(common.BENCH_DIR / "near-dups"), help="where the recipe builds the folders")
    p.add_argument("--seed", type=int, default=20260101)
    p.add_argument("--workbench-rev", default=None,
                   help="run workbench from this commit (git archive) instead of the working tree")
    p.add_argument("--timeout", type=float, default=1200.0, help="seconds per tool and variant")
    p.add_argument("--out", default=None)
    p.add_argument("--keep-workdir", action="store_true", help="keep the workers' logs, JSON and caches")
    p.add_argument("--install-peers", action="store_true", help=f"pip install {' '.join(PEER_PINS)} into {PEER_DEPS}")
    p.add_argument("--worker", choices=("phash", "dhash", "cleanvision"), help=argparse.SUPPRESS)
    p.add_argument("--folder", help=argparse.SUPPRESS)
    p.add_argument("--result", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return run_worker(args)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    return run_parent(args)


if __name__ == "__main__":
    raise SystemExit(main())
