# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 5. Review in the FiftyOne App, mark findings, re-audit
#
# Findings are candidates; a person decides. The review loop:
#
# 1. audit, which writes fields, tags and saved views to the FiftyOne dataset;
# 2. look at the flagged samples in the FiftyOne App (or the panels);
# 3. mark each one **confirmed** (a real problem) or **not an error** (a false alarm):
#    the tags `wb:reviewed:confirmed` / `wb:reviewed:not_error`, set from code, from the
#    panels, or by hand in the App;
# 4. re-audit: the marks survive, and `result.reviews` tells every renderer (panels,
#    report) what was already reviewed. Marking never relabels a sample.

# %% tags=["parameters"]
# The FiftyOne dataset this notebook loads the demo into and audits: one of its own, so that running
# it never changes a dataset used elsewhere. WORKBENCH_NOTEBOOK_DATASET (set before Jupyter starts)
# names another.
import os

DATASET_NAME = os.environ.get("WORKBENCH_NOTEBOOK_DATASET") or "workbench-notebook-05"

# %%
import pandas as pd

import workbench
from _helpers import DEMO, demo_path, load_planted, rel  # demo plumbing shared by the notebooks

PLANTED = load_planted()  # the issues planted in the demo, file by file
pd.set_option("display.max_colwidth", 80)
dataset = workbench.load(DEMO, name=DATASET_NAME)
result = workbench.audit(dataset, progress=False)
print(workbench.text_summary(result))

# %% [markdown]
# Start from a clean slate so this notebook gives the same answer every time it runs
# (`None` clears a mark):

# %%
workbench.mark_samples(dataset, list(workbench.read_marks(dataset)), None)
assert not workbench.read_marks(dataset)

# %% [markdown]
# ## Open the App
#
# `workbench.review(result)` opens the FiftyOne App on the first non-empty saved view
# (label issues, then leaks, duplicates, file problems) and returns the session.
#
# - **In your own Jupyter**, `session = workbench.review(result, dataset=dataset)` embeds
#   the App in the output cell (set `EMBED_APP = True` below, or call `session.show()`
#   in any cell). Switch views from the view bar (`wb-leaks`, `wb-duplicates`, …) or
#   from code (`session.view = ...`), click a sample to see its `wb_` fields, and tag
#   samples `wb:reviewed:confirmed` or `wb:reviewed:not_error` from the tag icon.
# - **Headless** (CI, or a kernel on a remote machine), pass `auto=False`: the App server
#   starts and nothing is displayed. Open `http://localhost:<port>` in a browser,
#   forwarding the port first if the kernel is remote
#   (`ssh -N -L <port>:127.0.0.1:<port> user@host`). `remote=True` is for scripts and
#   the shell (`workbench app workbench-notebook-05 --view wb-leaks --remote`); FiftyOne
#   refuses remote sessions inside a notebook.
#
# Here the App is started on a free port so that it never collides with another App,
# and the cell checks that it answers.

# %%
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

# %% [markdown]
# The session follows your code: point it at another saved view, or at any FiftyOne
# view you build, and the App shows it.

# %%
session.view = dataset.load_saved_view("wb-leaks")
assert len(session.view) == len(result.leakage.leaked_ids)
print("the App now shows the", len(session.view), "leaked samples")

# %% [markdown]
# ## Mark samples
#
# Here the verdicts come from the demo's ground truth: the flagged images that are
# planted label flips are **confirmed**; three flagged images that are not planted,
# where the probe only hesitates between two similar garments (coat, shirt, T-shirt,
# pullover), are marked **not an error**. In an interactive session, select samples in
# the App's grid and use `session.selected`:
#
# ```python
# workbench.mark_samples(dataset, session.selected, "not_error")
# ```

# %%
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

# %% [markdown]
# ## Re-audit: the marks come back in `result.reviews`
#
# The audit clears its previous findings but keeps the review tags, and reads them into
# `result.reviews` (`{sample id: "confirmed" | "not_error"}`). The flags themselves are
# unchanged: a mark records your verdict, it doesn't hide or fix anything.

# %%
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

# %% [markdown]
# The tags are in the App too: `wb:reviewed:confirmed` appears in the sidebar's sample
# tags, so a saved view of the reviewed samples is one `match_tags` away. Below, the
# App shows the samples you confirmed.

# %%
session.view = dataset.match_tags("wb:reviewed:confirmed")
assert len(session.view) == len(confirmed)
dataset.count_sample_tags()

# %% [markdown]
# ## All panels, linked to the App
#
# `workbench.show(result, dataset=..., session=...)` puts every panel in one set of tabs;
# with a session, a panel's *show in App* button moves the App to those samples, and the
# label-issues tab shows the reviews. Close the App when you are done (the panels keep
# working without it).

# %%
workbench.show(reaudit, dataset=dataset, session=session)

# %% [markdown]
# When you are done reviewing, close the App; this stops its server.

# %%
session.close()
