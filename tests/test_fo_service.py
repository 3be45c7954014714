"""FiftyOne's database service started before FiftyOne is imported (``workbench._fo_service``).

The subprocess tests run FiftyOne's own service (no ``FIFTYONE_DATABASE_URI``) on a temporary
database folder, as a user's command line does; they skip when another FiftyOne database
service of this user is running, since FiftyOne would attach to that one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.catalogue.harness import untouched
from tests.catalogue.test_boundary_and_faults import _fiftyone_db_services, _kill_mongods_of
from tests.conftest import write_image
from workbench import _fo_service


@pytest.fixture
def plain_env(monkeypatch, tmp_path):
    """No URI, no config file: FiftyOne would use ``~/.fiftyone/var/lib/mongo`` of this HOME."""
    for var in ("FIFTYONE_DATABASE_URI", "FIFTYONE_DISABLE_SERVICES", "FIFTYONE_DATABASE_DIR", "COLAB_GPU",
                "DATABRICKS_RUNTIME_VERSION"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("FIFTYONE_CONFIG_PATH", str(tmp_path / "config.json"))
    return tmp_path


def test_the_database_folder_is_the_one_fiftyone_will_use(plain_env, monkeypatch):
    assert _fo_service._database_dir() == str(plain_env / ".fiftyone" / "var" / "lib" / "mongo")
    (plain_env / "config.json").write_text(json.dumps({"database_dir": "~/db"}))
    assert _fo_service._database_dir() == str(plain_env / "db")
    monkeypatch.setenv("FIFTYONE_DATABASE_DIR", str(plain_env / "env-db"))
    assert _fo_service._database_dir() == str(plain_env / "env-db")  # the variable wins, as in FiftyOne


@pytest.mark.parametrize("setting", ["uri", "uri in config", "disabled", "bad config", "colab"])
def test_nothing_starts_where_fiftyone_would_not_start_this_service(plain_env, monkeypatch, setting):
    if setting == "uri":
        monkeypatch.setenv("FIFTYONE_DATABASE_URI", "mongodb://127.0.0.1:1")
    elif setting == "uri in config":
        (plain_env / "config.json").write_text(json.dumps({"database_uri": "mongodb://127.0.0.1:1"}))
    elif setting == "disabled":
        monkeypatch.setenv("FIFTYONE_DISABLE_SERVICES", "1")
    elif setting == "bad config":
        (plain_env / "config.json").write_text("{not json")
    else:
        monkeypatch.setenv("COLAB_GPU", "0")
    assert _fo_service._database_dir() is None


_SCRIPT = """
import json, sys, types
from workbench._fo_service import prestart_database_service
service = prestart_database_service()
assert service is not None and "fiftyone" not in sys.modules
asked = sys.argv[1]
kept = service.confirm(types.SimpleNamespace(database_dir=asked, database_uri=None), timeout=600)
running = service.process.poll() is None
if kept:
    service.stop()
print(json.dumps({"kept": kept, "running_after_confirm": running, "dir": service.database_dir,
                  "stopped": service.process.poll() is not None}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("same_folder", [True, False])
def test_the_service_is_kept_only_for_the_folder_fiftyone_names(tmp_path, same_folder):
    if _fiftyone_db_services():
        pytest.skip("another FiftyOne database service of this user is running")
    db = tmp_path / "db"
    env = {k: v for k, v in os.environ.items() if k != "FIFTYONE_DATABASE_URI"}
    env.update(FIFTYONE_DATABASE_DIR=str(db), FIFTYONE_CONFIG_PATH=str(tmp_path / "none.json"))
    asked = db if same_folder else tmp_path / "elsewhere"
    try:
        run = subprocess.run([sys.executable, "-c", _SCRIPT, str(asked)], env=env, capture_output=True, text=True,
                             timeout=900)
        assert run.returncode == 0, run.stderr[-2000:]
        out = json.loads(run.stdout.strip().splitlines()[-1])
        assert out["dir"] == str(db) and out["stopped"]
        # kept: it came up (listening, with its mongod) and was running; refused: stopped at once
        assert out["kept"] is same_folder and out["running_after_confirm"] is same_folder
        assert (db / "log" / "mongo.log").exists()
    finally:
        _kill_mongods_of(db)


@pytest.mark.slow
def test_a_command_line_audit_attaches_fiftyone_to_the_service_it_started(tmp_path):
    """The CLI starts the service before importing FiftyOne; FiftyOne attaches to it (no second service,
    no retry), the findings are written to that database, and nothing is left running afterwards."""
    if _fiftyone_db_services():
        pytest.skip("another FiftyOne database service of this user is running")
    root = tmp_path / "ds"
    for i in range(6):
        write_image(root / "train" / ("a" if i % 2 else "b") / f"{i}.png", 900 + i)
    (root / "train" / "a" / "copy.png").write_bytes((root / "train" / "a" / "1.png").read_bytes())
    db = tmp_path / "db"
    env = {k: v for k, v in os.environ.items() if k != "FIFTYONE_DATABASE_URI"}
    env.update(FIFTYONE_DATABASE_DIR=str(db), FIFTYONE_CONFIG_PATH=str(tmp_path / "none.json"),
               WORKBENCH_CACHE=str(tmp_path / "cache"))
    try:
        with untouched(root):
            run = subprocess.run([sys.executable, "-m", "workbench.cli", "-v", "audit", str(root), "--name",
                                  "wb-test-prestart", "--embedder", "none", "--quiet", "--json",
                                  str(tmp_path / "a.json")], env=env, capture_output=True, text=True, timeout=1800)
        assert run.returncode == 0, run.stderr[-3000:]
        assert "started FiftyOne's database service early" in run.stderr
        assert "did not respond" not in run.stderr and "retrying" not in run.stderr
        assert json.loads((tmp_path / "a.json").read_text())["summary"]["duplicates"] >= 1
        assert any(db.glob("collection-*.wt"))  # the dataset lives in this folder's database
        # the service stops once its last client (the audit) has gone; give a busy machine time
        deadline = time.monotonic() + 300
        while _mongods_of(db) and time.monotonic() < deadline:
            threading.Event().wait(0.2)
        assert not _mongods_of(db)
    finally:
        _kill_mongods_of(db)


def _mongods_of(folder: Path) -> list[int]:
    import psutil

    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info.get("cmdline") or []
        if cmd and cmd[0].endswith("mongod") and str(folder) in cmd:
            found.append(p.pid)
    return found
