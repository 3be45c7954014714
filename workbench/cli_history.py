"""Audit history on the command line: ``workbench diff``, ``workbench history``, and the ``audit``
options that store each run, write an ``--out`` folder and gate on new findings (``--fail-on-new``)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.cli_options import positive_int


def add_audit_options(a: argparse.ArgumentParser) -> None:
    """``audit``'s history options."""
    a.add_argument("--out", metavar="DIR",
                   help="write a folder DVC can track: findings.parquet, findings.json, audit.json, report.html and "
                        "manifest.json, the same bytes when the data and findings are the same")
    a.add_argument("--fail-on-new", default="", metavar="GATES",
                   help="like --fail-on, counting only findings that are new since the baseline audit (regressions); "
                        "NAME>N%% is of the samples")
    a.add_argument("--baseline", metavar="RUN|PATH",
                   help="the audit --fail-on-new compares with: a run id, a JSON file or an --out folder (default: "
                        "this dataset's last stored audit)")
    add_history_dir(a)
    a.add_argument("--no-history", action="store_true", help="don't store this audit in the history")


def add_history_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument("--history-dir", metavar="DIR",
                   help="the audit history folder (default $WORKBENCH_HISTORY, else history/ beside the cache: "
                        "$WORKBENCH_CACHE or ~/.cache/workbench)")


def add_diff_parser(sub: Any) -> None:
    d = sub.add_parser("diff", help="compare two audits: new, fixed and unchanged findings",
                       description="Compare audit B with audit A, finding by finding. A and B are run ids (see "
                                   "`workbench history`), JSON files (--json exports, history records) or --out "
                                   "folders; or give --dataset NAME alone to compare its last two audits.")
    d.add_argument("a", nargs="?", metavar="A", help="the older audit")
    d.add_argument("b", nargs="?", metavar="B", help="the newer audit")
    d.add_argument("--dataset", metavar="NAME", help="compare this dataset's last two stored audits")
    d.add_argument("--json", metavar="PATH", help="write the comparison as JSON here")
    d.add_argument("--fail-on-new", default="", metavar="GATES",
                   help="exit 1 when B has new findings past these gates (as --fail-on: leaks,label-issues>10)")
    d.add_argument("--allow-skipped", action="store_true",
                   help="a gate whose check did not run in B passes (default: it fails)")
    d.add_argument("--limit", type=positive_int, default=5, help="findings listed per check and direction (default 5)")
    add_history_dir(d)


def add_history_parser(sub: Any) -> None:
    h = sub.add_parser("history", help="list the stored audits of a dataset (or the datasets with audits)")
    h.add_argument("dataset", nargs="?", metavar="DATASET", help="FiftyOne dataset name")
    add_history_dir(h)


@dataclass(frozen=True)
class AuditHistoryPlan:
    """What ``audit`` does with history, checked before the audit runs."""

    root: Path
    record: bool
    out: Path | None
    new_gates: tuple[Any, ...]
    baseline: Any  # AuditSnapshot | None: a --baseline read before the audit
    baseline_name: str = ""  # --baseline as given, named when the baseline has no run id


def plan_for_audit(args: argparse.Namespace, *, dataset_root: Path | None) -> AuditHistoryPlan:
    """Read and check the history options before any work (bad input is exit 2 in seconds)."""
    from workbench.gates import parse_gates
    from workbench.history.out_folder import check_out_folder
    from workbench.history.store import history_root, read_audit
    from workbench.io.outputs import check_output_folder

    new_gates = parse_gates(args.fail_on_new, option="--fail-on-new") if args.fail_on_new else ()
    root = history_root(args.history_dir)
    if args.history_dir or not args.no_history:
        _check_folder(root, "--history-dir" if args.history_dir else "the history folder", dataset_root)
    out = None
    if args.out:
        out = check_output_folder(args.out, what="--out", dataset_root=dataset_root)
        check_out_folder(out)
        for what, other in (("--json", args.json), ("--report", args.report)):
            if other and out in Path(other).expanduser().resolve().parents:
                from workbench.io.outputs import OutputPathError

                raise OutputPathError(f"{what} {other} is inside --out {args.out}, whose files workbench writes "
                                      "itself; write it elsewhere (the folder already holds audit.json and "
                                      "report.html)")
    if args.baseline and not new_gates:
        from workbench.errors import WorkbenchError

        raise WorkbenchError("--baseline is read by --fail-on-new; add --fail-on-new GATES (e.g. leaks,label-issues)")
    baseline = read_audit(args.baseline, root=root) if args.baseline else None
    return AuditHistoryPlan(root, not args.no_history, out, new_gates, baseline, args.baseline or "")


def _check_folder(path: Path, what: str, dataset_root: Path | None) -> None:
    from workbench.io.outputs import check_output_folder

    check_output_folder(path, what=what, dataset_root=dataset_root)


