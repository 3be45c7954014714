"""The ``workbench`` command: ``audit`` a dataset, open the FiftyOne ``app`` on one, ``list`` datasets,
``embed`` files on a Dask cluster."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from pathlib import Path

FAIL_ON = {"leaks": "leaks", "duplicates": "duplicates", "label-issues": "label_issues",
           "file-problems": "file_problems", "imbalance": "imbalanced_classes"}

EXIT_FINDINGS = 1
EXIT_ERROR = 2


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="workbench", description="Audit computer-vision datasets before training.")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    a = sub.add_parser("audit", help="audit a dataset folder, COCO JSON, YOLO data.yaml or FiftyOne dataset")
    a.add_argument("source", help="path, or the name of an existing FiftyOne dataset")
    a.add_argument("--format", default="auto", choices=["auto", "imagefolder", "coco", "yolo", "fiftyone"])
    a.add_argument("--name", help="FiftyOne dataset name (default derived from the path)")
    a.add_argument("--images", help="COCO: folder the JSON's file_name entries are relative to")
    a.add_argument("--label-field", help="ground-truth field (default: detected)")
    a.add_argument("--split-field", help="sample field holding the split (default: train/val/test tags)")
    a.add_argument("--report", metavar="HTML", help="write the HTML report here")
    a.add_argument("--json", metavar="PATH", help="write the JSON export here")
    a.add_argument("--embedder", default="auto", choices=["auto", "clip", "efficientnet-lite0", "none"],
                   help="none: no model (duplicates from content and perceptual hashes only)")
    a.add_argument("--clip-model", default="ViT-B-32")
    a.add_argument("--clip-pretrained", default="laion2b_s34b_b79k",
                   help="open_clip pretrained tag; 'none' for untrained weights (tests only)")
    a.add_argument("--clip-checkpoint", help="local open_clip checkpoint file")
    a.add_argument("--cache-dir", help="embedding cache folder (default $WORKBENCH_CACHE or ~/.cache/workbench)")
    a.add_argument("--batch-size", type=int, default=64)
    a.add_argument("--device", help="torch device (default: cuda when present, else cpu)")
    a.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"],
                   help="model weights: auto uses bf16 where the hardware supports it and its measured "
                        "drift from fp32 is tiny")
    a.add_argument("--near-threshold", type=float, help="near-duplicate cosine distance (default per model)")
    a.add_argument("--knn-method", default="auto", choices=["auto", "exact", "ivf"],
                   help="k-NN engine: exact search, faiss IVF with exact re-check, or auto (IVF above 10,000)")
    a.add_argument("--no-incremental", action="store_true",
                   help="rebuild the k-NN graph instead of updating the one stored by the last audit")
    a.add_argument("--predictions", help="CSV 'filepath,<class 1>,...' or a sample field with predictions")
    a.add_argument("--min-class-ratio", type=float, default=0.10)
    a.add_argument("--fail-on", default="", help=f"comma list of {','.join(FAIL_ON)}: exit {EXIT_FINDINGS} "
                                                 "when any is found")
    a.add_argument("--no-write-back", action="store_true", help="don't write findings to the FiftyOne dataset")
    a.add_argument("--quiet", action="store_true", help="no progress bars")

    app = sub.add_parser("app", help="open the FiftyOne App on an audited dataset")
    app.add_argument("dataset", help="FiftyOne dataset name (see `workbench list`)")
    app.add_argument("--view", help="a saved view, e.g. wb-leaks, wb-duplicates, wb-label-issues")
    app.add_argument("--port", type=int)
    app.add_argument("--remote", action="store_true", help="serve without opening a browser")

    sub.add_parser("list", help="list FiftyOne datasets and their last workbench run")

    e = sub.add_parser("embed", help="embed image files on a Dask cluster into the (shared) embedding cache")
    e.add_argument("paths", nargs="+", metavar="PATH", help="image files, or folders searched recursively")
    where = e.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS", help="Dask scheduler to run on, e.g. tcp://host:8786")
    where.add_argument("--local-workers", type=_positive_int, metavar="N",
                       help="start a local cluster of N worker processes (default 2)")
    e.add_argument("--embedder", default="auto", choices=["auto", "clip", "efficientnet-lite0"])
    e.add_argument("--clip-model", default="ViT-B-32")
    e.add_argument("--clip-pretrained", default="laion2b_s34b_b79k",
                   help="open_clip pretrained tag; 'none' for untrained weights (tests only)")
    e.add_argument("--clip-checkpoint", help="open_clip checkpoint file (same path on every worker)")
    e.add_argument("--cache-dir", help="embedding cache folder every worker can write (default $WORKBENCH_CACHE "
                                       "or ~/.cache/workbench)")
    e.add_argument("--partition-size", type=_positive_int, default=512,
                   help="at most this many files per task; each task writes one cache shard")
    e.add_argument("--batch-size", type=_positive_int, default=64)
    e.add_argument("--device", help="torch device on the workers (default: cuda when present, else cpu)")
    e.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    e.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def _fail_on(value: str) -> list[str]:
    names = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [n for n in names if n not in FAIL_ON]
    if unknown:
        raise SystemExit(f"workbench: --fail-on: unknown {unknown}; choose from {', '.join(FAIL_ON)}")
    return names


def _audit(args: argparse.Namespace) -> int:
    from workbench.orchestrator import run_audit
    from workbench.config import AuditConfig, EmbedderConfig
    from workbench.io.loading import load
    from workbench.render.fiftyone_app import write_back
    from workbench.render.json_export import write_json
    from workbench.render.summary import text_summary

    fail_on = _fail_on(args.fail_on)
    pretrained = None if str(args.clip_pretrained).lower() in ("none", "") else args.clip_pretrained
    cfg = AuditConfig(
        embedder=EmbedderConfig(name=args.embedder, clip_model=args.clip_model, clip_pretrained=pretrained,
                                clip_checkpoint=args.clip_checkpoint, batch_size=args.batch_size,
                                device=args.device, cache_dir=args.cache_dir, precision=args.precision),
        near_duplicate_threshold=args.near_threshold, predictions=args.predictions,
        knn_method=args.knn_method, incremental=not args.no_incremental,
        min_class_ratio=args.min_class_ratio)
    dataset = load(args.source, args.format, name=args.name, images=args.images)
    result = run_audit(dataset, cfg, label_field=args.label_field, split_field=args.split_field,
                       progress=not args.quiet)
    if not args.no_write_back:
        write_back(dataset, result)
    print(text_summary(result))
    if args.json:
        print(f"JSON:   {write_json(result, args.json).resolve()}")
    if args.report:
        from workbench.render.html_report import render_html

        path = Path(args.report)
        path.parent.mkdir(parents=True, exist_ok=True)
        render_html(result, path)
        print(f"report: {path.resolve()}")
    print(f"review: workbench app {dataset.name}")
    counts = result.counts()
    hits = [n for n in fail_on if counts[FAIL_ON[n]] > 0]
    if hits:
        print(f"failing (--fail-on): {', '.join(f'{n}={counts[FAIL_ON[n]]}' for n in hits)}", file=sys.stderr)
        return EXIT_FINDINGS
    return 0


def _app(args: argparse.Namespace) -> int:
    from workbench._fo import load_dataset
    from workbench.render.fiftyone_app import launch_app

    launch_app(load_dataset(args.dataset), view=args.view, port=args.port, remote=args.remote)
    return 0


def _list(_: argparse.Namespace) -> int:
    from workbench._fo import fiftyone

    fo = fiftyone()
    for name in sorted(fo.list_datasets()):
        runs = fo.load_dataset(name).info.get("workbench", {}).get("runs", [])
        last = runs[-1] if runs else None
        print(f"{name}\t{last['created_at'] + ' ' + str(last['counts']) if last else '(not audited)'}")
    return 0


def _embed(args: argparse.Namespace) -> int:
    from workbench.config import EmbedderConfig
    from workbench.embeddings.distributed import embed_files_distributed
    from workbench.io.sources import IMAGE_SUFFIXES, find_image_files

    if not args.verbose:
        with contextlib.suppress(ImportError):  # importing distributed sets its loggers to INFO
            import distributed  # noqa: F401
        logging.getLogger("distributed").setLevel(logging.WARNING)
    files = find_image_files(args.paths)
    if not files:
        print(f"workbench: error: no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) under "
              f"{' '.join(args.paths)}", file=sys.stderr)
        return EXIT_ERROR
    pretrained = None if str(args.clip_pretrained).lower() in ("none", "") else args.clip_pretrained
    config = EmbedderConfig(name=args.embedder, clip_model=args.clip_model, clip_pretrained=pretrained,
                            clip_checkpoint=args.clip_checkpoint, batch_size=args.batch_size, device=args.device,
                            cache_dir=args.cache_dir, precision=args.precision)
    local_workers = args.local_workers or 2  # None when not given: argparse can then tell it from --scheduler
    where = args.scheduler or f"a local cluster of {local_workers} worker processes"
    print(f"workbench embed: {len(files)} files on {where}")
    r = embed_files_distributed(files, config, client=args.scheduler, local_workers=local_workers,
                                partition_size=args.partition_size, progress=not args.quiet)
    print(f"embeddings     {r.model_id}")
    if r.fallback_reason:
        print(f"  ! FALLBACK: {r.fallback_reason}")
    print(f"files          {r.n_files} ({r.n_computed} computed, {r.n_cached} cached, {r.n_failed} failed)")
    print(f"cache          {r.cache_dir} ({r.n_shards_written} shards written)")
    for path, message in list(r.failed.items())[:20]:
        print(f"  failed: {path}: {message}")
    if r.n_failed > 20:
        print(f"  ... and {r.n_failed - 20} more")
    print(f"time           {r.seconds:.1f} s")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("fiftyone", "urllib3", "PIL", "matplotlib", "h5py"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from workbench.errors import WorkbenchError

    try:
        return {"audit": _audit, "app": _app, "list": _list, "embed": _embed}[args.command](args)
    except (WorkbenchError, LookupError) as exc:
        print(f"workbench: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
