"""``workbench select``: the next images to label, by uncertainty and diversity, as a saved view and a CSV.

It runs the audit's file, embedding and duplicate stages and the ``selection`` check only
(:mod:`workbench.checks.selection`), writes the batch to FiftyOne (``wb_selection_rank``, the tag
``wb:next_batch``, the saved view ``wb-next-batch`` in rank order; the last audit's other findings stay)
and to ``--csv``.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from workbench.cli_options import add_source_options, bounded_float, bounded_int, positive_int
from workbench.cli_partial import PARTIAL_AUDIT_DEFAULTS, add_model_options
from workbench.errors import WorkbenchError

#: The checks ``select`` runs; every other check is skipped.
SELECT_CHECKS = ("integrity", "duplicates", "selection")


class SelectError(WorkbenchError, ValueError):
    """A selection that can't be made as asked (no embeddings, an empty pool, bad weights)."""


def add_select_parser(sub) -> None:
    s = sub.add_parser("select", help="rank unlabelled (or all) images by the probe's uncertainty and by diversity; "
                                      "the next --budget images to label as a saved view and a CSV")
    add_source_options(s, split_help="sample field holding the split (default: train/val/test tags)")
    s.add_argument("--budget", type=positive_int, default=100, help="images in the batch (default 100)")
    s.add_argument("--pool", default="unlabelled", choices=["unlabelled", "all"],
                   help="unlabelled images (default), or every image (labelled ones scored out of fold)")
    s.add_argument("--uncertainty", default="margin", choices=["margin", "entropy"],
                   help="margin: 1 - the gap between the two likeliest classes (default); entropy")
    s.add_argument("--shortlist", type=bounded_int(0, 1000), default=5,
                   help="candidates: the SHORTLIST x --budget most uncertain images, spread by diversity (default "
                        "5; 0: the whole pool)")
    s.add_argument("--w-uncertainty", type=bounded_float(0.0, 1.0), default=0.8,
                   help="weight of the probe's uncertainty (default 0.8)")
    s.add_argument("--w-diversity", type=bounded_float(0.0, 1.0), default=0.2,
                   help="weight of the distance to what is labelled or picked (default 0.2)")
    s.add_argument("--w-uniqueness", type=bounded_float(0.0, 1.0), default=0.0,
                   help="weight of how far an image sits from its nearest neighbours, as a percentile (default 0)")
    s.add_argument("--csv", metavar="PATH", help="write rank, sample id, file, label and scores here")
    s.add_argument("--report", metavar="HTML", help="write the HTML report here")
    s.add_argument("--json", metavar="PATH", help="write the JSON export here")
    add_model_options(s, allow_none=False)
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    s.set_defaults(**PARTIAL_AUDIT_DEFAULTS, near_threshold=None)


def run_select(args: argparse.Namespace) -> int:
    from workbench.cli import EXIT_OK, _write_outputs
    from workbench.cli_partial import checked_outputs, finding_or_error, partial_audit, read_options
    from workbench.render.fiftyone_app import write_back
    from workbench.io.outputs import refuse_inside_dataset

    outputs = checked_outputs(args, ("report", "json", "csv"))
    if "--csv" in outputs and outputs["--csv"].suffix.lower() != ".csv":
        raise SelectError(f"--csv {args.csv}: name a .csv file")
    options = read_options("selection", {"budget": args.budget, "pool": args.pool, "uncertainty": args.uncertainty,
                                         "w_uncertainty": args.w_uncertainty, "w_diversity": args.w_diversity,
                                         "shortlist": args.shortlist, "w_uniqueness": args.w_uniqueness}, SelectError,
                           renames={"w_uncertainty": "--w-uncertainty", "w_diversity": "--w-diversity",
                                    "w_uniqueness": "--w-uniqueness"})
    with partial_audit(args, SELECT_CHECKS, {"selection": options}, _precheck(args)) as (dataset, result):
        if result.embedding is None or result.embedding.n_computed + result.embedding.n_cached < 2:
            raise SelectError("select needs embeddings of two or more images; "
                              + (result.embedding.fallback_reason if result.embedding else "no model ran"))
        refuse_inside_dataset(outputs, dataset)
        batch = finding_or_error(result, "selection", SelectError)
        written = _write_outputs(result, {k: v for k, v in outputs.items() if k != "--csv"})
        if "--csv" in outputs:
            written["--csv"] = write_csv(batch, outputs["--csv"])
        write_back(dataset, result, only=("selection",))
    lines = batch.summary().splitlines()
    print(f"select         {lines[0]}")
    for line in lines[1:]:
        print(f"               {line}")
    for p in batch.picks[:10]:
        d = f"{p.distance:.3f}" if p.distance is not None else "  -  "
        print(f"  {p.rank:>4}  u={p.uncertainty:.2f} d={d}  {p.filepath}")
    if len(batch.picks) > 10:
        print(f"  ... {len(batch.picks) - 10} more")
    print(f"view           wb-next-batch on {result.dataset_name} (workbench app {result.dataset_name} --view "
          "wb-next-batch)")
    for what, path in written.items():
        print(f"{what.lstrip('-')}{' ' * (15 - len(what.lstrip('-')))}{path}")
    return EXIT_OK


def _precheck(args: argparse.Namespace):
    """Before the embeddings: an unlabelled pool that is empty is an input error at once."""
    def check(dataset) -> None:
        from workbench.io.table import to_table

        if args.pool != "unlabelled":
            return
        table = to_table(dataset, label_field=args.label_field, split_field=args.split_field)
        frame = table.frame
        labelled = ([isinstance(v, str) for v in frame["label"]] if table.task == "classification"
                    else [len(v or ()) > 0 for v in frame["labels"]])  # objects: an image with boxes is labelled
        if all(labelled):
            raise SelectError(f"every image of {dataset.name!r} is labelled, so the unlabelled pool is empty; "
                              "--pool all ranks the labelled images by the probe's uncertainty (in a class-folder "
                              "dataset, unlabelled images go in a folder named _unlabeled)")
    return check


def write_csv(batch, path: Path) -> Path:
    """The batch in rank order, written aside and renamed."""
    from workbench.io.outputs import replaced_atomically

    path.parent.mkdir(parents=True, exist_ok=True)
    with replaced_atomically(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["rank", "sample_id", "filepath", "label", "uncertainty", "distance", "score"])
        for p in batch.picks:
            w.writerow([p.rank, p.sample_id, p.filepath, p.label or "", f"{p.uncertainty:.6f}",
                        "" if p.distance is None else f"{p.distance:.6f}", f"{p.score:.6f}"])
    return path
