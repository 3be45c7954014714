# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 9. From findings to a better dataset
#
# The audit says what is wrong; this notebook fixes some of it and proves the fix, the loop the data
# guide asks for:
#
# 1. **audit** the demo and keep the result as the baseline;
# 2. **resplit**: a split that keeps every group of copies in one split, so nothing leaks;
# 3. **select** the next images worth a label (uncertain and diverse);
# 4. **hand off** the flagged images for re-annotation (Label Studio), corrections into a new field;
# 5. **re-audit** on the proposed split;
# 6. **diff** the two audits finding by finding, and write the versioned `--out` folder DVC tracks.
#
# The command line does each step too: `workbench audit`, `workbench resplit`, `workbench select`,
# `workbench handoff`, `workbench diff` (see the README).

# %% tags=["parameters"]
# The FiftyOne dataset this notebook loads the demo into and audits: one of its own, so that running
# it never changes a dataset used elsewhere. WORKBENCH_NOTEBOOK_DATASET (set before Jupyter starts)
# names another.
import os

DATASET_NAME = os.environ.get("WORKBENCH_NOTEBOOK_DATASET") or "workbench-notebook-09"

# %%
from pathlib import Path

import pandas as pd

import workbench
from _helpers import DEMO, load_planted  # demo plumbing shared by the notebooks
from workbench.config import AuditConfig
from workbench.history.diff import diff_audits
from workbench.history.snapshot import snapshot_of

PLANTED = load_planted()  # the issues planted in the demo, file by file
OUT = Path("../build/notebooks").resolve()
OUT.mkdir(parents=True, exist_ok=True)
pd.set_option("display.max_colwidth", 70)
dataset = workbench.load(DEMO, name=DATASET_NAME)

# %% [markdown]
# ## 1. Audit: the baseline
#
# A plain audit. Besides the findings, every audit proposes a repaired split (the `split_proposal` check
# writes it to the field `wb_proposed_split`; your own split field is never touched).

# %%
before = workbench.audit(dataset, progress=False)
print(workbench.text_summary(before))
baseline = snapshot_of(before)  # what history keeps: the fingerprint and every finding as a row
print(f"\nfingerprint {baseline.fingerprint['content'][:12]}, {len(baseline.rows)} findings")

# %% [markdown]
# ## 2. Resplit: zero leakage by construction
#
# The demo's test split holds copies of training images (planted leaks). The proposal groups every
# duplicate link the leakage check could report (and perceptual-hash pairs, and any `group_by` field),
# and a group goes to one split whole. In `repair` mode (the default when a split exists) only the groups
# that span splits move. `workbench resplit DATA --ratios train=0.7,val=0.15,test=0.15 --group-by source`
# draws a fresh stratified split instead, and writes a CSV or JSON manifest.

# %%
proposal = before.findings["split_proposal"]
print(proposal.summary())
assert proposal.current.crossing_links > 0 and proposal.proposed.crossing_links == 0
print(f"{proposal.moved} images change split; the field: {dataset.distinct('wb_proposed_split')}")

# %% [markdown]
# ## 3. Select the next batch to label
#
# The active-learning selection ranks images by the probe's uncertainty (margin) and their diversity
# (k-center on the embeddings), weights 0.8 and 0.2, measured on Fashion-MNIST to beat random picks from
# 200 labels on (benchmarks/RESULTS.md). The demo is fully labelled, so the pool here is every image,
# each scored by a model that never saw it; on your data the default pool is the unlabelled images.

# %%
chosen = workbench.audit(dataset, AuditConfig(check_options={"selection": {"budget": 20, "pool": "all"}}),
                         progress=False).findings["selection"]
batch = chosen.to_frame()
print(chosen.summary())
batch[["filepath", "label", "selection_rank", "uncertainty"]].head(10)

# %%
assert len(batch) == 20 and batch["selection_rank"].tolist() == list(range(1, 21))

