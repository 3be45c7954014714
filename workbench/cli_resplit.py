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
from workbench.errors import WorkbenchError

#: The checks ``resplit`` runs; every other check is skipped.
RESPLIT_CHECKS = ("integrity", "duplicates", "leakage", "split_proposal")


class ResplitError(WorkbenchError, ValueError):
    """A resplit that can't be made as asked (a field name, the group fields, the ratios)."""


def add_resplit_parser(sub) -> None:
    from workbench.embeddings.registry import embedder_names

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
    r.add_argument("--field", default="wb_proposed_split", help="sample field to write the proposal to")
    r.add_argument("--manifest", metavar="CSV|JSON", help="write sample id, file, label, current and proposed split")
    r.add_argument("--report", metavar="HTML", help="write the HTML report (the proposal and the leaks) here")
    r.add_argument("--json", metavar="PATH", help="write the JSON export here")
    r.add_argument("--embedder", default="auto", choices=embedder_names(),
                   help="model for near duplicates (none: exact copies and perceptual hashes only)")
    r.add_argument("--cache-dir", help="embedding cache folder (default $WORKBENCH_CACHE or ~/.cache/workbench)")
    r.add_argument("--near-threshold", type=bounded_float(0.0, 2.0), metavar="D",
                   help="near-duplicate cosine distance (default: calibrated on this dataset)")
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    r.set_defaults(annotator_file=[], annotators="", clip_model="ViT-B-32", clip_pretrained="laion2b_s34b_b79k",
                   clip_checkpoint=None, batch_size=64, device=None, precision="auto", runtime="auto")


def _check_field(dataset, name: str, split_field: str | None) -> None:
    """The proposal's field: a new name, or one workbench wrote before; never the user's split or labels."""
    from workbench.checks.split_proposal import FIELD

    if not name.isidentifier() or name.startswith("_"):
        raise ResplitError(f"--field {name!r} is not a usable field name (letters, digits and _, not starting with _)")
    if name == split_field:
        raise ResplitError(f"--field {name} is the current split field; workbench never overwrites your split: "
                           "choose a new name")
    schema = dataset.get_field_schema()
    ours = name == FIELD or name in dataset.info.get("workbench", {}).get("resplit_fields", [])
    if name in schema and not ours:
        raise ResplitError(f"--field {name} already exists and was not written by workbench resplit; choose a new "
                           "name (workbench never overwrites your fields)")


def run_resplit(args: argparse.Namespace) -> int:
    import contextlib

    from workbench.cli import EXIT_GATE, EXIT_OK, _embedder_config, _load_and_audit, _ToStderr, _write_outputs
    from workbench.config import AuditConfig
    from workbench.io.locks import audit_lock
    from workbench.io.outputs import check_output_path

    source = Path(args.source).expanduser()
    root = (source.resolve() if source.is_dir() else source.resolve().parent) if source.exists() else None
    outputs = {what: check_output_path(p, what=what, dataset_root=root)
               for what, p in (("--report", args.report), ("--json", args.json), ("--manifest", args.manifest)) if p}
    if "--manifest" in outputs and outputs["--manifest"].suffix.lower() not in (".csv", ".json"):
        raise ResplitError(f"--manifest {args.manifest}: name a .csv or .json file")
    from workbench.checks.registry import check_names, make_options, get_check

    options = {"ratios": args.ratios, "group_by": args.group_by, "tolerance": args.tolerance, "mode": args.mode,
               "min_class_size": args.min_class_size}
    try:
        make_options(get_check("split_proposal"), options)  # the ratios and fields are read before any work
    except WorkbenchError as exc:
        raise ResplitError(str(exc).replace("split_proposal: ", "").replace("ratios: ", "--ratios: ")) from None
    cfg = AuditConfig(embedder=_embedder_config(args), near_duplicate_threshold=args.near_threshold,
                      allow_outside_root=args.allow_outside_root, check_options={"split_proposal": options},
                      skip_checks=tuple(n for n in check_names() if n not in RESPLIT_CHECKS))
    key = args.name or (str(source.resolve()) if source.exists() else str(args.source))
    with audit_lock(key, args.cache_dir), contextlib.redirect_stdout(_ToStderr()):
        dataset, result = _load_and_audit(args, cfg)
        status = result.check("split_proposal")
        proposal = result.findings.get("split_proposal")
        if proposal is None:
            reason = status.reason if status else "the check did not run"
            if reason.startswith("CheckConfigError: "):
                raise ResplitError(reason.removeprefix("CheckConfigError: ").replace("split_proposal.", "--")
                                   .replace("split_proposal: ", "").replace("group_by", "group-by"))
            raise RuntimeError(f"the split proposal did not run: {reason}")
        _check_field(dataset, args.field, args.split_field)
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
        print(f"  {side.name:<12} {side.n:>8,} images ({side.share:.1%}, target {side.target:.1%}); largest class "
              f"gap {side.worst:.1%}")
    print(f"field          {args.field} on {result.dataset_name}")
    for what, path in written.items():
        print(f"{what.lstrip('-')}{' ' * (15 - len(what.lstrip('-')))}{path}")
    if not proposal.within_tolerance:
        print(f"resplit: a class is {proposal.proposed.worst:.1%} off its split's ratio (tolerance "
              f"{proposal.tolerance:.1%}); see the notes above, or raise --tolerance", file=sys.stderr)
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
    """One row per sample of the audit table ``frame`` (``id``, ``filepath``, ``split`` and ``label`` or
    ``labels``), in its order: its class (a multi-object image: its classes), group, current and proposed split."""
    out = []
    labels = frame["label"] if "label" in frame else [",".join(v) for v in frame["labels"]]
    for sid, path, label, split in zip(frame["id"], frame["filepath"], labels, frame["split"]):
        label, split = (v if isinstance(v, str) else None for v in (label, split))  # pandas 3: a missing one is nan
        new = proposal.assignment.get(sid)
        out.append({"sample_id": sid, "filepath": path, "label": label, "group": proposal.groups.get(sid),
                    "current_split": split, "proposed_split": new, "moved": split is not None and new != split})
    return out
