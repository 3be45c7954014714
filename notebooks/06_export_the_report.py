# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 6. Export the report
#
# One result, several exports, all computed from the same `AuditResult` (a renderer
# never recomputes a finding, so they always agree):
#
# | Export | For | Call |
# | --- | --- | --- |
# | HTML report | people who don't run Python: one offline file | `workbench.render_html(result, path)` |
# | JSON export (versioned schema) | CI gates and other tools | `workbench.write_json(result, path)` |
# | full result JSON | later notebooks and sessions (lossless) | `result.to_json(path)` / `AuditResult.from_json(path)` |
# | text summary | logs, terminals | `workbench.text_summary(result)` |

# %% tags=["parameters"]
# The FiftyOne dataset this notebook loads the demo into and audits: one of its own, so that running
# it never changes a dataset used elsewhere. WORKBENCH_NOTEBOOK_DATASET (set before Jupyter starts)
# names another.
import os

DATASET_NAME = os.environ.get("WORKBENCH_NOTEBOOK_DATASET") or "workbench-notebook-06"

# %%
import json
from pathlib import Path

import pandas as pd

import workbench
from _helpers import DEMO, load_planted  # demo plumbing shared by the notebooks

PLANTED = load_planted()  # the issues planted in the demo, file by file
pd.set_option("display.max_colwidth", 80)
dataset = workbench.load(DEMO, name=DATASET_NAME)
result = workbench.audit(dataset, progress=False)
print(workbench.text_summary(result))

# %%
OUT = Path("../build/notebooks").resolve()
OUT.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## HTML report
#
# A single self-contained file: plotly inlined, thumbnails of the flagged samples as
# data URIs, no external request, a strict Content-Security-Policy. Send it to whoever
# decides about the data; it opens in any browser, offline. Sections: summary cards,
# embedding model (with the fallback banner), file problems, duplicates, leakage,
# label issues, balance, bias, methods (config, versions, timings).

# %%
report = OUT / "report.html"
html = workbench.render_html(result, report)  # writes the file and returns its text
assert report.read_text(encoding="utf-8") == html
assert html.lstrip().lower().startswith("<!doctype html") and "Content-Security-Policy" in html
assert result.embedding.model_id in html
print(f"{report} ({report.stat().st_size / 1e6:.1f} MB); open it in a browser")

# %% [markdown]
# ## JSON export for CI
#
# The documented, stable export (versioned by `schema_version`, absolute paths):
# `summary` has the count per finding, then one list per finding. A CI job can gate on
# it, for instance fail when the data has leaks or duplicates. The command line does
# the same in one step (exit code 1 when a `--fail-on` finding is present):
#
# ```bash
# workbench audit data/ --json audit.json --fail-on leaks,duplicates
# ```

# %%
from workbench.render.json_export import EXPORT_SCHEMA_VERSION

export = workbench.write_json(result, OUT / "audit.json")
doc = json.loads(export.read_text())
assert doc["schema_version"] == EXPORT_SCHEMA_VERSION and doc["summary"] == result.counts()
assert len(doc["leaks"]) >= len(PLANTED["leaks"]) and doc["embedding_model"]["id"] == result.embedding.model_id


def gate(doc: dict, fail_on=("leaks", "duplicates")) -> list[str]:
    """The findings that should fail a CI job."""
    return [f"{k}: {doc['summary'][k]}" for k in fail_on if doc["summary"][k]]


failing = gate(doc)
assert failing, "the demo has planted leaks and duplicates, so the gate must trip"
print("CI gate would fail on:", failing)
print({k: doc[k] for k in ("schema_version", "summary", "near_duplicate_threshold", "label_issue_method")})

# %% [markdown]
# ## The full result, for later
#
# `result.to_json()` keeps everything (every score, timings, config, versions) and
# `AuditResult.from_json` reads it back equal to the original, so a later notebook can
# pick up the findings without re-running the audit. The in-memory artifacts
# (embeddings, k-NN graph) are not serialised; threshold re-filtering needs a live audit.

# %%
saved = OUT / "result.json"
result.to_json(saved)
again = workbench.AuditResult.from_json(saved)
assert again == result and again.artifacts is None
print(f"{saved} ({saved.stat().st_size / 1e3:.0f} kB), schema {again.schema_version}")

# %% [markdown]
# ## Text summary
#
# What `workbench audit` prints, for logs:

# %%
summary = workbench.text_summary(result)
assert f"{len(result.leakage.pairs)} cross-split pairs" in summary
print(summary)

# %% [markdown]
# ## Everything in one view
#
# The live counterpart of the report: every panel in one set of tabs.

# %%
workbench.show(result, dataset=dataset)
