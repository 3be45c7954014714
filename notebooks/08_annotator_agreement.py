# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 8. Do the annotators agree?
#
# Before trusting a label set, measure how well the people who made it agree. The practice
# (`shared/DATA_GUIDE.md`): match each pair of annotators' boxes one to one (an assignment
# problem, solved with the Hungarian algorithm on IoU); a mean matched IoU above **0.85** for
# boxes (0.80 for masks) is good, below **0.75** the guidelines need work. Three annotators
# give a consensus by majority; a random 10-20% of images goes to review.
#
# The detection demo ships three annotators' COCO files (`data/detection-demo/annotators/`),
# made from the truth with controlled disagreement: `annotator_a` is careful, `annotator_b`
# sloppy (looser boxes, more wrong classes, missed and extra boxes), `annotator_c` in between.

# %% tags=["parameters"]
# The FiftyOne dataset this notebook loads the demo into and audits: one of its own, so that running
# it never changes a dataset used elsewhere. WORKBENCH_NOTEBOOK_DATASET (set before Jupyter starts)
# names another.
import os

DATASET_NAME = os.environ.get("WORKBENCH_NOTEBOOK_DATASET") or "workbench-notebook-08"

# %%
import pandas as pd

import workbench
from _helpers import DETECTION_DEMO, load_detection_planted  # demo plumbing

ANNOTATORS = load_detection_planted()["annotators"]  # how each annotator was made to disagree
dataset = workbench.load(DETECTION_DEMO, name=DATASET_NAME)

# %% [markdown]
# ## The annotators' files, as fields
#
# Each export becomes a label field of the dataset, matched to the samples by the image's
# path inside the dataset folder (`--annotator-file NAME=FILE` on the command line). COCO,
# CVAT-for-images and Label Studio JSON exports are read (a Label Studio export of several
# annotators adds `NAME_<user id>` each: `added.fields`); a file outside the dataset folder is refused.

# %%
names = sorted(ANNOTATORS)
for name in names:
    added = workbench.add_annotator_file(dataset, name, DETECTION_DEMO / ANNOTATORS[name]["file"])
    print(name, added)

# %% [markdown]
# ## Agreement
#
# `AuditConfig(annotator_fields=...)` (`--annotators a,b,c`) runs the agreement check. It
# matches every pair's boxes per image (Hungarian on IoU; pairs under IoU 0.5 count as
# unmatched on both sides), and reports the mean matched IoU, whether matched boxes carry the
# same class, and the unmatched boxes, per pair, per annotator, per class and per image.

# %%
# The object-label check is notebook 07's subject (without a detector its sliding windows take minutes):
# skipped here, so this audit is about the annotators.
config = workbench.AuditConfig(annotator_fields=tuple(names), skip_checks=("object_labels",))
result = workbench.audit(dataset, config, progress=False)
agreement = result.findings["agreement"]
print(agreement.summary())

# %%
pairs = pd.DataFrame([{"pair": f"{p.a} - {p.b}", "mean IoU": p.mean_iou, "same class": p.observed,
                       "matched": p.n_matched, f"unmatched (first)": p.unmatched_a,
                       "unmatched (second)": p.unmatched_b, "verdict": p.verdict} for p in agreement.pairs])
sloppy = min(agreement.per_annotator, key=lambda a: a.mean_iou)
assert sloppy.name == "annotator_b", sloppy  # the one made to disagree most is found
assert agreement.verdict != "good"  # with annotator_b, the set is below the 0.85 target
pairs.set_index("pair").round(3)

# %% [markdown]
# The annotator × annotator matrix of mean matched IoU, and each annotator against the others:

# %%
pd.DataFrame(agreement.matrix("mean_iou"), index=agreement.annotators, columns=agreement.annotators).round(3)

# %%
pd.DataFrame([{"annotator": a.name, "boxes": a.n_labels, "mean IoU with the others": a.mean_iou,
               "unmatched share": a.unmatched_share, "same class": a.label_agreement}
              for a in agreement.per_annotator]).set_index("annotator").round(3)

# %% [markdown]
# ## Where they disagree
#
# Worst classes and worst images first: these are where the guidelines need a sentence, or an
# image needs a second look.

# %%
pd.DataFrame([{"class": c.label, "matched": c.n_matched, "unmatched": c.n_unmatched, "mean IoU": c.mean_iou,
               "same class": c.label_agreement, "verdict": c.verdict} for c in agreement.classes]
             ).set_index("class").round(3)

# %%
agreement.to_frame()[["filepath", "agreement_score", "mean_iou", "unmatched"]].head(10)

# %% [markdown]
# ## Consensus and the review sample
#
# The consensus field `wb_consensus` holds, per image, one box for each group of matched boxes
# (their coordinates averaged, weighted by how well each agrees with the others; the class by
# majority), with its agreement score. A seeded random 15% of images, stratified by class, is
# tagged `wb:review-sample` (saved view `wb-review-sample`); the review marks you set in the
# App (`wb:reviewed:*`) are counted against it on the next audit.

# %%
print(f"{len(agreement.review_sample)} images in the review sample; {agreement.n_reviewed} reviewed")
print(dataset.count("wb_consensus.detections"), "consensus boxes;",
      len(dataset.load_saved_view("wb-review-sample")), "images in the review view")
assert len(dataset.load_saved_view("wb-review-sample")) == len(agreement.review_sample)

# %% [markdown]
# ## The agreement panel

# %%
import workbench.panels.agreement

workbench.panels.agreement.agreement_panel(result, dataset=dataset)
