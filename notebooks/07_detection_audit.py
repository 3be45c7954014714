# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 7. Auditing a detection dataset: the boxes themselves
#
# Most labelled datasets are detection sets, and their errors are in the boxes: a box with the
# wrong class, a box beside its object, an object nobody boxed, the same box twice. This notebook
# audits the shipped detection demo (`data/detection-demo`: 150 photographs with Fashion-MNIST
# items and clip-art birds pasted on them, COCO format; see `data/README.md`), where such
# problems were planted, and checks that the audit finds them:
#
# - **objects** (`result.findings["objects"]`): boxes that can't be right (tiny, duplicated,
#   outside the image), box sizes and shapes per class, negatives;
# - **object labels** (`result.findings["object_labels"]`): boxes whose class or place is
#   wrong and objects without a box, from a detector's predictions (cleanlab's ObjectLab), or,
#   without a detector, from the boxes' crops judged by their nearest crops.

# %% tags=["parameters"]
# The FiftyOne dataset this notebook loads the demo into and audits: one of its own, so that running
# it never changes a dataset used elsewhere. WORKBENCH_NOTEBOOK_DATASET (set before Jupyter starts)
# names another.
import os

DATASET_NAME = os.environ.get("WORKBENCH_NOTEBOOK_DATASET") or "workbench-notebook-07"

# %%
import pandas as pd

import workbench
from _helpers import DETECTION_DEMO, found_planted, load_detection_planted  # demo plumbing

PLANTED = load_detection_planted()["planted"]  # every planted box problem, with the given and true box
pd.set_option("display.max_colwidth", 60)
dataset = workbench.load(DETECTION_DEMO, name=DATASET_NAME)
print(dataset.count("ground_truth.detections"), "boxes on", len(dataset), "images;",
      dataset.count_sample_tags())

# %% [markdown]
# ## With a detector's predictions
#
# `predictions.json` holds a detector's boxes in COCO's results format (`image_id`,
# `category_id`, `bbox`, `score`), matched to the images by the COCO ids. In the demo they
# are simulated from the true boxes (a model trained here would need a GPU and hours); your
# own detector's results file or a FiftyOne `Detections` field with confidences goes the same
# way: `--predictions` on the command line, `AuditConfig(predictions=...)` here.

# %%
config = workbench.AuditConfig(predictions=str(DETECTION_DEMO / "predictions.json"))
result = workbench.audit(dataset, config, progress=False)
print(workbench.text_summary(result))

# %% [markdown]
# ### Boxes that can't be right, and the shape of the data
#
# The planted duplicates (a second box of the same class over the first, IoU ≥ 0.95) are
# flagged by the objects check. Per class it also reports the instances against the
# detection readiness table (200 minimum, 1,000 good), box sizes in COCO's small / medium /
# large bands, and the share of images with no object: negatives teach a detector what not to
# detect.

# %%
objects = result.findings["objects"]
duplicates = {p["file_name"] for p in PLANTED if p["kind"] == "duplicate"}
flagged = {str(os.path.relpath(i.filepath, DETECTION_DEMO / "data")) for i in objects.issues if "duplicate" in i.kinds}
assert flagged == duplicates, (flagged, duplicates)
print(f"negative images: {objects.negative_share:.1%}")
pd.DataFrame([{"class": c.label, "instances": c.n_instances, "images": c.n_images,
               "small / medium / large": " / ".join(f"{s:.0%}" for s in c.size_shares),
               "median size (px)": None if c.size_percentiles is None else round(c.size_percentiles[1])}
              for c in objects.classes]).set_index("class")

# %% [markdown]
# ### Wrong classes, misplaced boxes and missing boxes
#
# Each annotated box gets cleanlab's *swapped* score (a confident prediction of another class
# sits on it) and *badly located* score (the same class is predicted, but elsewhere); each
# confident prediction that overlaps no box gets an *overlooked* score. How sure counts as
# "confident" is calibrated on the detector's own scores (the 10th percentile of its
# predictions that agree with a box), so a detector that never says 0.95 is still heard.

# %%
labels = result.findings["object_labels"]
print(labels.summary())
print("confidence level:", labels.thresholds["confident"], "-", labels.facts["confident_from"])
found = found_planted(labels.issues, [p for p in PLANTED if p["kind"] != "duplicate"])
print({kind: f"{n} of {total}" for kind, (n, total) in found.items()})
recall = sum(n for n, _ in found.values()) / sum(t for _, t in found.values())
assert recall >= 0.8, found
labels.to_frame()[["filepath", "label", "kind", "suggested_label", "object_label_score"]].head(12)

# %% [markdown]
# ## Without a detector
#
# Often there is no detector yet: that is what the data is for. The audit then judges each box
# by its crop: the crop is embedded with the audit's model (cached by image and box), and its
# class is voted among its nearest crops and predicted out of fold by a classifier that also
# knows background crops. A box whose crop looks like another class is *swapped* (with that
# class suggested); one whose crop looks like background is *badly located*. Sliding windows
# find *overlooked* objects; they cost one embedding per window, so this notebook turns them
# off (`object_labels.crops_proposals`); `benchmarks/bench_object_labels.py` measures them.

# %%
crops_config = workbench.AuditConfig(check_options={"object_labels": {"crops_proposals": False}})
no_detector = workbench.audit(dataset, crops_config, progress=False)
crops = no_detector.findings["object_labels"]
print(crops.summary())
print({k: v for k, v in crops.facts.items() if k in ("boxes_judged", "crops_embedded", "crops_cached",
                                                       "cv_accuracy")})
found = found_planted(crops.issues, [p for p in PLANTED if p["kind"] in ("swapped", "shifted")])
print({kind: f"{n} of {total}" for kind, (n, total) in found.items()})
assert found["swapped"][0] >= 8, found
crops.to_frame()[["filepath", "label", "kind", "suggested_label", "object_label_score"]].head(12)

# %% [markdown]
# ## In the FiftyOne App
#
# The findings are written onto the boxes themselves: each flagged box carries
# `wb_label_issue`, `wb_label_score` and `wb_suggested_label` and the label tag
# `wb:object-label-issue`; the saved patches view `wb-object-label-issues` shows one tile
# per flagged box, and `wb-object-issues-patches` the boxes that can't be right. Objects
# nobody boxed are in the field `wb_overlooked` (from the audit with predictions; the last
# audit written is the one without, which has none). `workbench app DATASET --view
# wb-object-label-issues` opens it.

# %%
patches = dataset.load_saved_view("wb-object-label-issues")
print(len(patches), "flagged boxes in the patches view;", dataset.count_label_tags())
assert len(patches) == sum(1 for i in crops.issues if i.object_id)

# %% [markdown]
# ## The panels
#
# `workbench.show` puts every check in a tab: **Objects** draws the box size and shape
# histograms per class and the flagged boxes over their images; **Object label issues** lists
# the boxes with their kind and suggestion.

# %%
workbench.show(result, dataset=dataset)
