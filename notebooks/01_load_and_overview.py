# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 1. Load a dataset and read the audit overview
#
# This notebook loads the shipped demo dataset into FiftyOne, audits it, and walks
# through the overview: what ran, which embedding model was used, and what was written
# back to FiftyOne. The other notebooks each take one finding further:
#
# | Notebook | Task |
# | --- | --- |
# | `02_duplicates_and_leakage` | remove exact duplicates, fix train/test leaks, tune the near-duplicate threshold |
# | `03_label_issues` | read cleanlab's label-quality scores, find the flipped labels |
# | `04_bias_and_imbalance` | class balance, readiness per class, split shift, label × attribute bias |
# | `05_review_in_fiftyone_app` | open the FiftyOne App, mark findings, re-audit with the marks |
# | `06_export_the_report` | the HTML report, the JSON export for CI, the full result round trip |
#
# **The demo data** (`data/demo/fashion-mnist`, see `data/README.md`) is 1,390 Fashion-MNIST
# images (28×28, 10 classes) in `train/<class>/` and `test/<class>/` folders, with problems
# planted on purpose and listed file by file in `data/demo/PLANTED.json`: 2 broken files,
# 6 exact and 6 near duplicates, 10 train/test leaks (2 with a different label on each side),
# 20 flipped labels and a rare class. Each notebook checks its findings against that list
# with a light `assert`, so a silent regression fails the run.
#
# Run the notebooks from this folder (`.venv/bin/jupyter lab notebooks/`). The first audit
# embeds every image (about a minute on two CPU cores); the embeddings are cached on disk,
# keyed by file content, so every later audit, in any notebook, reuses them.
#
# Each notebook loads the demo into a FiftyOne dataset of its own, named in its parameters
# cell (`workbench-notebook-01` here): running a notebook never changes a dataset you use
# elsewhere, such as the `workbench-demo` of `make demo`. To choose the name, set
# `WORKBENCH_NOTEBOOK_DATASET` before starting Jupyter (or pass `DATASET_NAME` with papermill).

# %% tags=["parameters"]
# The FiftyOne dataset this notebook loads the demo into and audits: one of its own, so that running
# it never changes a dataset used elsewhere. WORKBENCH_NOTEBOOK_DATASET (set before Jupyter starts)
# names another.
import os

DATASET_NAME = os.environ.get("WORKBENCH_NOTEBOOK_DATASET") or "workbench-notebook-01"

# %%
import pandas as pd

import workbench
from _helpers import DEMO, demo_path, load_planted, rel  # demo plumbing shared by the notebooks

PLANTED = load_planted()  # the issues planted in the demo, file by file
pd.set_option("display.max_colwidth", 80)
dataset = workbench.load(DEMO, name=DATASET_NAME)
dataset

# %% [markdown]
# `workbench.load` detected the `class/image` folder layout and imported it with FiftyOne's
# own importer into a **persistent** dataset named `DATASET_NAME`: loading again reuses
# it (new files are added, vanished ones removed, your tags and fields kept). The class
# is in the `ground_truth` field and the split (`train`, `test`) is a sample tag,
# FiftyOne's convention. workbench never writes, moves or deletes the image files.

# %%
splits = {tag: n for tag, n in dataset.count_sample_tags().items() if tag in ("train", "val", "test")}
assert splits == {split: sum(counts.values()) for split, counts in PLANTED["counts"].items()}
print(splits)
pd.Series(dataset.count_values("ground_truth.label")).sort_index().rename("images").to_frame().T

# %% [markdown]
# ## Audit
#
# `workbench.audit` reads and hashes every file, embeds every readable image, builds one
# k-nearest-neighbour graph over the embeddings, and runs every check on it: file
# problems, duplicates, leakage, label issues, class balance and bias. It returns an
# `AuditResult` (frozen, typed, JSON-serialisable) and writes the findings back to the
# FiftyOne dataset. `progress=True` shows progress bars while it embeds.
#
# On these machines the CLIP weights can't be downloaded, so the default embedder
# **falls back, loudly**, to ImageNet EfficientNet-Lite0: the warning below, the
# summary, the report and the JSON all say so. Nothing is silently replaced.

# %%
result = workbench.audit(dataset, progress=True)
print(workbench.text_summary(result))

# %% [markdown]
# **How to read the summary.** One line per finding; each has its own notebook:
#
# - *embeddings*: the model actually used, how many images were computed or taken from the cache, and the fallback reason if any;
# - *file problems*: files that are missing, empty or can't be decoded (every other check skips them);
# - *duplicates*: clusters of the same picture, exact (same bytes) or near (embedding distance ≤ the threshold);
# - *leaks*: duplicates that sit in two splits, so the test set contains training images;
# - *label issues*: samples whose label disagrees with what the rest of the data predicts for them;
# - *balance* and *split shift*: how many images each class has, and whether train and test have the same class mix.
#
# Every check reports whether it **ran**, was **skipped** because its inputs are absent
# (e.g. label issues on a dataset without labels; here the box, mask and annotator checks, since this
# is a classification dataset) or **failed** (with the error); the other checks still run.

# %%
checks = pd.DataFrame([{"check": c.name, "state": c.state, "reason": c.reason, "seconds": c.seconds}
                       for c in result.checks])
not_run = checks[checks.state != "ran"]
# a classification set: the box, mask and annotator checks have nothing to look at
assert set(not_run.check) <= {"objects", "object_labels", "masks", "agreement", "selection"}, checks
assert (not_run.state == "skipped").all(), checks
assert result.embedding.trained and result.embedding.n_failed == 0
print("embedding model:", result.embedding.model_id, f"({result.embedding.dim} dims)")
if result.embedding.is_fallback:
    print("fallback:", result.embedding.fallback_reason)
checks

# %% [markdown]
# ## File problems
#
# A file that can't be read is useless for training and often a sign of a broken
# copy or download. workbench reads each file once (hash, header, full decode with
# Pillow) and lists those that fail. **What to do:** re-copy or re-download them, or
# delete them from your dataset; they are excluded from every other check.

# %%
problems = result.integrity.to_frame()
assert set(problems.filepath) == {demo_path(b["path"]) for b in PLANTED["bad_files"]}
problems.assign(file=problems.filepath.map(rel))[["file", "kind", "message"]]

# %% [markdown]
# ## What was written back to FiftyOne
#
# The audit stored its findings on the samples (only `wb_` fields and `wb:` tags, so
# they never clash with yours), saved one view per finding, and recorded the run
# (time, counts, model, config, versions) in `dataset.info["workbench"]["runs"]`.
# Each audit replaces the previous run's findings; review marks (`wb:reviewed:*`,
# notebook 05) are kept. In the FiftyOne App, pick a saved view (e.g. `wb-leaks`) in
# the view bar to see exactly the flagged samples.

# %%
views = {name: len(dataset.load_saved_view(name)) for name in dataset.list_saved_views()
         if name.startswith("wb-")}
assert views["wb-leaks"] == len(result.leakage.leaked_ids)
assert views["wb-file-problems"] == len(PLANTED["bad_files"])
run = dataset.info["workbench"]["runs"][-1]
assert run["counts"] == result.counts()
print("saved views:", views)
print("finding tags:", {t: n for t, n in dataset.count_sample_tags().items() if t.startswith("wb:")})
print("last run:", run["created_at"], run["counts"])

# %% [markdown]
# ## The overview panel
#
# The same overview as an interactive panel: summary cards, the embedding model (with
# the fallback warning), the state and time of each check. `workbench.show(result,
# dataset=dataset)` puts every panel in one set of tabs.

# %%
import workbench.panels

workbench.panels.overview_panel(result)
