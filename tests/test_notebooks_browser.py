"""The notebooks in a real JupyterLab, driven by headless Chromium: the panels render as live widgets.

A JupyterLab server is started from the project's environment on a free port with a random
token, rooted at ``notebooks/``; it inherits this process's environment, so its kernels use
the test embedding cache of ``tests/conftest.py``, and a MongoDB of their own
(``kernel_database`` in ``tests/conftest.py``), and a FiftyOne dataset name of this module's own
(``WORKBENCH_NOTEBOOK_DATASET``, read by each notebook's parameters cell; the notebooks opened
run one after another, each loading and auditing the demo afresh). Chromium opens a notebook,
runs all cells from the Run menu, waits for the kernel, and checks that the ipywidgets panels
(and plotly charts, where the panel has them) rendered without errors. A full-page
screenshot of each notebook goes to ``artifacts/screenshots/notebook-<name>.png``. A
notebook is also executed and exported with ``jupyter nbconvert --to html --execute`` and
screenshotted for reviewers (no widget assertion there: a static export has no kernel).

JupyterLab's autosave is off, so the committed notebooks are never written with outputs;
the test checks they are unchanged.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.browser import CHROMIUM, CHROMIUM_ARGS, REPO_ROOT, SCREENSHOT_DIR

pytestmark = [pytest.mark.slow, pytest.mark.browser]

NOTEBOOK_DIR = REPO_ROOT / "notebooks"
BIN = REPO_ROOT / ".venv" / "bin" if (REPO_ROOT / ".venv" / "bin" / "jupyter").exists() else Path(sys.executable).parent
MAX_SCREENSHOT_HEIGHT = 16_000  # pixels; Chromium's limit for one capture is about 16k
RUN_TIMEOUT_S = 600  # a cold embedding cache costs about a minute; the audits half a minute each

#: Notebooks opened in JupyterLab: the duplicates panel (threshold slider) and the bias panel
#: (plotly charts). ``WORKBENCH_BROWSER_NOTEBOOKS=01,03`` opens others instead (by number or name).
LIVE_NOTEBOOKS = [p.stem for p in sorted(NOTEBOOK_DIR.glob("*.ipynb"))
                  if p.stem.split("_")[0] in os.environ.get("WORKBENCH_BROWSER_NOTEBOOKS", "02,04").split(",")
                  or p.stem in os.environ.get("WORKBENCH_BROWSER_NOTEBOOKS", "").split(",")]
#: Notebooks whose last panel draws plotly charts.
PLOTLY_NOTEBOOKS = {"03_label_issues", "04_bias_and_imbalance"}
#: The notebook exported to static HTML with nbconvert.
EXPORTED_NOTEBOOK = "01_load_and_overview"

#: User settings for the test's JupyterLab: no autosave (the notebooks stay without outputs), no
#: news or update checks (no network), every cell in the DOM (windowing off) for the checks.
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}

# Cells are done when every code cell shows an execution count; a cell that raised leaves
# the cells after it unexecuted, and its output holds the traceback.
_PROGRESS_JS = """() => {
  const cells = [...document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell')];
  const prompts = cells.map(c => (c.querySelector('.jp-InputPrompt') || {}).textContent || '');
  const indicator = document.querySelector('.jp-Notebook-ExecutionIndicator');
  return {n: cells.length, done: prompts.filter(p => /\\[\\d+\\]/.test(p)).length,
          running: prompts.filter(p => p.includes('*')).length,
          status: indicator ? indicator.getAttribute('data-status') : null};
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _digests() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in NOTEBOOK_DIR.glob("*.ipynb")}


@pytest.fixture(scope="module")
def chromium():
    if not CHROMIUM.exists():
        pytest.fail("install Chromium: apt-get install chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _delete_dataset(name: str) -> None:
    import fiftyone as fo

    if fo.dataset_exists(name):
        fo.delete_dataset(name)


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory, kernel_database):
    """A JupyterLab server on ``notebooks/``: yields its base URL and token; stopped afterwards."""
    home = tmp_path_factory.mktemp("jupyterlab")
    dataset_name = f"t-jupyterlab-{secrets.token_hex(6)}"  # the kernels' dataset, deleted afterwards
    for name, value in LAB_SETTINGS.items():
        path = home / "settings" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    env = dict(os.environ, JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"), JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), FIFTYONE_DATABASE_URI=kernel_database,
               WORKBENCH_NOTEBOOK_DATASET=dataset_name)
    port, token = _free_port(), secrets.token_hex(16)
    checkpoints = NOTEBOOK_DIR / ".ipynb_checkpoints"  # JupyterLab writes one per opened notebook
    had_checkpoints = set(checkpoints.iterdir()) if checkpoints.exists() else None
    before = _digests()
    log = (home / "server.log").open("w")
    proc = subprocess.Popen(
        [str(BIN / "jupyter"), "lab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={NOTEBOOK_DIR}", "--ServerApp.allow_root=True",
         "--ServerApp.terminals_enabled=False", "--LabApp.extension_manager=readonly",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited: {(home / 'server.log').read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                if time.time() > deadline:
                    pytest.fail(f"jupyter lab did not answer: {(home / 'server.log').read_text()[-3000:]}")
                time.sleep(0.5)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        for path in set(checkpoints.glob("*")) - (had_checkpoints or set()):
            path.unlink()
        if had_checkpoints is None and checkpoints.exists() and not any(checkpoints.iterdir()):
            checkpoints.rmdir()
        _delete_dataset(dataset_name)
        assert _digests() == before, "JupyterLab wrote to the committed notebooks"


def _run_all_cells(page, name: str) -> dict:
    """Run every cell from JupyterLab's Run menu; return the progress once the kernel is idle and all ran."""
    # The kernel started and is connected: the status bar reads "Python 3 (ipykernel) | Idle".
    page.wait_for_function("() => /\\|\\s*Idle/.test(document.querySelector('.jp-StatusBar-Widget')?.innerText || '')",
                           timeout=120_000)
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()
    page.wait_for_function(f"({_PROGRESS_JS})().running > 0 || ({_PROGRESS_JS})().done > 0", timeout=30_000)
    deadline = time.time() + RUN_TIMEOUT_S
    idle_since = None
    while True:
        progress = page.evaluate(_PROGRESS_JS)
        if progress["done"] == progress["n"] and progress["status"] == "idle":
            return progress
        # Idle with cells left over: a cell raised (JupyterLab drops the rest of the queue).
        if progress["status"] == "idle" and progress["running"] == 0:
            idle_since = idle_since or time.time()
            if time.time() - idle_since > 10:
                errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
                pytest.fail(f"{name}: {progress['done']} of {progress['n']} cells ran; "
                            f"stderr: {errors.all_inner_texts()[-2:]}")
        else:
            idle_since = None
        if time.time() > deadline:
            pytest.fail(f"{name}: cells still running after {RUN_TIMEOUT_S} s: {progress}")
        page.wait_for_timeout(1000)


def _full_page_screenshot(page, path: Path) -> None:
    """Grow the window to the notebook's height so one screenshot holds every cell."""
    scroller = "document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer')"
    extra = page.evaluate(f"() => window.innerHeight - {scroller}.clientHeight")
    height = page.evaluate(f"() => {scroller}.scrollHeight")
    page.set_viewport_size({"width": 1360, "height": min(int(height + extra) + 40, MAX_SCREENSHOT_HEIGHT)})
    page.wait_for_timeout(1500)  # let plotly and the widgets re-lay out
    page.evaluate(f"() => {{ {scroller}.scrollTop = 0; }}")  # Run All left it scrolled to the last cell
    page.wait_for_timeout(500)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": 1360, "height": 900})


@pytest.mark.parametrize("name", LIVE_NOTEBOOKS)
def test_notebook_panels_render_in_jupyterlab(jupyterlab, chromium, name):
    base, token = jupyterlab
    page = chromium.new_page(viewport={"width": 1360, "height": 900})
    page_errors: list[str] = []
    console_errors: list[str] = []
    page.on("pageerror", lambda e: page_errors.append(str(e)))
    page.on("console", lambda m: m.type == "error" and console_errors.append(m.text))
    try:
        _check_notebook(page, base, token, name, page_errors, console_errors)
    except BaseException:
        page.screenshot(path=str(SCREENSHOT_DIR / f"notebook-{name}-failure.png"), full_page=True)
        raise
    finally:
        page.close()


def _check_notebook(page, base: str, token: str, name: str, page_errors: list[str], console_errors: list[str]):
    if True:
        page.goto(f"{base}/doc/tree/{name}.ipynb?token={token}")  # /doc: the single-document interface
        page.wait_for_selector(".jp-NotebookPanel .jp-CodeCell", timeout=120_000)
        started = time.time()
        progress = _run_all_cells(page, name)
        print(f"{name}: {progress['n']} code cells ran in JupyterLab in {time.time() - started:.0f} s")

        outputs = page.locator(".jp-NotebookPanel .jp-OutputArea")
        # Widgets render after their cell finished; give the last ones a moment.
        page.wait_for_function(
            "() => !document.body.innerText.includes('Loading widget...')", timeout=60_000)
        text = outputs.all_inner_texts()
        joined = "\n".join(text)
        assert "Error displaying widget" not in joined
        assert "Traceback (most recent call last)" not in joined
        widgets = page.locator(".jp-OutputArea .jupyter-widgets")
        assert widgets.count() > 0, "no ipywidgets rendered"
        assert page.locator(".jp-OutputArea .widget-vbox, .jp-OutputArea .widget-tab").count() > 0
        if name in PLOTLY_NOTEBOOKS:
            page.wait_for_selector(".jp-OutputArea .js-plotly-plot", timeout=60_000)
            assert page.locator(".jp-OutputArea .js-plotly-plot svg.main-svg").count() > 0
        _full_page_screenshot(page, SCREENSHOT_DIR / f"notebook-{name}.png")
        if name.startswith("02_"):
            _check_threshold_slider(page)
        assert not page_errors, page_errors
        widget_errors = [m for m in console_errors if re.search(r"widget|plotly|comm|model", m, re.I)]
        assert not widget_errors, widget_errors


def _check_threshold_slider(page) -> None:
    """Typing a threshold into the slider's readout re-filters in the kernel and redraws the summary."""
    panel = page.locator(".jp-OutputArea .wb-duplicates").last
    summary = panel.locator(".widget-html", has_text="near threshold").first
    readout = panel.locator(".widget-readout").first

    def set_threshold(value: str) -> str:
        readout.click()
        page.keyboard.press("Control+A")
        page.keyboard.type(value)
        page.keyboard.press("Enter")
        expected = f"near threshold {float(value):.3f}"
        page.wait_for_function(
            "(expected) => [...document.querySelectorAll('.wb-duplicates .widget-html')]"
            ".some(e => e.innerText.includes(expected))", arg=expected, timeout=30_000)
        return summary.inner_text()

    def clusters(text: str) -> int:
        return int(re.search(r"(\d+) clusters", text).group(1))

    audit = summary.inner_text()
    # the audit's own (calibrated) strict threshold is shown; the slider then re-filters with one plain threshold
    assert re.search(r"near threshold 0\.\d{3}", audit), audit
    exact_only = set_threshold("0")
    assert clusters(exact_only) < clusters(audit), (audit, exact_only)
    assert clusters(set_threshold("0.06")) > clusters(exact_only)


def test_nbconvert_export_of_a_notebook(chromium, kernel_database, unique_name, tmp_path):
    """``jupyter nbconvert --to html --execute`` runs a notebook; the export is screenshotted for reviewers."""
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    source = NOTEBOOK_DIR / f"{EXPORTED_NOTEBOOK}.ipynb"
    before = source.read_bytes()
    out_name = f"notebook-{EXPORTED_NOTEBOOK}"
    started = time.time()
    done = subprocess.run(
        [str(BIN / "jupyter"), "nbconvert", "--to", "html", "--execute", "--ExecutePreprocessor.timeout=900",
         "--ExecutePreprocessor.kernel_name=python3", "--output-dir", str(SCREENSHOT_DIR), "--output", out_name,
         str(source)],
        env=dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), FIFTYONE_DATABASE_URI=kernel_database,
                 WORKBENCH_NOTEBOOK_DATASET=unique_name),
        capture_output=True, text=True,
        timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    print(f"{EXPORTED_NOTEBOOK}: nbconvert --execute in {time.time() - started:.0f} s")
    assert source.read_bytes() == before
    html_path = SCREENSHOT_DIR / f"{out_name}.html"
    html = html_path.read_text(encoding="utf-8")
    assert "Traceback (most recent call last)" not in html and "workbench audit of" in html

    page = chromium.new_page(viewport={"width": 1360, "height": 900})
    # Offline: the export's CDN scripts (require.js, MathJax, the widget manager) are not fetched.
    page.route(re.compile(r"^https?://"), lambda route: route.abort())
    try:
        page.goto(html_path.as_uri(), wait_until="domcontentloaded")
        page.wait_for_timeout(1000)
        assert page.locator(".jp-Notebook .jp-Cell").count() > 5
        page.screenshot(path=str(SCREENSHOT_DIR / f"{out_name}-nbconvert.png"), full_page=True)
    finally:
        page.close()
