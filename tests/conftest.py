"""Shared fixtures. The suite runs FiftyOne's real MongoDB (the ``mongod`` FiftyOne ships), privately.

FiftyOne attaches a new process to *any* running FiftyOne database service of the same
user, whatever its folder, so ``FIFTYONE_DATABASE_DIR`` alone does not isolate tests: a
test could write into the user's own database, or lose its database when another session
ends. So the suite starts its own ``mongod`` on a free loopback port, in a temporary
folder, when the session is configured (:func:`pytest_configure`: before collection, so before
anything imports FiftyOne, but not when a script merely imports a helper from this module),
and points ``FIFTYONE_DATABASE_URI`` at it; subprocesses (the CLI, the App, notebook kernels)
inherit it. :func:`pytest_unconfigure` stops it. The embedding cache is private too.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from workbench._mongo import start_private_mongod, stop_process  # imports no FiftyOne

#: The session's private database: ``{"uri", "process", "run_dir"}``, filled by :func:`pytest_configure`.
_SESSION: dict = {}


def pytest_configure(config) -> None:
    """Start the suite's private ``mongod`` and point FiftyOne (and every subprocess) at it."""
    if _SESSION:
        return
    run_dir = Path(tempfile.mkdtemp(prefix="workbench-tests-"))
    process, uri = start_private_mongod(run_dir / "mongo")
    _SESSION.update(uri=uri, process=process, run_dir=run_dir)
    # A crash that skips pytest_unconfigure still stops it (atexit runs last-in first: mongod, then the folder).
    atexit.register(shutil.rmtree, run_dir, ignore_errors=True)
    atexit.register(stop_process, process)
    os.environ["FIFTYONE_DATABASE_URI"] = uri
    os.environ["FIFTYONE_DATABASE_DIR"] = str(run_dir / "fiftyone-db")
    os.environ.setdefault("FIFTYONE_DO_NOT_TRACK", "true")
    os.environ["WORKBENCH_CACHE"] = str(run_dir / "cache")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


def pytest_unconfigure(config) -> None:
    """Stop the private ``mongod`` at the end of the session (its folder goes at exit).

    FiftyOne registers an exit handler that deletes non-persistent datasets; run after ``mongod`` has
    stopped, it waits minutes for the server before giving up. It runs here instead, while the
    database is up, and is unregistered.
    """
    database = sys.modules.get("fiftyone.core.odm.database")
    if database is not None and hasattr(database, "_delete_non_persistent_datasets_if_allowed"):
        atexit.unregister(database._delete_non_persistent_datasets_if_allowed)
        if _SESSION.get("process") is not None and _SESSION["process"].poll() is None:
            database._delete_non_persistent_datasets_if_allowed()
    process = _SESSION.get("process")
    if process is not None:
        stop_process(process)

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "data" / "demo" / "fashion-mnist"
MANIFEST = REPO / "data" / "demo" / "PLANTED.json"


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root``: proves a run left the user's files untouched."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def cli_choices(command: str, option: str) -> tuple[str, ...]:
    """The choices ``workbench COMMAND`` offers for ``option``, read from the parser the CLI builds."""
    import argparse

    from workbench.cli import _parser

    sub = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    return tuple(next(a for a in sub.choices[command]._actions if option in a.option_strings).choices)


def write_image(path: Path, seed: int, size: int = 32, fmt: str | None = None) -> Path:
    """A small real image with a seeded random pattern (distinct seeds give distinct images)."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (4, 4, 3), dtype=np.uint8)
    img = Image.fromarray(base).resize((size, size), Image.Resampling.NEAREST)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, format=fmt)
    return path


@pytest.fixture(scope="session")
def kernel_database() -> str:
    """The suite's private MongoDB URI (already in the environment; kernels and subprocesses inherit it)."""
    return _SESSION["uri"]


@pytest.fixture(scope="session")
def pyarrow_deps() -> str:
    """A folder holding pyarrow, for Hugging Face tests run in a subprocess (installed on first use)."""
    from tests.io.format_fixtures import pyarrow_path

    path = pyarrow_path()
    if path is None:
        pytest.skip("pyarrow is not installed and can't be installed into <venv>/test-deps (offline?)")
    return path


@pytest.fixture(scope="session")
def labelstudio(tmp_path_factory):
    """A real Label Studio server on 127.0.0.1, from its own venv (installed on first use), one per session."""
    from tests.labelstudio_server import running_labelstudio, server_python

    python, why = server_python()
    if python is None:
        pytest.skip(f"Label Studio can't be installed into <venv>/labelstudio-server: {why}")
    with running_labelstudio(python, tmp_path_factory.mktemp("labelstudio")) as server:
        yield server


@pytest.fixture
def unique_name(request) -> str:
    """A FiftyOne dataset name unique to the test; the dataset is deleted afterwards."""
    name = "t-" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:12]
    yield name
    import fiftyone as fo

    if fo.dataset_exists(name):
        fo.delete_dataset(name)


@pytest.fixture
def imagefolder(tmp_path: Path) -> Path:
    """train/ and test/ class folders of small distinct images, with one exact train->test leak."""
    return split_class_folders(tmp_path / "imgs", leak_to="test/cat/copied.png")


def split_class_folders(root: Path, *, leak_to: str) -> Path:
    """train (6 cat, 6 dog) and test (3 cat, 3 dog) of distinct images, plus train/cat/train-cat-0.png
    copied byte for byte to ``leak_to`` (a train->test leak and an exact duplicate)."""
    seed = 0
    for split, n in (("train", 6), ("test", 3)):
        for label in ("cat", "dog"):
            for _ in range(n):
                write_image(root / split / label / f"{split}-{label}-{seed}.png", seed)
                seed += 1
    (root / leak_to).write_bytes((root / "train" / "cat" / "train-cat-0.png").read_bytes())
    return root


@pytest.fixture(scope="module")
def dask_local_client():
    """A real Dask ``LocalCluster`` of two single-threaded worker processes and a client of it (one per module)."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit="2GiB",
                      scheduler_kwargs={"dashboard": False}) as cluster, \
            Client(cluster, set_as_default=False) as client:
        yield client
