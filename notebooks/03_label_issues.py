# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 3. Likely label errors
#
# **What the finding means.** For every labelled image, workbench gets an
# *out-of-fold* predicted probability per class: a logistic regression on the image
# embeddings, trained 5 times, each time on the other four fifths of the data, so no
# image is scored by a model that saw it. cleanlab's confident learning then flags the
# images whose given label is unlikely given those probabilities
# (`cleanlab.filter.find_label_issues`) and scores every image's label quality
# (`cleanlab.rank.get_label_quality_scores`, in [0, 1], **low = suspicious**). The
# suggested label is the class the model finds most likely.
#
# A flag is a *candidate* for review, not a verdict: its precision depends on how good
# the probe is.

# %% tags=["parameters"]
# The FiftyOne dataset this notebook loads the demo into and audits: one of its own, so that running
# it never changes a dataset used elsewhere. WORKBENCH_NOTEBOOK_DATASET (set before Jupyter starts)
# names another.
import os

DATASET_NAME = os.environ.get("WORKBENCH_NOTEBOOK_DATASET") or "workbench-notebook-03"

# %%
import pandas as pd

import workbench
from _helpers import DEMO, demo_path, load_planted, rel, show_images  # demo plumbing shared by the notebooks

PLANTED = load_planted()  # the issues planted in the demo, file by file
pd.set_option("display.max_colwidth", 80)
dataset = workbench.load(DEMO, name=DATASET_NAME)
result = workbench.audit(dataset, progress=False)
print(workbench.text_summary(result))

# %% [markdown]
# ## How good is the probe?
#
# The out-of-fold accuracy says how much to trust the flags. About 80% on 28×28
# Fashion-MNIST with ImageNet features means many flags will be genuinely confusable
# classes (shirt vs T-shirt vs pullover vs coat), not wrong labels.

# %%
li = result.label_issues
print(li.method)
print(f"out-of-fold accuracy {li.cv_accuracy:.1%}; {len(li.issues)} of {len(li.sample_ids)} "
      f"samples flagged ({li.issue_rate:.1%})")
per_class = pd.DataFrame([{"class": c.label, "assessed": c.n_assessed, "flagged": c.n_issues,
                           "rate": round(c.rate, 3)} for c in li.per_class]).set_index("class")
per_class.sort_values("rate", ascending=False)

# %% [markdown]
# ## Read the flagged samples
#
# `result.label_issues.to_frame(assessed=True)` covers every assessed sample in cleanlab's
# contract: `is_label_issue`, `label_score` (low = likely wrong) and `predicted_label`
# (`to_frame()` alone keeps the flagged rows, as every check's frame does). The
# `issues` themselves carry the given and suggested labels and the probe's confidence
# in its suggestion; they are ranked worst first.

# %%
frame = result.label_issues.to_frame(assessed=True)
assert frame.is_label_issue.sum() == len(li.issues) == len(result.label_issues.to_frame())
assert frame.label_score.between(0, 1).all()
issues = pd.DataFrame([{"sample_id": i.sample_id, "file": rel(i.filepath), "split": i.split,
                        "given": i.given_label, "suggested": i.suggested_label,
                        "label_score": i.score, "confidence": i.suggested_confidence}
                       for i in li.issues])
issues.head(15)

# %% [markdown]
# The top of the list mixes planted flips with two other kinds of real problems: the
# test copy of a leak whose two copies carry different labels (notebook 02), and
# genuine label noise in Fashion-MNIST itself. Below, the worst 18 with their given and
# suggested labels:

# %%
worst = li.issues[:18]
show_images([i.filepath for i in worst], [f"{i.given_label} -> {i.suggested_label}" for i in worst])

# %% [markdown]
# ## Check: the planted label flips are found
#
# The demo has 20 images moved into a wrong class folder. At least 80% of them must be
# flagged, and for most the suggestion must be the true class.

# %%
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

# %% [markdown]
# **Review the confident ones first.** A flipped label is usually flagged with a
# confident suggestion (a bag labelled *Coat* looks nothing like a coat), while
# confusable garments get a hesitant one. Keeping only the confident suggestions
# shortens the review list much faster than it loses real errors:

# %%
planted_paths = {demo_path(f["path"]) for f in PLANTED["flipped_labels"]}
issues["planted flip"] = [demo_path(f) in planted_paths for f in issues.file]
by_confidence = pd.DataFrame([{"suggestion confidence ≥": c, "flagged": int(kept.sum()),
                               "planted flips among them": int(issues["planted flip"][kept].sum())}
                              for c in (0.0, 0.5, 0.7, 0.9) for kept in [issues.confidence >= c]])
by_confidence

# %% [markdown]
# ## What to do
#
# - **Fix labels at the source** (your annotation tool or folder layout), then re-audit.
#   workbench never relabels a sample; it only writes the score, the flag and the
#   suggestion (`wb_label_score`, `wb_is_label_issue`, `wb_suggested_label`) for review.
# - **Mark what you reviewed**: `workbench.mark_samples(dataset, ids, "confirmed")` for a
#   real error, `"not_error"` for a false alarm (or the buttons in the panel below).
#   Marks survive re-audits and show up in `result.reviews` (notebook 05).
# - **Don't drop every flagged image**: here most flags are hard examples of
#   confusable classes, and removing them would make the model worse at exactly those.
# - **Get fewer false alarms** with a stronger embedding (CLIP, `--clip-checkpoint`) or
#   your own model's out-of-sample predictions
#   (`AuditConfig(predictions="preds.csv")` / `--predictions`).
#
# ## The label-issues panel
#
# Worst first, with the given and suggested label; the buttons mark a sample
# *confirmed* or *not an error* on the dataset.

# %%
import workbench.panels

workbench.panels.label_issues_panel(result, dataset=dataset)
