"""Write the curated notebooks in ``notebooks/`` from the cell sources below.

The notebooks are committed without outputs, with the ``python3`` kernelspec and stable
cell ids, so a re-run of this script changes a notebook only when its text changed.
Edit the cells here, then run::

    .venv/bin/python scripts/make_notebooks.py          # write notebooks/*.ipynb
    .venv/bin/python scripts/make_notebooks.py --check  # exit 1 if a notebook differs

Every notebook runs top to bottom from ``notebooks/`` on the shipped demo data
(``data/demo/fashion-mnist``); ``tests/test_notebooks.py`` executes them.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from textwrap import dedent

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"

KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}


def md(text: str) -> tuple[str, str]:
    return "markdown", dedent(text).strip("\n")


def code(text: str) -> tuple[str, str]:
    return "code", dedent(text).strip("\n")


# The first cell of every notebook: load the demo, audit it (the embedding cache makes
# every audit after the first one fast), and name the planted issues for the checks.
SETUP = code('''
    import json
    from pathlib import Path

    import pandas as pd

    import workbench

    DEMO = Path("../data/demo/fashion-mnist").resolve()
    PLANTED = json.loads((DEMO.parent / "PLANTED.json").read_text())  # the issues planted in the demo, file by file


    def demo_path(relative: str) -> str:
        """Absolute path of a demo file named as in PLANTED.json (FiftyOne stores absolute paths)."""
        return str(DEMO / relative)


    def rel(filepath: str) -> str:
        """A demo file's path relative to the demo folder, for readable tables."""
        return str(Path(filepath).relative_to(DEMO))


    pd.set_option("display.max_colwidth", 80)
    dataset = workbench.load(DEMO, name="workbench-demo")
    result = workbench.audit(dataset, progress=False)
    print(workbench.text_summary(result))
''')

SHOW_IMAGES = code('''
    import matplotlib.pyplot as plt
    from PIL import Image


    def show_images(filepaths, titles, *, ncols=6, size=1.8):
        """A grid of images with a title under each (enough to eyeball 28x28 thumbnails)."""
        nrows = max(1, -(-len(filepaths) // ncols))
        fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * size, nrows * (size + 0.5)), squeeze=False)
        for ax in axes.flat:
            ax.axis("off")
        for ax, path, title in zip(axes.flat, filepaths, titles):
            ax.imshow(Image.open(path).convert("L"), cmap="gray")
            ax.set_title(title, fontsize=8)
        plt.tight_layout()
        plt.show()