# %% [markdown]
# ## 4. Hand off for re-annotation
#
# The review queue (`wb-review-queue`: the label issues most likely to be real, best first) goes to Label
# Studio through FiftyOne's annotation API; the annotators' answers come back into a **new field**,
# `wb_corrected_ground_truth`, never into `ground_truth`, so the original labels stay as they were until you
# decide. On the command line:
#
# ```bash
# export FIFTYONE_LABELSTUDIO_URL=http://127.0.0.1:8080 FIFTYONE_LABELSTUDIO_API_KEY=...  # a legacy token
# workbench handoff DATASET --view wb-review-queue            # prints the run key, e.g. wb_handoff_1
# workbench handoff DATASET --load wb_handoff_1               # -> wb_corrected_ground_truth
# ```
#
# The corrections hold the handed-off images only. To audit with them, lay them over a copy of the labels
# in a field of yours (`clone_sample_field("ground_truth", "ground_truth_v2")`, then `set_values` on the
# samples where `wb_corrected_ground_truth` exists; README, "Hand-off") and audit with
# `--label-field ground_truth_v2`.
#
# The cell below sends the queue when a Label Studio server is configured (the two variables above), and
# otherwise shows what would go. CVAT works the same way through FiftyOne (README, "Hand-off").

# %%
from workbench.render.annotation_handoff import default_label_field, select_samples

queue, what = select_samples(dataset, view="wb-review-queue")
print(f"{what}: {len(queue)} images from {default_label_field(dataset)!r}")
if os.environ.get("FIFTYONE_LABELSTUDIO_URL") and os.environ.get("FIFTYONE_LABELSTUDIO_API_KEY"):
    from workbench.render.annotation_handoff import send_for_annotation
    from workbench.render.annotation_server import resolve_access

    sent = send_for_annotation(dataset, queue, selection=what, label_field=default_label_field(dataset),
                               access=resolve_access(None, None))
    print(sent.summary())
else:
    print("no Label Studio server configured: set FIFTYONE_LABELSTUDIO_URL and FIFTYONE_LABELSTUDIO_API_KEY to send")
assert len(queue) == len(before.label_issues.review_queue)

# %% [markdown]
# ## 5. Re-audit on the proposed split
#
# The same data, audited with `split_field="wb_proposed_split"`.

# %%
after = workbench.audit(dataset, split_field="wb_proposed_split", progress=False)
print(workbench.text_summary(after))
assert after.leakage is not None and len(after.leakage.pairs) == 0

# %% [markdown]
# ## 6. What changed, finding by finding
#
# `diff_audits` matches findings by their identity (check, kind, files relative to the dataset root, and
# what they are about), not by position: `workbench diff A B` on the command line, with run ids, JSON
# exports or `--out` folders. The data's fingerprint says what moved: here only the splits.

# %%
diff = diff_audits(baseline, snapshot_of(after))
print(diff.summary(limit=3))
leaks = diff.check("leakage")
assert diff.data_changes == ("splits",)
assert len(leaks.fixed) == len(before.leakage.pairs) and not leaks.new
pd.DataFrame([r.to_row() for r in leaks.fixed])[["kind", "files", "detail"]]

# %% [markdown]
# A CI job gates on regressions only: `workbench audit data --fail-on-new leaks,label-issues>10` fails
# when findings appear that the last stored audit did not have, and accepts the known ones.
#
# ## The versioned audit folder
#
# `--out DIR` (here `write_out_folder`) writes the findings as parquet and JSON, the export, the report
# and a manifest of hashes. Two runs on the same data write the same bytes, so `dvc add` / `dvc status`
# see a change only when the data or a finding changed.

# %%
from workbench.history.out_folder import write_out_folder

folder = write_out_folder(after, OUT / "audit-proposed-split")
import fastparquet

findings = fastparquet.ParquetFile(str(folder["findings.parquet"])).to_pandas()  # or pandas.read_parquet
print(sorted(p.name for p in (OUT / "audit-proposed-split").iterdir()))
findings.groupby("check").size()

# %% [markdown]
# ## All panels
#
# The re-audit in the notebook panels, with the App linked when it runs.

# %%
workbench.show(after, dataset=dataset)
