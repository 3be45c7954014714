"""Every notebook in notebooks/ runs top to bottom, headless, and is committed without outputs.

Each notebook is a jupytext pair: ``notebooks/NN_name.py`` (percent format) is the source
people edit and review, ``notebooks/NN_name.ipynb`` is what Jupyter opens. The two must
hold the same cells (``make notebooks`` syncs them); the ``.py`` is what runs here.
"""

import json
import os
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / "notebooks"
SOURCES = sorted(NOTEBOOK_DIR.glob("[0-9]*.py"))
#: The environment variable a notebook's parameters cell reads its FiftyOne dataset name from.
DATASET_ENV = "WORKBENCH_NOTEBOOK_DATASET"


def _cells(nb) -> list[tuple[str, str, list[str]]]:
    """What a pair must agree on: each cell's type, source and tags."""
    return [(c.cell_type, c.source, list(c.metadata.get("tags", []))) for c in nb.cells]


def test_notebooks_are_committed_clean():
    """Each .py has its .ipynb with the same cells, no outputs or execution counts, and the python3 kernel."""
    import jupytext
    import nbformat

    assert SOURCES, "no notebook sources in notebooks/"
    assert [p.stem for p in SOURCES] == sorted(p.stem for p in NOTEBOOK_DIR.glob("*.ipynb")), \
        "every notebooks/NN_name.py needs its NN_name.ipynb and the other way round (make notebooks)"
    for source in SOURCES:
        path = source.with_suffix(".ipynb")
        nb = json.loads(path.read_text(encoding="utf-8"))
        assert nb["metadata"]["kernelspec"]["name"] == "python3", path.name
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert code and not any(c["outputs"] or c["execution_count"] for c in code), \
            f"{path.name}: commit notebooks without outputs (make notebooks)"
        text = jupytext.read(source)
        assert text.metadata["kernelspec"]["name"] == "python3", source.name
        ours, theirs = _cells(text), _cells(nbformat.read(path, as_version=4))
        first = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
        assert ours == theirs, (f"{source.name} and {path.name} differ from cell {first + 1} on "
                                f"({len(ours)} and {len(theirs)} cells); run `make notebooks` (jupytext --sync)")


def test_each_notebook_audits_a_dataset_of_its_own():
    """The first code cell (tagged ``parameters``) names the dataset: $WORKBENCH_NOTEBOOK_DATASET, else a
    default unique to the notebook; the notebook loads that dataset and names no other."""
    import jupytext

    defaults = {}
    for source in SOURCES:
        code = [c for c in jupytext.read(source).cells if c.cell_type == "code"]
        assert code[0].metadata.get("tags") == ["parameters"], f"{source.name}: the first code cell is the parameters"
        found = re.search(rf'^DATASET_NAME = os\.environ\.get\("{DATASET_ENV}"\) or "([^"]+)"$', code[0].source, re.M)
        assert found, f"{source.name}: the parameters cell must read DATASET_NAME from {DATASET_ENV}"
        defaults[source.stem] = found.group(1)
        text = "\n".join(c.source for c in code[1:])
        loads = re.findall(r"workbench\.load\(.*", text)
        assert loads and all("name=DATASET_NAME" in call for call in loads), f"{source.name}: {loads}"
        assert not re.search(r"\b(load_dataset|Dataset)\(", text), f"{source.name} opens another dataset"
    assert len(set(defaults.values())) == len(defaults), f"two notebooks share a default dataset: {defaults}"
    assert "workbench-demo" not in defaults.values(), "make demo's dataset is no notebook's default"


def _demo_of(source: Path) -> str:
    """Which shipped demo a notebook audits: ``detection`` (data/detection-demo) or ``fashion-mnist``."""
    return "detection" if "DETECTION_DEMO" in source.read_text(encoding="utf-8") else "fashion-mnist"


@pytest.fixture(scope="module")
def notebook_dataset():
    """One dataset name per demo for the notebooks of this run, as a user running them in order would have:
    each demo is loaded once (not once per notebook), and the datasets are deleted when they are done."""
    names = {demo: f"t-notebooks-{os.getpid()}-{demo}" for demo in ("fashion-mnist", "detection")}
    yield lambda source: names[_demo_of(source)]
    import fiftyone as fo

    for name in names.values():
        if fo.dataset_exists(name):
            fo.delete_dataset(name)


@pytest.mark.slow
@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_notebook_runs(source, kernel_database, notebook_dataset, monkeypatch):
    import jupytext
    from nbclient import NotebookClient

    monkeypatch.setenv("FIFTYONE_DATABASE_URI", kernel_database)  # the kernel inherits the environment
    monkeypatch.setenv(DATASET_ENV, notebook_dataset(source))  # never a user's dataset; deleted after the last
    nb = jupytext.read(source)
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(source.parent)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    shown = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "data" in o]
    assert any("application/vnd.jupyter.widget-view+json" in o["data"] for o in shown), "no panel was displayed"
