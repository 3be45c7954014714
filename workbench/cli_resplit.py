"""``workbench resplit``: a proposed split no copy or group crosses, written as a new field and a manifest.

It runs the audit's file, duplicate and leakage stages and the ``split_proposal`` check only
(:mod:`workbench.checks.split_proposal`), writes the proposal to ``--field`` (never the user's
split field, never a field workbench did not create) and to ``--manifest`` (CSV or JSON), and
exits 1 when a class misses its split's ratio by more than ``--tolerance``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from workbench.cli_options import add_source_options, bounded_float, positive_int
from workbench.cli_partial import PARTIAL_AUDIT_DEFAULTS, add_model_options
from workbench.errors import WorkbenchError
from workbench.results.protocol import printable

#: Where ``resplit`` writes its proposal unless told otherwise: a field no audit rewrites (the audit's own
#: proposal, with its default options, goes to ``wb_proposed_split``).
RESPLIT_FIELD = "wb_split"
#: The checks ``resplit`` runs; every other check is skipped.
RESPLIT_CHECKS = ("integrity", "duplicates", "leakage", "split_proposal")



class ResplitError(WorkbenchError, ValueError):
    """A resplit that can't be made as asked (a field name, the group fields, the ratios)."""


def add_resplit_parser(sub) -> None:
    r = sub.add_parser("resplit", help="propose a stratified split that keeps every duplicate group and every "
                                       "--group-by value in one split (zero leakage), as a new field and a manifest")
    add_source_options(r, split_help="sample field holding the current split (default: train/val/test tags)")
    r.add_argument("--ratios", default="", metavar="SPLIT=SHARE,...",
                   help="target shares, e.g. train=0.8,val=0.1,test=0.1 (default: the current split's shares; "
                        "80/10/10 without one)")
    r.add_argument("--group-by", default="", metavar="FIELD,FIELD",
                   help="sample fields whose images must share a split (e.g. source,session)")
    r.add_argument("--tolerance", type=bounded_float(0.0, 1.0, low_open=True), default=0.05,
                   help="largest gap between a class's share in a split and the split's ratio (default 0.05)")
    r.add_argument("--mode", default="auto", choices=["auto", "fresh", "repair"],
                   help="repair: move only the groups that span splits; fresh: a new split at --ratios; auto: "
                        "repair when the dataset has a split")
    r.add_argument("--min-class-size", type=positive_int, default=40,
                   help="classes under this many images are placed but not held to the tolerance (default 40)")
    r.add_argument("--field", default=RESPLIT_FIELD,
                   help=f"sample field to write the proposal to (default {RESPLIT_FIELD}; audits never change it)")
    r.add_argument("--manifest", metavar="CSV|JSON", help="write sample id, file, label, current and proposed split")
    r.add_argument("--report", metavar="HTML", help="write the HTML report (the proposal and the leaks) here")
    r.add_argument("--json", metavar="PATH", help="write the JSON export here")
    add_model_options(r, allow_none=True)
    r.add_argument("--near-threshold", type=bounded_float(0.0, 2.0), metavar="D",
                   help="near-duplicate cosine distance (default: calibrated on this dataset)")
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    r.set_defaults(**PARTIAL_AUDIT_DEFAULTS)


def _check_field(dataset, name: str, split_field: str | None) -> None:
    """The proposal's field: a new name, or one resplit wrote before; never the user's split, labels or fields,
    nor the field every audit rewrites."""
    from workbench.checks.split_proposal import FIELD

    if not name.isidentifier() or name.startswith("_"):
        raise ResplitError(f"--field {name!r} is not a usable field name (letters, digits and _, not starting with _)")
    if name == split_field:
        raise ResplitError(f"--field {name} is the current split field; workbench never overwrites your split: "
                           "choose a new name")
    if name == FIELD:
        raise ResplitError(f"--field {FIELD}: every audit rewrites that field with its own proposal; choose another "
                           f"name (default {RESPLIT_FIELD})")
    ours = name == RESPLIT_FIELD or name in dataset.info.get("workbench", {}).get("resplit_fields", [])
    if name in dataset.get_field_schema() and not ours:
        raise ResplitError(f"--field {name} already exists and was not written by workbench resplit; choose a new "
                           "name (workbench never overwrites your fields)")


def _precheck(args: argparse.Namespace):
    """The loaded dataset against the options, before the audit: field, group fields, split and mode."""
    def check(dataset) -> None:
        from workbench.cli_partial import scalar_fields
        from workbench.io.table import to_table

        _check_field(dataset, args.field, args.split_field)
        usable = scalar_fields(dataset)
        schema = dataset.get_field_schema()
        for name in (f.strip() for f in args.group_by.split(",") if f.strip()):
            if name in schema and name not in usable:
                raise ResplitError(f"--group-by {name}: a {type(schema[name]).__name__}, not a text or number field; "
                                   f"group by one of: {', '.join(sorted(usable)) or 'none'}")
            if name not in schema:
                raise ResplitError(f"--group-by {name}: dataset {dataset.name!r} has no such field; its text and "
                                   f"number fields: {', '.join(sorted(usable)) or 'none'}")
        splits = {s for s in to_table(dataset, label_field=args.label_field, split_field=args.split_field
                                      ).frame["split"] if isinstance(s, str)}
        if args.mode == "repair" and not splits:
            raise ResplitError("--mode repair needs a current split (train/val/test folders or tags, or "
                               "--split-field); use --mode fresh with --ratios")
        if args.mode == "repair" and args.ratios.strip():
            raise ResplitError(f"--ratios apply to --mode fresh; repair keeps the current split ({', '.join(sorted(splits))}) "
                               "and its shares, and moves only the groups that span splits")
    return check


