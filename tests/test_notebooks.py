"""Every notebook in notebooks/ runs top to bottom, headless, and is committed without outputs.

The notebooks are written by ``scripts/make_notebooks.py``; edit the cells there.
"""

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def _generator():
    spec = importlib.util.spec_from_file_location("make_notebooks", REPO / "scripts" / "make_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_notebooks_are_committed_clean():
    """No outputs or execution counts, the python3 kernel, and each notebook as the generator writes it."""
    assert [p.stem for p in NOTEBOOKS] == sorted(_generator().NOTEBOOKS)
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text(encoding="utf-8"))
        assert nb["metadata"]["kernelspec"]["name"] == "python3", path.name
        code = [c for c in nb["cells"] if c["cell_type"] == "code"]
        assert code and not any(c["outputs"] or c["execution_count"] for c in code), \
            f"{path.name}: commit notebooks without outputs"
    assert _generator().main(["--check"]) == 0, "notebooks differ from scripts/make_notebooks.py; re-run it"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path, kernel_database, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("FIFTYONE_DATABASE_URI", kernel_database)  # the kernel inherits the environment
    nb = nbformat.read(path, as_version=4)
    assert not any(c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit notebooks without outputs"
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    shown = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "data" in o]
    assert any("application/vnd.jupyter.widget-view+json" in o["data"] for o in shown), "no panel was displayed"
