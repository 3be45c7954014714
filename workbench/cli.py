"""The ``workbench`` command: ``audit`` a dataset, open the FiftyOne ``app`` on one, ``list`` datasets;
``embed`` files and build the neighbour ``graph`` on a Dask cluster (:mod:`workbench.cli_cluster`); ``resplit``,
``select`` and ``handoff`` (to Label Studio and back, :mod:`workbench.cli_handoff`).

Exit codes (one contract for every subcommand, documented in the README):
0 done (and every ``--fail-on`` gate passed), 1 a gate failed, 2 usage or input error (the
message says what to do), 3 internal error (``-v`` shows the traceback). stdout carries the
summary only; logs, progress bars and library chatter go to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import logging
import os
import shlex
import sys
from pathlib import Path

from workbench.cli_options import bounded_float as _bounded_float
from workbench.cli_options import bounded_int as _bounded_int
from workbench.cli_options import embedder_config as _embedder_config
from workbench.cli_options import add_source_options
from workbench.cli_options import positive_int as _positive_int

EXIT_OK = 0
EXIT_GATE = 1
EXIT_INPUT = 2
EXIT_INTERNAL = 3

#: Loggers that chatter at INFO during a normal audit; shown with ``-v`` only.
_NOISY = ("fiftyone", "eta", "urllib3", "PIL", "matplotlib", "h5py", "faiss", "faiss.loader", "distributed",
          "asyncio", "httpx", "httpcore", "numexpr", "label_studio_sdk")



def _parser() -> argparse.ArgumentParser:
    from workbench import __version__
    from workbench.checks.registry import check_names
    from workbench.config import PRECISIONS, RUNTIMES
    from workbench.embeddings.registry import embedder_names
    from workbench.gates import registered_gates

    p = argparse.ArgumentParser(prog="workbench", description="Audit computer-vision datasets before training.",
                                epilog="exit codes: 0 done, 1 a --fail-on gate failed, 2 usage or input error, "
                                       "3 internal error")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging, and tracebacks for errors")
    p.add_argument("--version", action="version", version=f"workbench {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    a = sub.add_parser("audit", help="audit a dataset folder, COCO JSON, YOLO data.yaml or FiftyOne dataset")
    add_source_options(a, split_help="sample field holding the split (default: train/val/test tags)")
    a.add_argument("--annotators", metavar="FIELD,FIELD[,...]", default="",
                   help="label fields of the same images, one per annotator (Classification, Detections or "
                        "Segmentation), compared by the agreement check")
    a.add_argument("--annotator-file", action="append", default=[], metavar="NAME=PATH",
                   help="add an annotator's COCO JSON, CVAT XML or Label Studio JSON export (inside the dataset "
                        "folder) as the field NAME (Label Studio, several annotators: NAME_<user id> each), "
                        "matched to the images by file name, and compare it (repeatable)")
    a.add_argument("--report", metavar="HTML", help="write the HTML report here")
    a.add_argument("--json", metavar="PATH", help="write the JSON export here")
    a.add_argument("--embedder", default="auto", choices=embedder_names(),
                   help="none: no model (duplicates from content and perceptual hashes only)")
    a.add_argument("--clip-model", default="ViT-B-32")
    a.add_argument("--clip-pretrained", default="laion2b_s34b_b79k",
                   help="open_clip pretrained tag; 'none' for untrained weights (tests only)")
    a.add_argument("--clip-checkpoint", help="local open_clip checkpoint file")
    a.add_argument("--cache-dir", help="embedding cache folder (default $WORKBENCH_CACHE or ~/.cache/workbench)")
    a.add_argument("--batch-size", type=_positive_int, default=64)
    a.add_argument("--device", help="torch device (default: cuda when present, else cpu)")
    a.add_argument("--precision", default="auto", choices=PRECISIONS,
                   help="model weights: auto uses bf16 where the hardware supports it and its measured "
                        "drift from fp32 is tiny")
    a.add_argument("--runtime", default="auto", choices=RUNTIMES,
                   help="what runs the model on the CPU: auto uses the fastest compiled runtime (ONNX Runtime, "
                        "OpenVINO) whose output matches PyTorch fp32 on a probe batch")
    a.add_argument("--near-threshold", type=_bounded_float(0.0, 2.0), metavar="D",
                   help="near-duplicate cosine distance, 0-2 (default: calibrated on this dataset's own images)")
    a.add_argument("--no-calibration", action="store_true",
                   help="skip making and embedding known copies to choose the near-duplicate thresholds "
                        "(faster; uses the model's fixed default threshold)")
    a.add_argument("--calibration-samples", type=_bounded_int(10, 10000), default=48, metavar="N",
                   help="images copied (7 edits each) to calibrate near duplicates (default 48, 10-10000)")
    a.add_argument("--knn-method", default="auto", choices=["auto", "exact", "ivf"],
                   help="k-NN engine: exact search, k-means inverted lists searched exactly (ivf), or auto "
                        "(ivf above 10,000)")
    a.add_argument("--no-incremental", action="store_true",
                   help="rebuild the k-NN graph instead of updating the one stored by the last audit")
    a.add_argument("--predictions", help="classification: CSV 'filepath,<class 1>,...' or a sample field with "
                   "probabilities; detection: a COCO results JSON or a Detections field with confidences; "
                   "segmentation: a folder of <image name>.npy per-pixel probabilities, (K, H, W) or (H, W, K)")
    a.add_argument("--review-budget", type=_positive_int, metavar="N",
                   help="label errors: samples in the review queue, ranked by label quality (default: "
                        "cleanlab's estimate of the number of label issues)")
    a.add_argument("--min-class-ratio", type=_bounded_float(0.0, 1.0, low_open=True), default=0.10)
    a.add_argument("--fail-on", default="", metavar="GATES",
                   help=f"exit {EXIT_GATE} when a gate fails: a comma list of NAME, NAME>N or NAME>N%% with NAME "
                        f"one of {', '.join(registered_gates())} (e.g. leaks>0,duplicates>2%%,label-issues>100); a "
                        "bare NAME means NAME>0")
    a.add_argument("--check-option", action="append", default=[], metavar="CHECK.OPTION=VALUE",
                   help="set a check's option, e.g. image_quality.blur=40 (repeatable; see the README)")
    a.add_argument("--skip-check", action="append", default=[], choices=check_names(), metavar="CHECK",
                   help=f"don't run this check (repeatable): one of {', '.join(check_names())}")
    a.add_argument("--allow-skipped", action="store_true",
                   help="a gate whose check was skipped or failed passes (default: it fails, with the reason)")
    a.add_argument("--no-write-back", action="store_true", help="don't write findings to the FiftyOne dataset")
    from workbench import cli_history

    cli_history.add_audit_options(a)
    a.add_argument("--quiet", action="store_true", help="no progress bars")

    app = sub.add_parser("app", help="open the FiftyOne App on an audited dataset")
    app.add_argument("dataset", help="FiftyOne dataset name (see `workbench list`)")
    app.add_argument("--view", help="a saved view, e.g. wb-leaks, wb-duplicates, wb-label-issues")
    app.add_argument("--port", type=_bounded_int(1, 65535))
    app.add_argument("--address", help="address to bind (default 127.0.0.1: this machine only)")
    app.add_argument("--remote", action="store_true",
                     help="serve to other machines (binds 0.0.0.0 unless --address) and open no browser")

    sub.add_parser("list", help="list FiftyOne datasets and their last workbench run")
    from workbench import cli_cluster

    cli_cluster.add_embed_parser(sub)
    cli_cluster.add_graph_parser(sub)
    from workbench import cli_handoff, cli_resplit, cli_select

    cli_resplit.add_resplit_parser(sub)
    cli_select.add_select_parser(sub)
    cli_history.add_diff_parser(sub)
    cli_history.add_history_parser(sub)
    cli_handoff.add_handoff_parser(sub)

    return p


def _audit(args: argparse.Namespace) -> int:
    from workbench.checks.registry import parse_check_options
    from workbench.config import AuditConfig
    from workbench.gates import evaluate_gates, parse_gates
    from workbench.io.locks import audit_lock
    from workbench.io.outputs import check_output_path, refuse_inside_dataset, refuse_same_file

    gates = parse_gates(args.fail_on)
    source = Path(args.source).expanduser()
    root = (source.resolve() if source.is_dir() else source.resolve().parent) if source.exists() else None
    outputs = {what: check_output_path(p, what=what, dataset_root=root)
               for what, p in (("--report", args.report), ("--json", args.json)) if p}
    if args.out:
        outputs["--out"] = Path(args.out).expanduser().resolve()
    refuse_same_file(outputs)
    from workbench.cli_history import after_audit, plan_for_audit

    history = plan_for_audit(args, dataset_root=root)
    if args.cache_dir:
        _check_cache_dir(Path(args.cache_dir).expanduser(), dataset_root=root)
    else:  # $WORKBENCH_CACHE or ~/.cache/workbench: the same rules, named as the user set them
        from workbench.embeddings.cache import default_cache_root

        _check_cache_dir(default_cache_root().parent, dataset_root=root, what="the cache folder "
                         + ("$WORKBENCH_CACHE" if os.environ.get("WORKBENCH_CACHE") else "~/.cache/workbench"))
    cfg = AuditConfig(
        embedder=_embedder_config(args),
        near_duplicate_threshold=args.near_threshold, predictions=args.predictions,
        knn_method=args.knn_method, incremental=not args.no_incremental,
        min_class_ratio=args.min_class_ratio, allow_outside_root=args.allow_outside_root,
        review_budget=args.review_budget, calibrate=not args.no_calibration,
        calibration_samples=args.calibration_samples, check_options=parse_check_options(args.check_option),
        skip_checks=tuple(args.skip_check), annotator_fields=_annotator_fields(args))
    key = args.name or (str(source.resolve()) if source.exists() else str(args.source))
    with audit_lock(key, args.cache_dir), contextlib.redirect_stdout(_ToStderr()):  # library prints -> stderr
        dataset, result = _load_and_audit(args, cfg)
        refuse_inside_dataset(outputs, dataset)
        written = _write_outputs(result, outputs)
        gate_outcomes = evaluate_gates(result, gates, allow_skipped=args.allow_skipped)
        new_outcomes, history_lines = after_audit(history, result, allow_skipped=args.allow_skipped,
                                                  gates_failed=any(o.failed for o in gate_outcomes))
        if not args.no_write_back:
            _write_back_surviving(dataset, result)
    from workbench.render.summary import text_summary

    print(text_summary(result))
    for what, path in written.items():
        print(f"{'JSON' if what == '--json' else 'report'}: {path}")
    for line in history_lines:
        print(line)
    print(f"review: workbench app {shlex.quote(result.dataset_name)}")  # a name can hold spaces
    outcomes = gate_outcomes + new_outcomes
    for o in outcomes:
        print(f"gate {o.message}", file=sys.stderr)
    failed = [o for o in outcomes if o.failed]
    if failed:
        print(f"failing (--fail-on{'-new' if any(o in new_outcomes for o in failed) else ''}): "
              f"{', '.join(str(o.gate) + (' (new)' if o in new_outcomes else '') for o in failed)}", file=sys.stderr)
        return EXIT_GATE
    return EXIT_OK


def _annotator_files(args: argparse.Namespace) -> list[tuple[str, str]]:
    """``--annotator-file NAME=PATH`` items as ``(name, path)``."""
    from workbench.errors import AnnotatorFieldError

    out = []
    for item in args.annotator_file:
        name, eq, path = item.partition("=")
        if not (eq and name.strip() and path.strip()):
            raise AnnotatorFieldError(f"--annotator-file: can't read {item!r}; write NAME=PATH, e.g. ann_b=ann_b.json")
        out.append((name.strip(), path.strip()))
    return out


def _annotator_fields(args: argparse.Namespace, added: tuple[str, ...] = ()) -> tuple[str, ...]:
    """``--annotators`` then the fields ``--annotator-file`` ``added``, each once. Before the files are read
    (``added`` empty) only ``--annotators`` is checked: a Label Studio export can add several fields."""
    fields = [f.strip() for f in args.annotators.split(",") if f.strip()]
    if args.annotators.strip() and len(fields) != len(args.annotators.split(",")):
        from workbench.errors import AnnotatorFieldError

        raise AnnotatorFieldError(f"--annotators {args.annotators!r}: write FIELD,FIELD[,...] without empty names")
    _annotator_files(args)  # NAME=PATH is checked before anything is loaded
    return () if args.annotator_file and not added else tuple(dict.fromkeys(fields + list(added)))


def _check_cache_dir(path: Path, *, dataset_root: Path | None = None, what: str = "--cache-dir") -> None:
    """Refuse, before any work, a cache folder inside the dataset, under a file, or not writable."""
    from workbench.io.outputs import OutputPathError

    real = path.resolve()
    if dataset_root is not None and (real == dataset_root or dataset_root in real.parents):
        raise OutputPathError(f"{what} {path} can't be used: it is inside the dataset folder {dataset_root}, and "
                              "workbench never writes there; choose a cache folder outside it (--cache-dir DIR or "
                              "WORKBENCH_CACHE)")
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise OutputPathError(f"{what} {path} can't be used: {probe} is a file, not a folder; choose another "
                              "cache folder (--cache-dir DIR or WORKBENCH_CACHE)")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise OutputPathError(f"{what} {path} can't be used: {probe} is not writable; choose another cache folder "
                              "(--cache-dir DIR or WORKBENCH_CACHE)")


def _load_and_audit(args: argparse.Namespace, cfg, precheck=None):
    from workbench._fo import connect
    from workbench.io.loading import load
    from workbench.orchestrator import run_audit

    from workbench._fo_service import prestart_database_service

    # FiftyOne's database service imports FiftyOne before it starts mongod: started now, that import
    # runs beside ours instead of after it (2-3 s of a cached re-audit)
    connect(prestarted=prestart_database_service())  # retries while the shared service is still starting
    dataset = load(args.source, args.format, name=args.name, images=args.images, overwrite=args.overwrite,
                   allow_outside_root=args.allow_outside_root)
    written: contextlib.AbstractContextManager = contextlib.nullcontext(())
    if args.annotator_file:  # every export read and checked, and the fields with them, before any is written
        from workbench.io.annotator_files import annotator_fields, read_annotator_file
        from workbench.io.annotator_write import written_for_run

        reads = [read_annotator_file(dataset, name, path, allow_outside_root=args.allow_outside_root)
                 for name, path in _annotator_files(args)]
        cfg = dataclasses.replace(cfg, annotator_fields=_annotator_fields(args, annotator_fields(reads)))
        written = written_for_run(dataset, reads)  # a failing audit removes the fields it added
    if precheck is not None:  # a command's own checks of the loaded dataset, before the audit's work
        precheck(dataset)
    with written as added:
        from workbench.results.protocol import printable

        for one in (f for a in added for f in (a, *a.others)):
            logging.getLogger("workbench").info("annotator %s: %d images, %d labels from %s", one.field,
                                                one.n_matched, one.n_objects, printable(one.path))
        result = run_audit(dataset, cfg, label_field=args.label_field, split_field=args.split_field,
                           progress=not args.quiet)
    return dataset, result


def _write_outputs(result, outputs: dict[str, Path]) -> dict[str, Path]:
    """Report and JSON first: they are the audit's product and must not be lost to a later failure."""
    from workbench.render.json_export import write_json

    written = {}
    if "--json" in outputs:
        written["--json"] = write_json(result, outputs["--json"])
    if "--report" in outputs:
        from workbench.render.html_report import render_html

        render_html(result, outputs["--report"])
        written["--report"] = outputs["--report"]
    return written