def after_audit(plan: AuditHistoryPlan, result: Any, *, allow_skipped: bool,
                gates_failed: bool = False) -> tuple[list[Any], list[str]]:
    """Write the ``--out`` folder, compare with the baseline for ``--fail-on-new``, then store the run,
    marked as failing its gates when a ``--fail-on`` (``gates_failed``) or ``--fail-on-new`` gate failed:
    such a run is never the default baseline, or a job that failed would pass when run again.

    Returns the new-findings gate outcomes and the lines to print.
    """
    from workbench.history.snapshot import snapshot_of
    from workbench.history.store import list_runs, record_run

    lines = []
    if plan.out is not None:
        from workbench.history.out_folder import write_out_folder

        write_out_folder(result, plan.out)
        lines.append(f"out: {plan.out}")
    snapshot = snapshot_of(result)
    outcomes: list[Any] = []
    if plan.new_gates:
        from workbench.gates import evaluate_new_gates
        from workbench.history.diff import diff_audits

        baseline = plan.baseline
        if baseline is None:
            runs = [r for r in list_runs(result.dataset_name, root=plan.root) if r.gates_passed is not False]
            baseline = runs[-1] if runs else None
        if baseline is None:
            print("--fail-on-new: no earlier audit of this dataset that passed its gates is stored; every finding "
                  "counts as new (an audit without gates, or --baseline, sets one)", file=sys.stderr)
            from workbench.history.snapshot import AuditSnapshot

            baseline = AuditSnapshot(result.dataset_name, result.source, "", 0, {}, {}, ())
        diff = diff_audits(baseline, snapshot)
        since = baseline.run_id or plan.baseline_name or "no earlier audit"  # an export or --out folder has no run id
        lines.append(f"since {since}: {diff.n_new} new, {diff.n_fixed} fixed, "
                     f"{diff.n_unchanged} unchanged findings")
        outcomes = evaluate_new_gates(diff, plan.new_gates, allow_skipped=allow_skipped)
    if plan.record:
        if plan.new_gates or gates_failed:
            snapshot = snapshot.with_gates(not (gates_failed or any(o.failed for o in outcomes)))
        stored = record_run(snapshot, root=plan.root)
        lines.append(f"history: run {stored.run_id} (workbench diff, workbench history {shlex.quote(result.dataset_name)})")
    return outcomes, lines


def run_diff(args: argparse.Namespace) -> int:
    from workbench.errors import WorkbenchError
    from workbench.gates import evaluate_new_gates, parse_gates
    from workbench.history.diff import diff_audits
    from workbench.history.store import history_root, list_runs, read_audit

    gates = parse_gates(args.fail_on_new, option="--fail-on-new") if args.fail_on_new else ()
    root = history_root(args.history_dir)
    out = None
    if args.json:
        from workbench.io.outputs import check_output_path

        out = check_output_path(args.json, what="--json")
    if args.dataset and (args.a or args.b):
        raise WorkbenchError("give either A and B, or --dataset NAME alone (its last two audits)")
    if args.dataset:
        runs = list_runs(args.dataset, root=root)
        if len(runs) < 2:
            raise WorkbenchError(f"dataset {args.dataset!r} has {len(runs)} stored audit{'s' if len(runs) != 1 else ''} "
                                 f"in {root}; two are needed (audit it again, or give A and B)")
        a, b = runs[-2], runs[-1]
    elif args.a and args.b:
        a, b = read_audit(args.a, root=root), read_audit(args.b, root=root)
    else:
        raise WorkbenchError("give two audits to compare (A B: run ids, JSON files or --out folders), or --dataset NAME")
    diff = diff_audits(a, b)
    if a.dataset != b.dataset:
        print(f"note: comparing audits of two datasets ({a.dataset!r} and {b.dataset!r}); findings are matched by "
              "their files relative to each dataset's root", file=sys.stderr)
    print(diff.summary(limit=args.limit))
    if out is not None:
        from workbench.io.outputs import write_text_atomic

        write_text_atomic(out, json.dumps(diff.to_dict(), indent=1, allow_nan=False))
        print(f"JSON: {out}")
    outcomes = evaluate_new_gates(diff, gates, allow_skipped=args.allow_skipped)
    for o in outcomes:
        print(f"gate {o.message}", file=sys.stderr)
    failed = [o for o in outcomes if o.failed]
    if failed:
        print(f"failing (--fail-on-new): {', '.join(str(o.gate) for o in failed)}", file=sys.stderr)
        return 1
    return 0


_GATES = {True: "passed", False: "failed", None: "none"}


def run_history(args: argparse.Namespace) -> int:
    from workbench.history.store import history_root, list_runs
    from workbench.results.protocol import printable

    root = history_root(args.history_dir)
    if not args.dataset:
        found = []
        for folder in sorted(root.iterdir()) if root.is_dir() else []:
            files = sorted(folder.glob("*.json"))
            if files:
                try:
                    name = json.loads(files[-1].read_text(encoding="utf-8")).get("dataset", folder.name)
                except (OSError, ValueError, AttributeError):
                    name = folder.name
                found.append(f"{printable(name)}\t{len(files)} audits\tlast {files[-1].stem}")
        print("\n".join(found) if found else f"no audits stored in {root}")
        return 0
    runs = list_runs(args.dataset, root=root)
    if not runs:
        print(f"no audits of {printable(args.dataset)} stored in {root}")
        return 0
    for r in runs:
        print(f"{r.run_id}\t{r.created_at}\t{r.n_samples} samples\tdata {r.fingerprint.get('content', '?')[:12]}"
              f"\t{len(r.rows)} findings\tgates {_GATES[r.gates_passed]}")
    return 0
