"""Object-level label issues against planted ground truth: recall and precision, with and without a detector.

Data: the detection demo (``data/detection-demo``, see data/README.md), or, with ``--seed N``, a
fresh build of it with another seed (``scripts/build_detection_demo.py --seed N``) that no test or
threshold was tuned on. Its ``PLANTED.json`` lists every planted problem with the given and the true
box; the three scored here and the finding meant to catch each:

- ``swapped`` (a box with another class's label) -> ``swapped``;
- ``shifted`` (the box moved off its object, IoU with it 0.15-0.36) -> ``badly_located``;
- ``missing`` (an object pasted with no box) -> ``overlooked``.

A planted problem is *found* when the audit flags an object on the same image whose box overlaps the
planted box (the given one; for ``missing`` the true one) with IoU >= 0.5 (``--iou``), whatever kind
it says; *found as kind* also needs the intended kind. Precision: the flagged objects that match a
planted problem (any of the four kinds, duplicates included) over all flagged.

Two runs of the same audit (``workbench.audit``, write-back off, private ``mongod``):

- ``predictions``: ``--predictions <data>/predictions.json`` (a detector's COCO results; in the
  demo they are simulated from the true boxes, see data/README.md) -> cleanlab's object detection scores;
- ``crops``: no predictions: the box crops embedded and judged by their nearest crops and an
  out-of-fold classifier (``workbench.checks.object_crops``).

    .venv/bin/python -m benchmarks.bench_object_labels               # the shipped demo
    .venv/bin/python -m benchmarks.bench_object_labels --seed 7      # a held-out build
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

from benchmarks import common

log = logging.getLogger("bench_object_labels")
REPO = common.REPO
DEMO = REPO / "data" / "detection-demo"
#: Planted kind -> the finding meant to catch it.
TARGET = {"swapped": "swapped", "shifted": "badly_located", "missing": "overlooked"}


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    """IoU of two ``(x, y, w, h)`` boxes in the same units."""
    from workbench.checks.box_match import iou

    return iou(tuple(a), tuple(b))


def score(flagged: Sequence[dict], planted: Sequence[dict], *, min_iou: float = 0.5) -> dict[str, Any]:
    """Recall per planted kind and precision over everything flagged.

    ``flagged``: ``{"file": relative name, "box": (x, y, w, h) in pixels, "kind"}``; ``planted``: the
    manifest's entries. Each flagged object counts for at most one planted problem (its best IoU).

    Example:
        >>> p = [{"file_name": "a.jpg", "kind": "swapped", "given_bbox": [0, 0, 10, 10], "true_bbox": [0, 0, 10, 10]}]
        >>> s = score([{"file": "a.jpg", "box": (1, 0, 10, 10), "kind": "swapped"}], p)
        >>> s["recall"]["swapped"], s["precision"]
        (1.0, 1.0)
    """
    def target_box(entry: dict) -> Sequence[float]:
        return entry["true_bbox"] if entry["given_bbox"] is None else entry["given_bbox"]

    found, as_kind, true_flags = Counter(), Counter(), 0
    hit: set[int] = set()
    for f in flagged:
        best, best_iou = None, min_iou
        for n, entry in enumerate(planted):
            if entry["file_name"] == f["file"]:
                overlap = _iou(f["box"], target_box(entry))
                if overlap >= best_iou:
                    best, best_iou = n, overlap
        if best is None:
            continue
        true_flags += 1
        entry = planted[best]
        if best not in hit:
            hit.add(best)
            found[entry["kind"]] += 1
        if TARGET.get(entry["kind"]) == f["kind"]:
            as_kind[entry["kind"]] += 1
    totals = Counter(e["kind"] for e in planted)
    scored = [k for k in TARGET if totals[k]]
    n_target = sum(totals[k] for k in scored)
    return {
        "planted": dict(totals), "found": dict(found), "found_as_kind": dict(as_kind),
        "recall": {k: found[k] / totals[k] for k in scored},
        "recall_as_kind": {k: min(as_kind[k], totals[k]) / totals[k] for k in scored},
        "recall_all": sum(found[k] for k in scored) / n_target if n_target else None,
        "flagged": len(flagged), "flagged_on_planted": true_flags,
        "precision": true_flags / len(flagged) if flagged else None,
        "flagged_by_kind": dict(Counter(f["kind"] for f in flagged)),
    }


def flagged_objects(result: Any, data: Path, sizes: dict[str, tuple[int, int]]) -> list[dict]:
    """The object-label issues of an audit, as relative file names and pixel boxes."""
    finding = result.findings.get("object_labels")
    if finding is None:
        status = result.check("object_labels")
        raise SystemExit(f"object_labels did not run: {status.state if status else 'absent'} "
                         f"{status.reason if status else ''}")
    root = (data / "data").resolve()
    out = []
    for issue in finding.issues:
        rel = str(Path(issue.filepath).resolve().relative_to(root))
        w, h = sizes[rel]
        x, y, bw, bh = issue.box
        out.append({"file": rel, "box": (x * w, y * h, bw * w, bh * h), "kind": issue.kind, "score": issue.score})
    return out


def build_heldout(seed: int, workdir: Path) -> Path:
    out = workdir / f"detection-demo-{seed}"
    subprocess.run([sys.executable, str(REPO / "scripts" / "build_detection_demo.py"), "--out", str(out),
                    "--seed", str(seed), "--force"], check=True)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=None, help="build a held-out demo with this seed")
    parser.add_argument("--data", type=Path, default=None, help="a detection demo folder (default: the shipped one)")
    parser.add_argument("--modes", default="predictions,crops")
    parser.add_argument("--iou", type=float, default=0.5)
    parser.add_argument("--workdir", type=Path, default=REPO / "build" / "bench")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    args.workdir.mkdir(parents=True, exist_ok=True)
    data = args.data or (build_heldout(args.seed, args.workdir) if args.seed is not None else DEMO)
    manifest = json.loads((data / "PLANTED.json").read_text(encoding="utf-8"))
    labels = json.loads((data / "labels.json").read_text(encoding="utf-8"))
    sizes = {im["file_name"]: (im["width"], im["height"]) for im in labels["images"]}
    planted = manifest["planted"]
    report: dict[str, Any] = {"machine": common.machine_info(["workbench", "cleanlab", "torch", "fiftyone"]),
                              "data": str(data), "seed": manifest.get("seed"), "iou": args.iou, "modes": {}}
    with common.private_mongod() as mongo:
        os.environ.update(mongo.env())
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import workbench

        dataset = workbench.load(data, "coco", name=f"bench-object-labels-{os.getpid()}")
        for mode in args.modes.split(","):
            cfg = workbench.AuditConfig(predictions=str(data / "predictions.json") if mode == "predictions" else None)
            result = workbench.audit(dataset, cfg, write_back=False, progress=False)
            flagged = flagged_objects(result, data, sizes)
            scored = score(flagged, planted, min_iou=args.iou)
            scored["seconds"] = result.timings.get("object_labels")
            report["modes"][mode] = scored
            log.info("%s: %s", mode, json.dumps({k: scored[k] for k in ("recall", "recall_all", "precision",
                                                                       "flagged", "flagged_by_kind")}))
        dataset.delete()
    rows = [[mode, *(f"{s['found'].get(k, 0)}/{s['planted'][k]} ({s['found_as_kind'].get(k, 0)} as kind)"
                     for k in TARGET), f"{s['recall_all']:.2f}", f"{s['precision']:.2f}" if s["precision"] is not None
             else "-", s["flagged"]] for mode, s in report["modes"].items()]
    print(common.markdown_table(["path", "swapped", "shifted", "missing", "recall", "precision", "flagged"], rows))
    out = args.out or args.workdir / f"object-labels-{manifest.get('seed')}.json"
    common.write_json(out, report)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
