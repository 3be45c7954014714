"""Start FiftyOne's database service before FiftyOne is imported, so the two overlap.

FiftyOne starts its MongoDB through a service process (``fiftyone/service/main.py``) that
itself imports FiftyOne (2-3 s) before it starts ``mongod``; only then does the first query
run. A command-line audit imports FiftyOne too, so the two imports ran one after the other.
:func:`prestart_database_service` starts that same service process, with the same command
FiftyOne would build, as the command line begins; FiftyOne then finds it running (it looks
for a service by its arguments) and attaches to it instead of starting one, exactly as a
second FiftyOne process attaches to the first's. The service stops when its last client
exits, as always.

It starts nothing, and returns ``None``, when the setting is not the plain one it can
reproduce: FiftyOne already imported, a database URI, services disabled, a config file it
can't read, a hosted notebook, or a service already running. After FiftyOne is imported,
:meth:`PrestartedService.confirm` compares FiftyOne's own ``database_dir`` with the one used
and stops the service if they differ, so FiftyOne then starts its own as before.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: The service arguments FiftyOne looks for when it attaches to a running database service.
SERVICE_ARGS = ["--51-service", "db", "--multi"]


@dataclass
class PrestartedService:
    """The service process this process started, and the database folder it serves."""

    process: subprocess.Popen
    database_dir: str

    def confirm(self, fo_config: Any, *, timeout: float = 60.0) -> bool:
        """Keep the service if FiftyOne's config names the same database and the service comes up; else
        stop it (FiftyOne then starts its own). Returns whether it was kept.

        FiftyOne attaches to a running service by messaging it; a service still importing FiftyOne
        can't answer, and FiftyOne would start a second one on the same folder. So this waits until
        the service listens for messages and its ``mongod`` for connections (FiftyOne itself waits
        up to 60 s for its service's ``mongod``).
        """
        same = (getattr(fo_config, "database_uri", None) in (None, "")
                and os.path.realpath(str(fo_config.database_dir)) == os.path.realpath(self.database_dir))
        if not same:
            log.info("FiftyOne's database folder is %s, not %s: stopping the service started early",
                     fo_config.database_dir, self.database_dir)
        elif self._ready(timeout):
            return True
        else:
            log.info("the database service started early did not come up; FiftyOne starts its own")
        self.stop()
        return False

    def _ready(self, timeout: float) -> bool:
        import time

        import psutil

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                service = psutil.Process(self.process.pid)
                if _listening(service) and any(_listening(c) for c in service.children(recursive=True)):
                    return True
            except psutil.Error:
                pass
            time.sleep(0.05)
        return False

    def release(self) -> None:
        """At exit: withdraw this process's registration (FiftyOne registered it when it attached) and close
        the service's stdin (its parent is leaving); it then stops by itself, within about a second, unless
        another process still uses it. Not waited for: a command started within that second finds the
        service shutting down, starts none early and lets FiftyOne connect as before."""
        if self.process.poll() is not None:
            return
        if "fiftyone.service.util" in sys.modules:
            try:
                import psutil
                from fiftyone.service.util import send_ipc_message

                send_ipc_message(psutil.Process(self.process.pid), ("unregister", os.getpid()))
            except Exception as exc:  # at exit, a service that can't be told is left to notice by itself
                log.debug("could not unregister from the database service: %s", exc)
        try:
            if self.process.stdin and not self.process.stdin.closed:
                self.process.stdin.close()
        except OSError:
            pass

    def stop(self) -> None:
        """Close its stdin (how FiftyOne tells a service its parent left) and wait for it."""
        try:
            if self.process.stdin:
                self.process.stdin.close()
            self.process.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()


def _listening(process: Any) -> bool:
    import psutil

    connections = getattr(process, "net_connections", None) or process.connections  # psutil < 6
    return any(not c.raddr and c.status == psutil.CONN_LISTEN for c in connections(kind="tcp"))


def _site_file(*parts: str) -> Path | None:
    """``<site-packages>/parts...`` found on ``sys.path`` without importing any package."""
    for entry in sys.path:
        candidate = Path(entry or ".").joinpath(*parts)
        if candidate.exists():
            return candidate
    return None


def _database_dir() -> str | None:
    """The database folder FiftyOne's config will name, or ``None`` when it can't be told for sure."""
    env = os.environ
    if env.get("FIFTYONE_DATABASE_URI") or env.get("FIFTYONE_DISABLE_SERVICES"):
        return None
    if any(k in env for k in ("COLAB_GPU", "COLAB_RELEASE_TAG", "DATABRICKS_RUNTIME_VERSION")):
        return None  # FiftyOne runs mongod through sudo there
    config_path = Path(env.get("FIFTYONE_CONFIG_PATH") or Path.home() / ".fiftyone" / "config.json")
    config: dict = {}
    if config_path.exists():
        try:
            config = json.loads(config_path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(config, dict) or config.get("database_uri"):
            return None
    raw = env.get("FIFTYONE_DATABASE_DIR") or config.get("database_dir") \
        or str(Path.home() / ".fiftyone" / "var" / "lib" / "mongo")
    return os.path.abspath(os.path.expanduser(str(raw)))


def _service_running() -> bool:
    import psutil

    me = psutil.Process().username()
    n = len(SERVICE_ARGS)
    for p in psutil.process_iter(["cmdline", "username"]):
        cmdline = p.info.get("cmdline") or []
        if p.info.get("username") == me and any(cmdline[i:i + n] == SERVICE_ARGS
                                                for i in range(len(cmdline) - n + 1)):
            return True
    return False


def prestart_database_service() -> PrestartedService | None:
    """Start FiftyOne's database service now (see the module docstring), or return ``None``.

    Example:
        >>> service = prestart_database_service()  # doctest: +SKIP
        >>> import fiftyone as fo; service and service.confirm(fo.config)  # doctest: +SKIP
        True
    """
    if "fiftyone" in sys.modules:
        return None
    database_dir = _database_dir()
    main = _site_file("fiftyone", "service", "main.py")
    mongod = _site_file("fiftyone", "db", "bin", "mongod")
    if database_dir is None or main is None or mongod is None or not os.access(mongod, os.X_OK):
        return None
    try:
        if _service_running():
            return None
        log_path = Path(database_dir) / "log" / "mongo.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.touch(exist_ok=True)
        command = [str(mongod), "--dbpath", database_dir, "--logpath", str(log_path), "--port", "0",
                   "--nounixsocket"]
        # Its own output goes nowhere: inherited, the caller's stdout and stderr pipes would stay open until
        # the service exits, after this process (a caller reading them to the end would wait for it).
        process = subprocess.Popen([sys.executable, str(main), *SERVICE_ARGS, *command], stdin=subprocess.PIPE,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   env={**os.environ, "FIFTYONE_DISABLE_SERVICES": "1"})
    except (OSError, ImportError) as exc:
        log.debug("not starting FiftyOne's database service early: %s", exc)
        return None
    log.debug("started FiftyOne's database service early (pid %d, %s)", process.pid, database_dir)
    service = PrestartedService(process, database_dir)
    # As FiftyOne does for a service it started: tell it at exit that its parent is leaving. It stops once
    # its other clients (FiftyOne registered this process too) are gone; waiting here for that would wait
    # for this very process.
    atexit.register(service.release)
    return service
