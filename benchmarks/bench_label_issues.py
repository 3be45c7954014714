"""The label-issue stage at 70,000 x 512 with 10 classes: out-of-fold probabilities + cleanlab.

The features are clustered synthetic embeddings (10 class centres, per-sample noise)
with 5% of the labels flipped, so the stage does real work and its recall can be checked.
Side by side: the project's stage, and scikit-learn's ``cross_val_predict`` with
``LogisticRegression`` (the usual way to get out-of-fold probabilities for cleanlab)
followed by the same cleanlab call.

    python -m benchmarks.bench_label_issues [--n 70000] [--dim 512] [--classes 10] [--no-peer]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def make_features(n: int, dim: int, n_classes: int, *, flip: float = 0.05, seed: int = 0):
    """``(features, given labels, true labels)`` with ``flip`` of the labels replaced by another class."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, dim)).astype(np.float32)
    truth = rng.integers(0, n_classes, n)
    x = centres[truth] * 0.15 + rng.normal(size=(n, dim)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    given = truth.copy()
    flipped = rng.choice(n, size=int(flip * n), replace=False)
    given[flipped] = (truth[flipped] + rng.integers(1, n_classes, len(flipped))) % n_classes
    return x, given, truth


def _cleanlab_stage(given: np.ndarray, probs: np.ndarray) -> np.ndarray:
    import cleanlab

    return cleanlab.filter.find_label_issues(given, probs, filter_by="prune_by_noise_rate")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=70_000)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--no-peer", action="store_true", help="skip scikit-learn's cross_val_predict")
    p.add_argument("--out", type=Path, default=ROOT / "build" / "bench" / "label-issues.json")
    args = p.parse_args(argv)
    from workbench.checks.label_issues import find_label_issues, out_of_fold_probabilities

    x, given, truth = make_features(args.n, args.dim, args.classes)
    errors = given != truth
    rows: dict[str, dict] = {}
    t = time.perf_counter()
    probs, _, acc = out_of_fold_probabilities(x, given)
    t_probs = time.perf_counter() - t
    ids = [str(i) for i in range(args.n)]
    names = [str(c) for c in range(args.classes)]
    result = find_label_issues(ids, ids, [None] * args.n, [names[g] for g in given], probs, names, method="bench")
    total = time.perf_counter() - t
    flagged = np.zeros(args.n, bool)
    flagged[[int(i.sample_id) for i in result.issues]] = True
    rows["workbench"] = {"seconds": round(total, 1), "probabilities_s": round(t_probs, 1), "oof_accuracy": round(acc, 4),
                         "flagged": int(flagged.sum()), "recall": round(float(flagged[errors].mean()), 4),
                         "precision": round(float(errors[flagged].mean()), 4)}
    if not args.no_peer:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold, cross_val_predict
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        t = time.perf_counter()
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))
        peer_probs = cross_val_predict(model, x, given, cv=StratifiedKFold(5, shuffle=True, random_state=0),
                                       method="predict_proba")
        mask = _cleanlab_stage(given, peer_probs)
        rows["sklearn cross_val_predict + cleanlab"] = {
            "seconds": round(time.perf_counter() - t, 1),
            "oof_accuracy": round(float((peer_probs.argmax(1) == given).mean()), 4), "flagged": int(mask.sum()),
            "recall": round(float(mask[errors].mean()), 4), "precision": round(float(errors[mask].mean()), 4)}
    from benchmarks.common import machine_info

    doc = {"machine": machine_info(), "n": args.n, "dim": args.dim, "classes": args.classes, "results": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(doc, indent=2))
    print(f"label-issue stage, {args.n} x {args.dim}, {args.classes} classes, 5% flipped labels")
    print("| tool | seconds | OOF accuracy | flagged | recall | precision |\n|---|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['seconds']} | {r['oof_accuracy']} | {r['flagged']} | {r['recall']} | {r['precision']} |")
    w = rows["workbench"]["seconds"]
    if len(rows) > 1:
        peer = rows["sklearn cross_val_predict + cleanlab"]["seconds"]
        print(f"ratio peer/workbench: {peer / w:.1f}x; target <= 60 s: {'met' if w <= 60 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