def _write_back_surviving(dataset, result) -> None:
    """Write findings to FiftyOne; if its database went away mid-audit, reconnect once and retry."""
    from workbench._fo import is_connection_error, reconnect
    from workbench.render.fiftyone_app import write_back

    try:
        write_back(dataset, result)
    except Exception as exc:
        if not is_connection_error(exc):
            raise
        logging.getLogger("workbench").warning("FiftyOne's database went away during the audit (%s); "
                                               "reconnecting to write the findings back", exc)
        write_back(reconnect(dataset.name), result)


def _app(args: argparse.Namespace) -> int:
    from workbench._fo import load_dataset
    from workbench.render.app_session import launch_app

    launch_app(load_dataset(args.dataset), view=args.view, port=args.port, remote=args.remote,
               address=args.address)
    return EXIT_OK


def _list(_: argparse.Namespace) -> int:
    from workbench._fo import fiftyone

    with contextlib.redirect_stdout(_ToStderr()):  # FiftyOne's database notices are not part of the list
        fo = fiftyone()
        names = sorted(fo.list_datasets())
    for name in names:
        runs = fo.load_dataset(name).info.get("workbench", {}).get("runs", [])
        last = runs[-1] if runs else None
        print(f"{name}\t{last['created_at'] + ' ' + str(last['counts']) if last else '(not audited)'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _configure_logging(args.verbose)
    from workbench.errors import WorkbenchError

    try:
        from workbench import cli_cluster, cli_handoff, cli_history, cli_resplit, cli_select

        commands = {"audit": _audit, "app": _app, "list": _list, "embed": cli_cluster.run_embed,
                    "graph": cli_cluster.run_graph, "resplit": cli_resplit.run_resplit, "select": cli_select.run_select,
                    "diff": cli_history.run_diff, "history": cli_history.run_history,
                    "handoff": cli_handoff.run_handoff}
        return commands[args.command](args)
    except (WorkbenchError, LookupError) as exc:
        if args.verbose:
            logging.getLogger("workbench").exception("input error")
        print(f"workbench: error: {_escaped(exc)}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("workbench: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the contract: a crash is exit 3, never 1 (which means "a gate failed")
        if args.verbose:
            logging.getLogger("workbench").exception("internal error")
        print(f"workbench: internal error: {type(exc).__name__}: {_escaped(exc)}\n"
              "  (run again as `workbench -v COMMAND ...` for the traceback; please report it with that output)", file=sys.stderr)
        return EXIT_INTERNAL


def _escaped(exc: BaseException) -> str:
    """An error message for the terminal: control characters from paths shown escaped, line breaks kept."""
    from workbench.render.summary import _t

    return "\n".join(_t(line) for line in str(exc).split("\n"))


class _ToStderr(io.TextIOBase):
    """Where stdout goes while the audit runs: forwarded to stderr, yet a different object.

    FiftyOne's progress bars (eta) capture stdout and re-point every logging handler whose
    stream *is* ``sys.stdout``; were stdout ``sys.stderr`` itself, the log handlers on stderr
    would be re-pointed too, so warnings would vanish into the capture (and Python's last-resort
    handler, whose stream can't be set, would crash the import).
    """

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def _configure_logging(verbose: bool) -> None:
    """Logs to stderr: WARNING by default, DEBUG with ``-v``; FiftyOne's progress bars off unless ``-v``."""
    import os

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.WARNING)
    for noisy in _NOISY:
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.ERROR)
    if not verbose:
        os.environ.setdefault("FIFTYONE_SHOW_PROGRESS_BARS", "false")
        # FiftyOne sets its own loggers' level from its config when imported (after this), so INFO lines
        # such as "Converting existing index ..." on a re-load would reach stderr without this
        os.environ.setdefault("FIFTYONE_LOGGING_LEVEL", "WARNING")


def run() -> None:
    """The ``workbench`` console command: :func:`main`, then exit without tearing the interpreter down.

    The audit's outputs are written and closed, and the exit handlers (FiftyOne's among them) run, before
    the process ends; what is skipped is freeing every imported module one by one (0.9 s after an audit).
    """
    import atexit

    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    run()