''')


NOTEBOOKS: dict[str, list[tuple[str, str]]] = {}

NOTEBOOKS["01_load_and_overview"] = [
    md('''
        # 1. Load a dataset and read the audit overview

        This notebook loads the shipped demo dataset into FiftyOne, audits it, and walks
        through the overview: what ran, which embedding model was used, and what was written
        back to FiftyOne. The other notebooks each take one finding further:

        | Notebook | Task |
        | --- | --- |
        | `02_duplicates_and_leakage` | remove exact duplicates, fix train/test leaks, tune the near-duplicate threshold |
        | `03_label_issues` | read cleanlab's label-quality scores, find the flipped labels |
        | `04_bias_and_imbalance` | class balance, readiness per class, split shift, label × attribute bias |
        | `05_review_in_fiftyone_app` | open the FiftyOne App, mark findings, re-audit with the marks |
        | `06_export_the_report` | the HTML report, the JSON export for CI, the full result round trip |

        **The demo data** (`data/demo/fashion-mnist`, see `data/README.md`) is 1,390 Fashion-MNIST
        images (28×28, 10 classes) in `train/<class>/` and `test/<class>/` folders, with problems
        planted on purpose and listed file by file in `data/demo/PLANTED.json`: 2 broken files,
        6 exact and 6 near duplicates, 10 train/test leaks (2 with a different label on each side),
        20 flipped labels and a rare class. Each notebook checks its findings against that list
        with a light `assert`, so a silent regression fails the run.

        Run the notebooks from this folder (`.venv/bin/jupyter lab notebooks/`). The first audit
        embeds every image (about a minute on two CPU cores); the embeddings are cached on disk,
        keyed by file content, so every later audit, in any notebook, reuses them.
    '''),
    code('''
        import json
        from pathlib import Path

        import pandas as pd

        import workbench

        DEMO = Path("../data/demo/fashion-mnist").resolve()
        PLANTED = json.loads((DEMO.parent / "PLANTED.json").read_text())  # the issues planted in the demo, file by file


        def demo_path(relative: str) -> str:
            """Absolute path of a demo file named as in PLANTED.json (FiftyOne stores absolute paths)."""
            return str(DEMO / relative)


        def rel(filepath: str) -> str:
            """A demo file's path relative to the demo folder, for readable tables."""
            return str(Path(filepath).relative_to(DEMO))


        pd.set_option("display.max_colwidth", 80)
        dataset = workbench.load(DEMO, name="workbench-demo")
        dataset
    '''),
    md('''
        `workbench.load` detected the `class/image` folder layout and imported it with FiftyOne's
        own importer into a **persistent** dataset named `workbench-demo`: loading again reuses
        it (new files are added, vanished ones removed, your tags and fields kept). The class
        is in the `ground_truth` field and the split (`train`, `test`) is a sample tag,
        FiftyOne's convention. workbench never writes, moves or deletes the image files.
    '''),
    code('''
        splits = {tag: n for tag, n in dataset.count_sample_tags().items() if tag in ("train", "val", "test")}
        assert splits == {split: sum(counts.values()) for split, counts in PLANTED["counts"].items()}
        print(splits)
        pd.Series(dataset.count_values("ground_truth.label")).sort_index().rename("images").to_frame().T
    '''),
    md('''
        ## Audit

        `workbench.audit` reads and hashes every file, embeds every readable image, builds one
        k-nearest-neighbour graph over the embeddings, and runs every check on it: file
        problems, duplicates, leakage, label issues, class balance and bias. It returns an
        `AuditResult` (frozen, typed, JSON-serialisable) and writes the findings back to the
        FiftyOne dataset. `progress=True` shows progress bars while it embeds.

        On these machines the CLIP weights can't be downloaded, so the default embedder
        **falls back, loudly**, to ImageNet EfficientNet-Lite0: the warning below, the
        summary, the report and the JSON all say so. Nothing is silently replaced.
    '''),
    code('''
        result = workbench.audit(dataset, progress=True)
        print(workbench.text_summary(result))
    '''),
    md('''
        **How to read the summary.** One line per finding; each has its own notebook:

        - *embeddings*: the model actually used, how many images were computed or taken from the cache, and the fallback reason if any;
        - *file problems*: files that are missing, empty or can't be decoded (every other check skips them);
        - *duplicates*: clusters of the same picture, exact (same bytes) or near (embedding distance ≤ the threshold);
        - *leaks*: duplicates that sit in two splits, so the test set contains training images;
        - *label issues*: samples whose label disagrees with what the rest of the data predicts for them;
        - *balance* and *split shift*: how many images each class has, and whether train and test have the same class mix.

        Every check reports whether it **ran**, was **skipped** because its inputs are absent
        (e.g. label issues on a dataset without labels) or **failed** (with the error); the
        other checks still run.
    '''),
    code('''
        checks = pd.DataFrame([{"check": c.name, "state": c.state, "reason": c.reason, "seconds": c.seconds}
                               for c in result.checks])
        assert (checks.state == "ran").all(), checks
        assert result.embedding.trained and result.embedding.n_failed == 0
        print("embedding model:", result.embedding.model_id, f"({result.embedding.dim} dims)")
        if result.embedding.is_fallback:
            print("fallback:", result.embedding.fallback_reason)
        checks
    '''),
    md('''
        ## File problems

        A file that can't be read is useless for training and often a sign of a broken
        copy or download. workbench reads each file once (hash, header, full decode with
        Pillow) and lists those that fail. **What to do:** re-copy or re-download them, or
        delete them from your dataset; they are excluded from every other check.
    '''),
    code('''
        problems = result.integrity.to_frame()
        assert set(problems.filepath) == {demo_path(b["path"]) for b in PLANTED["bad_files"]}
        problems.assign(file=problems.filepath.map(rel))[["file", "kind", "message"]]
    '''),
    md('''
        ## What was written back to FiftyOne

        The audit stored its findings on the samples (only `wb_` fields and `wb:` tags, so
        they never clash with yours), saved one view per finding, and recorded the run
        (time, counts, model, config, versions) in `dataset.info["workbench"]["runs"]`.
        Each audit replaces the previous run's findings; review marks (`wb:reviewed:*`,
        notebook 05) are kept. In the FiftyOne App, pick a saved view (e.g. `wb-leaks`) in
        the view bar to see exactly the flagged samples.
    '''),
    code('''
        views = {name: len(dataset.load_saved_view(name)) for name in dataset.list_saved_views()
                 if name.startswith("wb-")}
        assert views["wb-leaks"] == len(result.leakage.leaked_ids)
        assert views["wb-file-problems"] == len(PLANTED["bad_files"])
        run = dataset.info["workbench"]["runs"][-1]
        assert run["counts"] == result.counts()
        print("saved views:", views)
        print("finding tags:", {t: n for t, n in dataset.count_sample_tags().items() if t.startswith("wb:")})
        print("last run:", run["created_at"], run["counts"])
    '''),
    md('''
        ## The overview panel

        The same overview as an interactive panel: summary cards, the embedding model (with
        the fallback warning), the state and time of each check. `workbench.show(result,
        dataset=dataset)` puts every panel in one set of tabs.
    '''),
    code('''
        import workbench.panels

        workbench.panels.overview_panel(result)
    '''),
]

NOTEBOOKS["02_duplicates_and_leakage"] = [
    md('''
        # 2. Duplicates and train/test leakage

        **What the findings mean.**

        - An **exact duplicate** is the same file content twice (same sha256). It over-weights
          that image in training and wastes labelling effort.
        - A **near duplicate** is the same picture after a small change (re-encoding, brightness,
          a 1-pixel shift, resizing): its embedding is within a cosine distance threshold of
          the other's.
        - A **leak** is a duplicate whose copies sit in different splits: the model is then
          tested on images it was trained on, and the test score is too optimistic. A leak with
          **different labels** on its two sides means at least one of the labels is wrong.

        Duplicates are grouped into **clusters** (connected components of duplicate links).
    '''),
    SETUP,
    md('''
        ## Read the duplicate clusters

        `result.duplicates.to_frame()` has one row per duplicated sample, in cleanlab's column
        contract: `is_duplicate_issue` and `duplicate_score` (0 for an exact copy; for a near
        copy it grows with the distance, 0.5 at the threshold). `cluster_id` groups the
        copies; `label_conflict` says the copies carry different labels.
    '''),
    code('''
        dups = result.duplicates.to_frame()
        dups["file"] = dups.filepath.map(rel)
        clusters = dups.groupby("cluster_id").agg(kind=("kind", "first"), size=("sample_id", "size"),
                                                 splits=("split", lambda s: "/".join(sorted(set(s)))),
                                                 label_conflict=("label_conflict", "first"), files=("file", list))
        clusters["max_distance"] = [c.max_distance for c in result.duplicates.clusters]
        n_exact = (clusters.kind == "exact").sum()
        print(f"{len(clusters)} clusters ({n_exact} exact, {len(clusters) - n_exact} near), "
              f"{result.duplicates.n_redundant} redundant samples, threshold {result.duplicates.near_threshold}")
        clusters
    '''),
    md('''
        Every planted copy must be in a cluster with its original:
    '''),
    code('''
        cluster_sets = [set(c.filepaths) for c in result.duplicates.clusters]
        for group in PLANTED["exact_duplicates"]:
            members = {demo_path(group["original"]), *map(demo_path, group["copies"])}
            assert any(members <= c for c in cluster_sets), group
        for pair in PLANTED["near_duplicates"]:
            assert any({demo_path(pair["original"]), demo_path(pair["copy"])} <= c for c in cluster_sets), pair
        print("all", len(PLANTED["exact_duplicates"]), "exact and", len(PLANTED["near_duplicates"]),
              "near planted duplicates found")
    '''),
    md('''
        ## What to do: remove exact duplicates

        For each exact cluster, keep one copy and drop the rest. A good rule: keep the
        training copy (so a leaked test copy is the one dropped), then the shortest file name
        (usually the original). Below, the result is a FiftyOne **view** that excludes the
        redundant copies: train on it or export it; workbench never deletes your files.

        Near duplicates need a look before you drop them: some are the same picture
        re-encoded, others two different but indistinguishable items (see the threshold
        section below).
    '''),
    code('''
        exact = dups[dups.kind == "exact"]
        ranked = exact.assign(not_train=exact.split != "train", name_length=exact.file.str.len()) \\
                      .sort_values(["cluster_id", "not_train", "name_length"])
        keep = ranked.groupby("cluster_id").head(1)
        redundant = ranked.drop(keep.index)
        deduplicated = dataset.exclude(redundant.sample_id.tolist())

        planted_copies = {demo_path(c) for g in PLANTED["exact_duplicates"] for c in g["copies"]}
        assert planted_copies <= set(redundant.filepath), "a planted copy would be kept instead of its original"
        print(f"{len(dataset)} samples -> {len(deduplicated)} after dropping {len(redundant)} exact copies")
        redundant[["file", "split", "label", "cluster_id"]]
    '''),
    md('''
        ## Leakage

        `result.leakage.to_frame()` has one row per pair of copies in different splits, the
        training side first (`_a`), the other split second (`_b`), with the distance and
        whether the labels conflict.
    '''),
    code('''
        leaks = result.leakage.to_frame()
        found = {frozenset(pair) for pair in zip(leaks.filepath_a, leaks.filepath_b)}
        planted_leaks = {frozenset((demo_path(leak["train"]), demo_path(leak["test"]))) for leak in PLANTED["leaks"]}
        assert planted_leaks <= found, planted_leaks - found
        assert (leaks.distance <= result.duplicates.calibration.loose).all()  # never beyond the loose threshold
        assert leaks.evidence.map(bool).all()  # each pair says what linked it
        conflicts = leaks[leaks.label_conflict]
        assert {frozenset(p) for p in zip(conflicts.filepath_a, conflicts.filepath_b)} == \\
            {frozenset((demo_path(l["train"]), demo_path(l["test"]))) for l in PLANTED["leaks"] if l["label_conflict"]}
        leaks["planted"] = [frozenset(pair) in planted_leaks for pair in zip(leaks.filepath_a, leaks.filepath_b)]
        print(f"{len(leaks)} leaks, {len(conflicts)} with conflicting labels; "
              f"all {len(planted_leaks)} planted leaks found")
        columns = ["train_file", "label_a", "split_b", "other_file", "label_b", "kind", "distance", "label_conflict",
                   "planted"]
        leaks.assign(train_file=leaks.filepath_a.map(rel), other_file=leaks.filepath_b.map(rel))[columns]
    '''),
    md('''
        **How to read it.** The `exact` rows are byte-for-byte copies of training images in
        the test split. The planted `near` rows are re-encoded, shifted or brightened copies.
        The two rows with `label_conflict` are the same picture labelled differently on each
        side: one of the two labels is wrong, so fix it (notebook 03) as well as the split.
        The rows that are not planted are different Fashion-MNIST garments so alike that the
        embedding can't tell them apart at this threshold; look at them before acting.
    '''),
    SHOW_IMAGES,
    code('''
        unplanted = leaks[~leaks.planted]
        pairs = list(zip(unplanted.filepath_a, unplanted.filepath_b, unplanted.distance))
        show_images([p for a, b, _ in pairs for p in (a, b)],
                    [t for a, b, d in pairs for t in (f"train: {Path(a).name}", f"test: {Path(b).name} (d={d:.3f})")])
    '''),
    md('''
        ## What to do: move leaked samples, or split by source

        1. **Move leaked samples.** The quickest fix: take the test copy of each leak out of
           the test set (or move the pair into train). The view below is the test set
           without its leaked samples; evaluate on it to see how much the leak inflated your
           score.
        2. **Split by source.** Leaks come back whenever a split is drawn sample by sample
           from data that holds several pictures of one thing. Split by *group* instead, so
           all pictures of one source (product, patient, camera session, video) land in the
           same split. With no source field, the duplicate clusters are a usable grouping:
           below, scikit-learn's `StratifiedGroupKFold` draws a new 80/20 split that keeps
           the class mix and never separates a cluster.
    '''),
    code('''
        leaked_test = [sid for sid, split in zip(leaks.sample_id_b, leaks.split_b) if split == "test"]
        test_without_leaks = dataset.match_tags("test").exclude(leaked_test)
        print(f"test split: {len(dataset.match_tags('test'))} samples, {len(test_without_leaks)} without leaked copies")
    '''),
    code('''
        from sklearn.model_selection import StratifiedGroupKFold

        art = result.artifacts  # the audit's table rows, embeddings and k-NN graph, in memory
        cluster_of = dict(zip(dups.sample_id, dups.cluster_id))
        groups = [f"cluster-{cluster_of[sid]}" if sid in cluster_of else sid for sid in art.sample_ids]
        labels = [label or "?" for label in art.labels]
        train_rows, test_rows = next(StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=0)
                                     .split(art.sample_ids, labels, groups))
        new_split = pd.Series("train", index=list(art.sample_ids))
        new_split.iloc[test_rows] = "test"

        splits_per_cluster = dups.sample_id.map(new_split).groupby(dups.cluster_id).nunique()
        assert (splits_per_cluster == 1).all(), "a duplicate cluster was split across train and test"
        print(new_split.value_counts().to_dict(), "- no duplicate cluster spans both splits")
    '''),
    md('''
        ## Tune the near-duplicate threshold without re-embedding

        The audit calibrated its rule on copies of this dataset's own images (see the README's "Near
        duplicates" section): a strict embedding threshold, and a loose one where a second signal
        (thumbnails, perceptual hashes) must confirm. `result.duplicates.calibration` holds it, with the
        expected recall per edit. Because the audit keeps its k-NN graph (`result.artifacts`),
        `workbench.checks.duplicates.refilter(result.artifacts, t)` recomputes duplicates and leaks under one
        plain threshold `t` (or the calibrated rule) in milliseconds: nothing is embedded or searched again.
    '''),
    code('''
        from workbench.checks.duplicates import refilter

        rows = []
        for t in sorted({0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.08, 0.10, result.duplicates.near_threshold}):
            d, lk = refilter(result.artifacts, t)
            pairs = {frozenset((p.filepath_a, p.filepath_b)) for p in lk.pairs}
            rows.append({"threshold": t, "clusters": len(d.clusters), "redundant samples": d.n_redundant,
                         "leaks": len(lk.pairs), "planted leaks found": len(pairs & planted_leaks),
                         "other leaks": len(pairs - planted_leaks)})
        sweep = pd.DataFrame(rows).set_index("threshold")

        cal = result.duplicates.calibration
        print(f"calibrated: strict {cal.strict:.4f}, loose {cal.loose:.4f} with thumbnails >= {cal.thumb:.2f}; "
              f"expected recall {dict(cal.recall)}")
        same_dups, same_leaks = refilter(result.artifacts, cal.rule(), calibration=cal)
        assert same_dups == result.duplicates and same_leaks == result.leakage  # same graph, same rule, same answer
        sweep
    '''),
    md('''
        **How to read the sweep.** At 0 only exact copies remain. Raising the threshold finds
        the transformed copies (the shifted trouser is the farthest planted copy, at about
        0.05), and past it more and more pairs of *different* garments are linked. On tiny
        28×28 images no threshold separates the two perfectly; on your data, pick the
        threshold where the "other" pairs you inspect stop being real copies, and pass it to
        the audit as `AuditConfig(near_duplicate_threshold=...)` or `--near-threshold`.

        ## The duplicates panel

        The slider re-filters the cached neighbour graph the same way; each cluster shows
        its thumbnails with split and label. Pass `session=` (notebook 05) to open a cluster
        in the FiftyOne App.
    '''),
    code('''
        import workbench.panels

        workbench.panels.duplicates_panel(result, dataset=dataset)
    '''),
]

NOTEBOOKS["03_label_issues"] = [
    md('''
        # 3. Likely label errors

        **What the finding means.** For every labelled image, workbench gets an
        *out-of-fold* predicted probability per class: a logistic regression on the image
        embeddings, trained 5 times, each time on the other four fifths of the data, so no
        image is scored by a model that saw it. cleanlab's confident learning then flags the
        images whose given label is unlikely given those probabilities
        (`cleanlab.filter.find_label_issues`) and scores every image's label quality
        (`cleanlab.rank.get_label_quality_scores`, in [0, 1], **low = suspicious**). The
        suggested label is the class the model finds most likely.

        A flag is a *candidate* for review, not a verdict: its precision depends on how good
        the probe is.
    '''),
    SETUP,
    md('''
        ## How good is the probe?

        The out-of-fold accuracy says how much to trust the flags. About 80% on 28×28
        Fashion-MNIST with ImageNet features means many flags will be genuinely confusable
        classes (shirt vs T-shirt vs pullover vs coat), not wrong labels.
    '''),
    code('''
        li = result.label_issues
        print(li.method)
        print(f"out-of-fold accuracy {li.cv_accuracy:.1%}; {len(li.issues)} of {len(li.sample_ids)} "
              f"samples flagged ({li.issue_rate:.1%})")
        per_class = pd.DataFrame([{"class": c.label, "assessed": c.n_assessed, "flagged": c.n_issues,
                                   "rate": round(c.rate, 3)} for c in li.per_class]).set_index("class")
        per_class.sort_values("rate", ascending=False)
    '''),
    md('''
        ## Read the flagged samples

        `result.label_issues.to_frame()` covers every assessed sample in cleanlab's contract:
        `is_label_issue`, `label_score` (low = likely wrong) and `predicted_label`. The
        `issues` themselves carry the given and suggested labels and the probe's confidence
        in its suggestion; they are ranked worst first.
    '''),
    code('''
        frame = result.label_issues.to_frame()
        assert frame.is_label_issue.sum() == len(li.issues)
        assert frame.label_score.between(0, 1).all()
        issues = pd.DataFrame([{"sample_id": i.sample_id, "file": rel(i.filepath), "split": i.split,
                                "given": i.given_label, "suggested": i.suggested_label,
                                "label_score": i.score, "confidence": i.suggested_confidence}
                               for i in li.issues])
        issues.head(15)
    '''),
    md('''
        The top of the list mixes planted flips with two other kinds of real problems: the
        test copy of a leak whose two copies carry different labels (notebook 02), and
        genuine label noise in Fashion-MNIST itself. Below, the worst 18 with their given and
        suggested labels:
    '''),
    SHOW_IMAGES,
    code('''
        worst = li.issues[:18]
        show_images([i.filepath for i in worst], [f"{i.given_label} -> {i.suggested_label}" for i in worst])
    '''),
    md('''
        ## Check: the planted label flips are found

        The demo has 20 images moved into a wrong class folder. At least 80% of them must be
        flagged, and for most the suggestion must be the true class.
    '''),
    code('''
        flagged = {i.filepath: i for i in li.issues}
        flips = pd.DataFrame([{"file": f["path"], "given": f["given_label"], "true": f["true_label"],
                               "flagged": demo_path(f["path"]) in flagged,
                               "suggested": getattr(flagged.get(demo_path(f["path"])), "suggested_label", None)}
                              for f in PLANTED["flipped_labels"]])
        hits = flips[flips.flagged]
        assert len(hits) >= 0.8 * len(flips), f"only {len(hits)} of {len(flips)} flipped labels flagged"
        n_right = (hits.suggested == hits.true).sum()
        assert n_right >= 0.7 * len(hits), f"the true class is suggested for only {n_right} of {len(hits)}"
        print(f"{len(hits)} of {len(flips)} flips flagged, {n_right} with the true class suggested")
        flips
    '''),
    md('''
        **Review the confident ones first.** A flipped label is usually flagged with a
        confident suggestion (a bag labelled *Coat* looks nothing like a coat), while
        confusable garments get a hesitant one. Keeping only the confident suggestions
        shortens the review list much faster than it loses real errors:
    '''),
    code('''
        planted_paths = {demo_path(f["path"]) for f in PLANTED["flipped_labels"]}
        issues["planted flip"] = [demo_path(f) in planted_paths for f in issues.file]
        by_confidence = pd.DataFrame([{"suggestion confidence ≥": c, "flagged": int(kept.sum()),
                                       "planted flips among them": int(issues["planted flip"][kept].sum())}
                                      for c in (0.0, 0.5, 0.7, 0.9) for kept in [issues.confidence >= c]])
        by_confidence
    '''),
    md('''
        ## What to do

        - **Fix labels at the source** (your annotation tool or folder layout), then re-audit.
          workbench never relabels a sample; it only writes the score, the flag and the
          suggestion (`wb_label_score`, `wb_is_label_issue`, `wb_suggested_label`) for review.
        - **Mark what you reviewed**: `workbench.mark_samples(dataset, ids, "confirmed")` for a
          real error, `"not_error"` for a false alarm (or the buttons in the panel below).
          Marks survive re-audits and show up in `result.reviews` (notebook 05).
        - **Don't drop every flagged image**: here most flags are hard examples of
          confusable classes, and removing them would make the model worse at exactly those.
        - **Get fewer false alarms** with a stronger embedding (CLIP, `--clip-checkpoint`) or
          your own model's out-of-sample predictions
          (`AuditConfig(predictions="preds.csv")` / `--predictions`).

        ## The label-issues panel

        Worst first, with the given and suggested label; the buttons mark a sample
        *confirmed* or *not an error* on the dataset.
    '''),
    code('''
        import workbench.panels

        workbench.panels.label_issues_panel(result, dataset=dataset)
    '''),
]

NOTEBOOKS["04_bias_and_imbalance"] = [
    md('''
        # 4. Class imbalance and bias

        Three questions, three parts of the result:

        - **Balance** (`result.balance`): does every class have enough images, and is the
          rarest class at least 10% the size of the most common one (a common rule of
          thumb)?
        - **Split shift** (`result.bias.split_shifts`): do train and test have the same class
          mix, so the test score means what you think?
        - **Attribute bias** (`result.bias.attributes`): is the label associated with an
          incidental attribute (image size, aspect ratio, file format, any low-cardinality
          sample field)? A model can learn such a shortcut instead of the object.
    '''),
    SETUP,
    md('''
        ## Class balance

        `result.balance.to_frame()` is the count per class (rows) and split (columns). The
        ratio and the readiness levels are judged on the training split.
    '''),
    code('''
        bal = result.balance
        counts = bal.to_frame()
        assert counts.to_dict() == PLANTED["counts"]
        print(f"smallest/largest class on {bal.basis}: {bal.imbalance_ratio:.2f} "
              f"({bal.rarest} vs {bal.most_common}); rule: at least {bal.min_ratio:.0%}")
        assert bal.below_ratio == (PLANTED["rare_class"]["label"],)
        counts.assign(total=counts.sum(axis=1)).sort_values("train")
    '''),
    md('''
        **Readiness** compares each class's training images with a yardstick for transfer
        learning (classification: 100 minimum, 500 good, 5,000 excellent; `AuditConfig.readiness`
        changes it) and says how many more images reach the next level.
    '''),
    code('''
        readiness = pd.DataFrame([{"class": r.label, "images": r.count, "level": r.level,
                                   "next level": r.next_level, "images needed": r.needed_for_next}
                                  for r in bal.readiness]).set_index("class")
        assert readiness.loc[PLANTED["rare_class"]["label"], "level"] == "below minimum"
        readiness.sort_values("images")
    '''),
    md('''
        **What to do about a rare class**, best first: collect more images of it (the table
        says how many); if you can't, weight the loss or oversample it during training (the
        weights below are scikit-learn's "balanced" weights, inverse to frequency); make sure
        the test split has enough of it to measure (here only 5 test images: one mistake
        moves its recall by 20 points); or merge it with a related class or drop it if it
        isn't needed.
    '''),
    code('''
        import numpy as np
        from sklearn.utils.class_weight import compute_class_weight

        train_counts = counts["train"]
        classes = np.array(train_counts.index)
        y = np.repeat(classes, train_counts.values)
        weights = pd.Series(compute_class_weight("balanced", classes=classes, y=y), index=classes, name="loss weight")
        assert weights.idxmax() == bal.rarest
        weights.round(2).sort_values(ascending=False).to_frame().T
    '''),
    md('''
        ## Split shift

        For each split against train: the Jensen–Shannon divergence of the two class
        distributions (0 = identical, 1 = disjoint), a χ² test, **Cramér's V** (the strength
        of the split × class association: below 0.1 negligible, 0.1 weak, 0.3 moderate, 0.5
        strong) and the classes whose share differs most. The demo's test set was drawn
        with the same class mix, so the shift is negligible. A large shift means the test
        score is an average over a different mix than training's: re-draw the split
        stratified by class (and grouped by source, notebook 02).
    '''),
    code('''
        shifts = pd.DataFrame([{"splits": f"{s.split_a} vs {s.split_b}", "JS divergence": s.js_divergence,
                                "chi2": s.chi2, "p": s.p_value, "Cramér's V": s.cramers_v,
                                "largest share gaps": ", ".join(f"{c} {g:+.3f}" for c, g in s.largest_gaps),
                                "missing classes": ", ".join(s.missing_in_b)} for s in result.bias.split_shifts])
        assert len(shifts) == 1 and result.bias.split_shifts[0].cramers_v < 0.1
        shifts
    '''),
    md('''
        ## Labels × attributes

        For every attribute with 2–30 values, the labels are cross-tabulated against it and
        Cramér's V says how strongly they are associated. Attributes with a single value are
        skipped with the reason (all demo images are 28×28, so size and aspect ratio say
        nothing). The demo's only other attribute is the file format: one planted near
        duplicate is a JPEG, in class *Dress*; with one image the association is negligible.
        On real data, a **strong** association (say, every night-time photo is of one class,
        or one class was collected at another resolution) is a shortcut a model will learn:
        collect the missing combinations, or normalise the attribute away (resize, re-encode)
        before training.
    '''),
    code('''
        assoc = pd.DataFrame([{"attribute": a.attribute, "levels": a.n_levels, "Cramér's V": a.cramers_v,
                               "strength": a.strength, "p": a.p_value} for a in result.bias.attributes])
        skipped = pd.DataFrame(result.bias.skipped_attributes, columns=["attribute", "skipped because"])
        assert {"image_size", "aspect_ratio"} <= set(skipped.attribute)
        assert all(a.strength in ("negligible", "weak") for a in result.bias.attributes)
        display(assoc, skipped)
        for a in result.bias.attributes:
            display(pd.DataFrame(a.table).fillna(0).astype(int).rename_axis(f"label × {a.attribute}"))
    '''),
    md('''
        ## The bias panel

        Class counts per split, the split-shift statistics and the attribute breakdowns,
        as interactive charts.
    '''),
    code('''
        import workbench.panels

        workbench.panels.bias_panel(result)
    '''),
]

NOTEBOOKS["05_review_in_fiftyone_app"] = [
    md('''
        # 5. Review in the FiftyOne App, mark findings, re-audit

        Findings are candidates; a person decides. The review loop:

        1. audit, which writes fields, tags and saved views to the FiftyOne dataset;
        2. look at the flagged samples in the FiftyOne App (or the panels);
        3. mark each one **confirmed** (a real problem) or **not an error** (a false alarm):
           the tags `wb:reviewed:confirmed` / `wb:reviewed:not_error`, set from code, from the
           panels, or by hand in the App;
        4. re-audit: the marks survive, and `result.reviews` tells every renderer (panels,
           report) what was already reviewed. Marking never relabels a sample.
    '''),
    SETUP,
    md('''
        Start from a clean slate so this notebook gives the same answer every time it runs
        (`None` clears a mark):
    '''),
    code('''
        workbench.mark_samples(dataset, list(workbench.read_marks(dataset)), None)
        assert not workbench.read_marks(dataset)
    '''),
    md('''
        ## Open the App

        `workbench.review(result)` opens the FiftyOne App on the first non-empty saved view
        (label issues, then leaks, duplicates, file problems) and returns the session.

        - **In your own Jupyter**, `session = workbench.review(result, dataset=dataset)` embeds
          the App in the output cell (set `EMBED_APP = True` below, or call `session.show()`
          in any cell). Switch views from the view bar (`wb-leaks`, `wb-duplicates`, …) or
          from code (`session.view = ...`), click a sample to see its `wb_` fields, and tag
          samples `wb:reviewed:confirmed` or `wb:reviewed:not_error` from the tag icon.
        - **Headless** (CI, or a kernel on a remote machine), pass `auto=False`: the App server
          starts and nothing is displayed. Open `http://localhost:<port>` in a browser,
          forwarding the port first if the kernel is remote
          (`ssh -N -L <port>:127.0.0.1:<port> user@host`). `remote=True` is for scripts and
          the shell (`workbench app workbench-demo --view wb-leaks --remote`); FiftyOne
          refuses remote sessions inside a notebook.

        Here the App is started on a free port so that it never collides with another App,
        and the cell checks that it answers.
    '''),
    code('''
        import socket
        import time
        import urllib.request

        EMBED_APP = False  # True in your own Jupyter: the App appears in the output cell

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        session = workbench.review(result, dataset=dataset, port=port, auto=False)  # starts the App, shows nothing
        if EMBED_APP:
            session.show()

        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    assert response.status == 200
                    break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(1)
        print(f"the FiftyOne App serves {session.dataset.name!r} at http://localhost:{port}, "
              f"view: {len(session.view)} samples")
    '''),
    md('''
        The session follows your code: point it at another saved view, or at any FiftyOne
        view you build, and the App shows it.
    '''),
    code('''
        session.view = dataset.load_saved_view("wb-leaks")
        assert len(session.view) == len(result.leakage.leaked_ids)
        print("the App now shows the", len(session.view), "leaked samples")
    '''),
    md('''
        ## Mark samples

        Here the verdicts come from the demo's ground truth: the flagged images that are
        planted label flips are **confirmed**; three flagged images that are not planted,
        where the probe only hesitates between two similar garments (coat, shirt, T-shirt,
        pullover), are marked **not an error**. In an interactive session, select samples in
        the App's grid and use `session.selected`:

        ```python
        workbench.mark_samples(dataset, session.selected, "not_error")
        ```
    '''),
    code('''
        planted_flips = {demo_path(f["path"]) for f in PLANTED["flipped_labels"]}
        confirmed = [i.sample_id for i in result.label_issues.issues if i.filepath in planted_flips]
        planted_files = planted_flips | {demo_path(leak[s]) for leak in PLANTED["leaks"] for s in ("train", "test")}
        confusable = {"Shirt", "T-shirt_top", "Pullover", "Coat"}
        false_alarms = [i.sample_id for i in reversed(result.label_issues.issues)  # the least suspicious flags
                        if i.filepath not in planted_files and {i.given_label, i.suggested_label} <= confusable][:3]

        workbench.mark_samples(dataset, confirmed, "confirmed")
        workbench.mark_samples(dataset, false_alarms, "not_error")
        if session.selected:  # samples you selected in the App, if any
            workbench.mark_samples(dataset, session.selected, "not_error")

        marks = workbench.read_marks(dataset)
        assert set(confirmed) <= set(marks) and len(confirmed) >= 0.8 * len(planted_flips)
        pd.Series(marks).value_counts().rename("samples").to_frame()
    '''),
    md('''
        ## Re-audit: the marks come back in `result.reviews`

        The audit clears its previous findings but keeps the review tags, and reads them into
        `result.reviews` (`{sample id: "confirmed" | "not_error"}`). The flags themselves are
        unchanged: a mark records your verdict, it doesn't hide or fix anything.
    '''),
    code('''
        reaudit = workbench.audit(dataset, progress=False)
        assert reaudit.reviews == dict(workbench.read_marks(dataset))
        assert all(reaudit.review_of(sid) == "confirmed" for sid in confirmed)
        assert all(reaudit.review_of(sid) == "not_error" for sid in false_alarms)
        assert reaudit.counts() == result.counts()

        reviewed = pd.DataFrame([{"file": rel(i.filepath), "given": i.given_label, "suggested": i.suggested_label,
                                  "label_score": i.score, "review": reaudit.review_of(i.sample_id)}
                                 for i in reaudit.label_issues.issues])
        print(f"{reviewed.review.notna().sum()} of {len(reviewed)} flagged samples reviewed")
        reviewed.dropna(subset=["review"])
    '''),
    md('''
        The tags are in the App too: `wb:reviewed:confirmed` appears in the sidebar's sample
        tags, so a saved view of the reviewed samples is one `match_tags` away. Below, the
        App shows the samples you confirmed.
    '''),
    code('''
        session.view = dataset.match_tags("wb:reviewed:confirmed")
        assert len(session.view) == len(confirmed)
        dataset.count_sample_tags()
    '''),
    md('''
        ## All panels, linked to the App

        `workbench.show(result, dataset=..., session=...)` puts every panel in one set of tabs;
        with a session, a panel's *show in App* button moves the App to those samples, and the
        label-issues tab shows the reviews. Close the App when you are done (the panels keep
        working without it).
    '''),
    code('''
        workbench.show(reaudit, dataset=dataset, session=session)
    '''),
    md('''
        When you are done reviewing, close the App; this stops its server.
    '''),
    code('''
        session.close()
    '''),
]

NOTEBOOKS["06_export_the_report"] = [
    md('''
        # 6. Export the report

        One result, several exports, all computed from the same `AuditResult` (a renderer
        never recomputes a finding, so they always agree):

        | Export | For | Call |
        | --- | --- | --- |
        | HTML report | people who don't run Python: one offline file | `workbench.render_html(result, path)` |
        | JSON export (schema 1.0) | CI gates and other tools | `workbench.write_json(result, path)` |
        | full result JSON | later notebooks and sessions (lossless) | `result.to_json(path)` / `AuditResult.from_json(path)` |
        | text summary | logs, terminals | `workbench.text_summary(result)` |
    '''),
    SETUP,
    code('''
        OUT = Path("../build/notebooks").resolve()
        OUT.mkdir(parents=True, exist_ok=True)
    '''),
    md('''
        ## HTML report

        A single self-contained file: plotly inlined, thumbnails of the flagged samples as
        data URIs, no external request, a strict Content-Security-Policy. Send it to whoever
        decides about the data; it opens in any browser, offline. Sections: summary cards,
        embedding model (with the fallback banner), file problems, duplicates, leakage,
        label issues, balance, bias, methods (config, versions, timings).
    '''),
    code('''
        report = OUT / "report.html"
        html = workbench.render_html(result, report)  # writes the file and returns its text
        assert report.read_text(encoding="utf-8") == html
        assert html.lstrip().lower().startswith("<!doctype html") and "Content-Security-Policy" in html
        assert result.embedding.model_id in html
        print(f"{report} ({report.stat().st_size / 1e6:.1f} MB); open it in a browser")
    '''),
    md('''
        ## JSON export for CI

        The documented, stable export (schema `1.0`, absolute paths): `summary` has the count
        per finding, then one list per finding. A CI job can gate on it, for instance fail
        when the data has leaks or duplicates. The command line does the same in one step
        (exit code 1 when a `--fail-on` finding is present):

        ```bash
        workbench audit data/ --json audit.json --fail-on leaks,duplicates
        ```
    '''),
    code('''
        export = workbench.write_json(result, OUT / "audit.json")
        doc = json.loads(export.read_text())
        assert doc["schema_version"] == "1.5" and doc["summary"] == result.counts()
        assert len(doc["leaks"]) >= len(PLANTED["leaks"]) and doc["embedding_model"]["id"] == result.embedding.model_id


        def gate(doc: dict, fail_on=("leaks", "duplicates")) -> list[str]:
            """The findings that should fail a CI job."""
            return [f"{k}: {doc['summary'][k]}" for k in fail_on if doc["summary"][k]]


        failing = gate(doc)
        assert failing, "the demo has planted leaks and duplicates, so the gate must trip"
        print("CI gate would fail on:", failing)
        print({k: doc[k] for k in ("schema_version", "summary", "near_duplicate_threshold", "label_issue_method")})
    '''),
    md('''
        ## The full result, for later

        `result.to_json()` keeps everything (every score, timings, config, versions) and
        `AuditResult.from_json` reads it back equal to the original, so a later notebook can
        pick up the findings without re-running the audit. The in-memory artifacts
        (embeddings, k-NN graph) are not serialised; threshold re-filtering needs a live audit.
    '''),
    code('''
        saved = OUT / "result.json"
        result.to_json(saved)
        again = workbench.AuditResult.from_json(saved)
        assert again == result and again.artifacts is None
        print(f"{saved} ({saved.stat().st_size / 1e3:.0f} kB), schema {again.schema_version}")
    '''),
    md('''
        ## Text summary

        What `workbench audit` prints, for logs:
    '''),
    code('''
        summary = workbench.text_summary(result)
        assert f"{len(result.leakage.pairs)} cross-split pairs" in summary
        print(summary)
    '''),
    md('''
        ## Everything in one view

        The live counterpart of the report: every panel in one set of tabs.
    '''),
    code('''
        workbench.show(result, dataset=dataset)
    '''),
]


def _cell_id(stem: str, index: int) -> str:
    return hashlib.sha1(f"{stem}:{index}".encode()).hexdigest()[:8]


def build(stem: str, cells: list[tuple[str, str]]) -> dict:
    """The notebook as nbformat 4.5 JSON: no outputs, the python3 kernelspec, stable cell ids."""
    out = []
    for index, (kind, source) in enumerate(cells):
        cell = {"cell_type": kind, "id": _cell_id(stem, index), "metadata": {}, "source": source.splitlines(True)}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        out.append(cell)
    return {"cells": out, "metadata": {"kernelspec": KERNELSPEC, "language_info": {"name": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def render(stem: str) -> str:
    return json.dumps(build(stem, NOTEBOOKS[stem]), indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="don't write; exit 1 if a notebook is out of date")
    args = parser.parse_args(argv)
    stale = []
    for stem in NOTEBOOKS:
        path = NOTEBOOK_DIR / f"{stem}.ipynb"
        text = render(stem)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(path.name)
        if not args.check:
            path.write_text(text, encoding="utf-8")
    if args.check and stale:
        print("out of date (run scripts/make_notebooks.py):", ", ".join(stale), file=sys.stderr)
        return 1
    if not args.check:
        print("wrote", ", ".join(stale) if stale else "nothing (all up to date)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
