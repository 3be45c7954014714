"""`workbench app` serves the real FiftyOne App on an audited dataset."""

import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_app_serves_saved_view(imagefolder, unique_name):
    import workbench

    workbench.audit(imagefolder, name=unique_name, progress=False,
                    config=workbench.AuditConfig(embedder=workbench.EmbedderConfig(name="efficientnet-lite0")))
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", "app", unique_name, "--view", "wb-leaks",
                             "--remote", "--address", "127.0.0.1", "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=dict(os.environ))
    try:
        deadline, status = time.time() + 90, None
        while time.time() < deadline and status != 200:
            if proc.poll() is not None:
                pytest.fail(f"workbench app exited: {proc.stdout.read().decode()[-2000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as resp:
                    status, body = resp.status, resp.read(2000).decode()
            except OSError:
                time.sleep(1)
        assert status == 200 and "<html" in body.lower()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _listening_addresses(port: int) -> set[str]:
    import psutil

    return {c.laddr.ip for c in psutil.net_connections("tcp") if c.status == "LISTEN" and c.laddr.port == port}


@pytest.mark.parametrize("extra, expected", [((), {"127.0.0.1"}), (("--remote",), {"0.0.0.0"})],
                         ids=["default-loopback", "remote-all-interfaces"])
def test_app_binds_loopback_unless_remote(imagefolder, unique_name, extra, expected):
    """Inside containers FiftyOne binds 0.0.0.0 by itself; workbench binds 127.0.0.1 unless told."""
    import workbench

    workbench.audit(imagefolder, name=unique_name, progress=False,
                    config=workbench.AuditConfig(embedder=workbench.EmbedderConfig(name="none")))
    port = _free_port()
    env = dict(os.environ, BROWSER="true")  # the default opens a browser: `true` stands in for it
    proc = subprocess.Popen([sys.executable, "-m", "workbench.cli", "app", unique_name, "--port", str(port), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
    try:
        deadline, bound = time.time() + 180, set()
        while time.time() < deadline and not bound:
            if proc.poll() is not None:
                pytest.fail(f"workbench app exited: {proc.stdout.read().decode()[-2000:]}")
            bound = _listening_addresses(port)
            time.sleep(0.5)
        assert bound == expected
    finally:
        proc.terminate()
        proc.wait(timeout=30)
