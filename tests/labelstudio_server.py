"""A real Label Studio server for the hand-off tests: its own virtual environment, SQLite, loopback only.

``label-studio`` (a Django application with its own pins: Django, DRF, its own label-studio-sdk) never
enters the project's environment. :func:`server_python` installs it from PyPI into
``<venv>/labelstudio-server`` on first use (a few minutes, about 1 GB; built in a staging folder and
renamed, so an interrupted install leaves nothing half-made), and :func:`running_labelstudio` starts it on
a free 127.0.0.1 port with a data folder of its own, a preset user and legacy API token, waits for
``/health`` without a short deadline, and stops it afterwards.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from workbench._mongo import stop_process

#: The server release the tests run (FiftyOne's backend needs >= 1.5.0).
LABEL_STUDIO_VERSION = "1.23.2"
SERVER_VENV = Path(sys.prefix) / "labelstudio-server"
#: Bounds, not expectations: a first start migrates a new SQLite database (about a minute on a quiet
#: machine, several on a busy one); the install downloads about 300 MB of wheels.
READY_TIMEOUT_S = 1200
INSTALL_TIMEOUT_S = 3600
_STAMP = "workbench-installed"


def server_python() -> tuple[Path | None, str]:
    """``(python of the server's venv, "")``, installing it on first use; ``(None, why)`` when that fails."""
    python = SERVER_VENV / "bin" / "python"
    stamp = SERVER_VENV / _STAMP
    if python.exists() and stamp.is_file() and stamp.read_text().strip() == LABEL_STUDIO_VERSION:
        return python, ""
    staging = Path(tempfile.mkdtemp(prefix="labelstudio-server-", dir=sys.prefix))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_FIND_LINKS")}
    try:
        subprocess.run([sys.executable, "-m", "venv", str(staging)], check=True, capture_output=True, timeout=600)
        done = subprocess.run([str(staging / "bin" / "python"), "-m", "pip", "install", "--quiet",
                               "--disable-pip-version-check", f"label-studio=={LABEL_STUDIO_VERSION}"],
                              check=False, env={**env, "PIP_FIND_LINKS": ""}, capture_output=True, text=True,
                              timeout=INSTALL_TIMEOUT_S)
    except (subprocess.SubprocessError, OSError) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        return None, f"creating the server's venv failed: {exc}"
    if done.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        errors = [line for line in done.stderr.splitlines() if "ignored: it is neither" not in line]
        return None, f"pip install label-studio=={LABEL_STUDIO_VERSION} failed: " + "\n".join(errors[-15:])
    (staging / _STAMP).write_text(LABEL_STUDIO_VERSION + "\n")
    if stamp.is_file() and stamp.read_text().strip() == LABEL_STUDIO_VERSION:  # installed meanwhile by another run
        shutil.rmtree(staging, ignore_errors=True)
        return python, ""
    shutil.rmtree(SERVER_VENV, ignore_errors=True)  # another release, or a broken copy
    try:
        staging.rename(SERVER_VENV)
    except OSError:  # installed meanwhile by another run
        shutil.rmtree(staging, ignore_errors=True)
    return python, ""


@dataclass(frozen=True)
class LabelStudio:
    """A running server: its address, the annotator's legacy token and e-mail."""

    url: str
    token: str
    email: str
    log: Path

    def api(self, method: str, path: str, **kwargs):
        """A request to the server's REST API as the annotator (what the UI sends)."""
        import requests

        answer = requests.request(method, f"{self.url}{path}", headers={"Authorization": f"Token {self.token}"},
                                  timeout=(30, 300), **kwargs)
        answer.raise_for_status()
        return answer.json()


def free_port() -> int:
    """A TCP port nothing listens on at this moment (closed again, so connecting to it is refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_labelstudio(python: Path, data_dir: Path) -> Iterator[LabelStudio]:
    """Start Label Studio from ``python``'s venv with its database in ``data_dir``; stop it on exit."""
    import requests

    data_dir.mkdir(parents=True, exist_ok=True)
    token, email = secrets.token_hex(20), "annotator@example.com"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONPATH", "DJANGO_", "LABEL_STUDIO_"))}
    env.update(LABEL_STUDIO_BASE_DATA_DIR=str(data_dir), LABEL_STUDIO_LATEST_VERSION_CHECK="false",
               LABEL_STUDIO_COLLECT_ANALYTICS="false", LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK="true")
    port = free_port()
    log = data_dir / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(python), "-m", "label_studio.server", "start", "--no-browser", "--internal-host", "127.0.0.1",
             "--port", str(port), "--data-dir", str(data_dir), "--username", email,
             "--password", secrets.token_hex(12), "--user-token", token, "--enable-legacy-api-token"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=data_dir)
    try:
        url = _wait_ready(process, log, port, requests)
        yield LabelStudio(url, token, email, log)
    finally:
        stop_process(process, timeout=60)
        process.wait(timeout=60)


def _wait_ready(process: subprocess.Popen, log: Path, port: int, requests) -> str:
    """Poll ``/health`` until it says UP; the port is read from the log (the server moves to the next free
    one when another process took ours meanwhile)."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"Label Studio exited with {process.returncode} before answering:\n{_tail(log)}")
        moved = re.search(r"Starting development server at http://127\.0\.0\.1:(\d+)/", _tail(log, 200_000))
        url = f"http://127.0.0.1:{moved.group(1) if moved else port}"
        with contextlib.suppress(requests.exceptions.RequestException, ValueError):
            if requests.get(f"{url}/health", timeout=30).json().get("status") == "UP":
                return url
        time.sleep(2)
    raise RuntimeError(f"Label Studio did not answer /health within {READY_TIMEOUT_S} s:\n{_tail(log)}")


def _tail(log: Path, n: int = 3000) -> str:
    try:
        return log.read_bytes()[-n:].decode("utf-8", "replace")
    except OSError:
        return ""