def run_resplit(args: argparse.Namespace) -> int:
    from workbench.cli import EXIT_GATE, EXIT_OK, _write_outputs
    from workbench.cli_partial import checked_outputs, finding_or_error, partial_audit, read_options
    from workbench.io.outputs import refuse_inside_dataset

    outputs = checked_outputs(args, ("report", "json", "manifest"))
    if "--manifest" in outputs and outputs["--manifest"].suffix.lower() not in (".csv", ".json"):
        raise ResplitError(f"--manifest {args.manifest}: name a .csv or .json file")
    options = read_options("split_proposal", {"ratios": args.ratios, "group_by": args.group_by,
                                              "tolerance": args.tolerance, "mode": args.mode,
                                              "min_class_size": args.min_class_size}, ResplitError)
    with partial_audit(args, RESPLIT_CHECKS, {"split_proposal": options}, _precheck(args)) as (dataset, result):
        proposal = finding_or_error(result, "split_proposal", ResplitError,
                                    renames={"split_proposal.group_by": "--group-by", "ratios: ": "--ratios: "})
        refuse_inside_dataset(outputs, dataset)
        written = _write_outputs(result, {k: v for k, v in outputs.items() if k != "--manifest"})
        if "--manifest" in outputs:
            from workbench.io.table import to_table

            frame = to_table(dataset, label_field=result.label_field or args.label_field,
                             split_field=args.split_field).frame
            written["--manifest"] = write_manifest(frame, proposal, outputs["--manifest"])
        write_proposal(dataset, proposal, args.field)
    print(f"resplit        {proposal.summary().splitlines()[0]}")
    for line in proposal.summary().splitlines()[1:]:
        print(f"               {line}")
    for side in proposal.proposed.sides:
        gap = f"largest class gap {side.worst:.1%}" if side.deviation else "no class large enough to judge"
        print(f"  {side.name:<12} {side.n:>8,} images ({side.share:.1%}, target {side.target:.1%}); {gap}")
    print(f"field          {args.field} on {result.dataset_name}")
    for what, path in written.items():
        print(f"{what.lstrip('-')}{' ' * (15 - len(what.lstrip('-')))}{path}")
    if not proposal.within_tolerance:
        split, cls, gap = proposal.proposed.worst_gap
        print(f"resplit: class {printable(cls)!r} is {gap:+.1%} off {printable(split)}'s ratio (tolerance "
              f"±{proposal.tolerance:.1%})" + ("; see the notes above" if proposal.notes else "")
              + "; raise --tolerance, change --ratios or --group-by", file=sys.stderr)
        return EXIT_GATE
    return EXIT_OK


def write_proposal(dataset, proposal, field: str) -> None:
    """Write the proposal to ``field`` by sample id (the user's split is untouched) and remember the name."""
    ids = list(proposal.assignment)
    dataset.set_values(field, dict(zip(ids, (proposal.assignment[i] for i in ids))), key_field="id")
    info = dict(dataset.info.get("workbench", {}))
    info["resplit_fields"] = sorted(set(info.get("resplit_fields", [])) | {field})
    dataset.info["workbench"] = info
    dataset.save()


def write_manifest(frame, proposal, path: Path) -> Path:
    """The proposal per sample as CSV or JSON (atomically): id, file, label, group, current and proposed split."""
    from workbench.io.outputs import replaced_atomically, write_text_atomic

    rows = manifest_rows(frame, proposal)
    if path.suffix.lower() == ".json":
        return write_text_atomic(path, json.dumps({**proposal.to_export()["split_proposal"], "samples": rows},
                                                  indent=1, ensure_ascii=False))
    path.parent.mkdir(parents=True, exist_ok=True)
    with replaced_atomically(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=["sample_id", "filepath", "label", "group", "current_split",
                                           "proposed_split", "moved"])
        w.writeheader()
        w.writerows(rows)
    return path


def manifest_rows(frame, proposal) -> list[dict[str, object]]:
    """One row per sample of the audit table ``frame`` (``id``, ``filepath``, ``split``, ``label`` and, for
    objects, ``labels``), in its order: its class (an image of objects: its classes), group, current and
    proposed split."""
    out = []
    lists = frame["labels"] if "labels" in frame else [()] * len(frame)
    for sid, path, label, labels, split in zip(frame["id"], frame["filepath"], frame["label"], lists, frame["split"]):
        split = split if isinstance(split, str) else None  # pandas 3: a missing one is nan
        label = label if isinstance(label, str) else ",".join(sorted(set(labels or ()))) or None
        new = proposal.assignment.get(sid)
        out.append({"sample_id": sid, "filepath": path, "label": label, "group": proposal.groups.get(sid),
                    "current_split": split, "proposed_split": new, "moved": split is not None and new != split})
    return out
