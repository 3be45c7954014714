"""Every notebook in notebooks/ runs top to bottom, headless, and is committed without outputs.

Each notebook is a jupytext pair: ``notebooks/NN_name.py`` (percent format) is the source
people edit and review, ``notebooks/NN_name.ipynb`` is what Jupyter opens. The two must
hold the same cells (``make notebooks`` syncs them); the ``.py`` is what runs here.
"""

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / "notebooks"
SOURCES = sorted(NOTEBOOK_DIR.glob("[0-9]*.py"))


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


@pytest.mark.slow
@pytest.mark.parametrize("source", SOURCES, ids=[p.stem for p in SOURCES])
def test_notebook_runs(source, kernel_database, monkeypatch):
    import jupytext
    from nbclient import NotebookClient

    monkeypatch.setenv("FIFTYONE_DATABASE_URI", kernel_database)  # the kernel inherits the environment
    nb = jupytext.read(source)
    NotebookClient(nb, timeout=900, kernel_name="python3",
                   resources={"metadata": {"path": str(source.parent)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    shown = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "data" in o]
    assert any("application/vnd.jupyter.widget-view+json" in o["data"] for o in shown), "no panel was displayed"
