"""Helpers shared by the benchmark scripts: machine description, a private MongoDB, and
peak-memory measurement of one tool per subprocess (``VmHWM``, not ``ru_maxrss``: see :func:`vm_hwm_mb`).

Nothing here imports FiftyOne, torch or faiss at import time; each benchmark imports what it
measures inside the subprocess that measures it.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO / "build" / "bench"

#: CPU flags worth recording next to any timing (SIMD width and bf16/AMX matmul support).
CPU_FLAGS = ("avx2", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8",
             "amx_tile", "fma")

#: Environment variables that change how many threads numeric libraries use.
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


def timestamp() -> str:
    """Local date and time for file names: ``2026-11-22T0541``."""
    return _dt.datetime.now().strftime("%Y-%m-%dT%H%M")


def package_versions(names: Sequence[str]) -> dict[str, str | None]:
    """Installed distribution versions (``None`` when absent), read from metadata without importing."""
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def _cpuinfo() -> tuple[str, list[str]]:
    model, flags = platform.processor() or "unknown", set()
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return model, []
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model in ("unknown", "", platform.machine()):
            model = value.strip()
        elif key == "flags" and not flags:
            flags = set(value.split())
    wanted = [f for f in CPU_FLAGS if f in flags]
    wanted += sorted(f for f in flags if f.startswith("amx") and f not in CPU_FLAGS)
    return model, wanted


def _git_state() -> dict[str, str | bool | None]:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                                    capture_output=True, text=True, check=True).stdout.strip())
        return {"commit": commit, "dirty": dirty}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}


def machine_info(packages: Sequence[str] = ()) -> dict:
    """Where and with what a benchmark ran: date, CPU, cores, memory, load, versions, BLAS threads.

    Example:
        >>> info = machine_info(["numpy"])
        >>> {"cpu_model", "cpu_flags", "nproc", "packages"} <= set(info)
        True
    """
    model, flags = _cpuinfo()
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count()
    mem_total = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_total = round(int(line.split()[1]) / 1024 ** 2, 1)
    blas = None
    with contextlib.suppress(ImportError):
        import numpy  # noqa: F401  (loads numpy's BLAS so threadpoolctl sees it)
        from threadpoolctl import threadpool_info

        blas = [{k: v for k, v in lib.items() if k in ("internal_api", "num_threads", "version", "architecture")}
                for lib in threadpool_info()]
    return {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "host_id": hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8],
        "platform": platform.platform(),
        "cpu_model": model,
        "cpu_flags": flags,
        "nproc": affinity,
        "cpu_count": os.cpu_count(),
        "mem_total_gib": mem_total,
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "packages": package_versions(packages),
        "blas": blas,
        "thread_env": {k: os.environ[k] for k in THREAD_VARS if k in os.environ},
        "git": _git_state(),
    }


# --------------------------------------------------------------------------------------------
# A private MongoDB for FiftyOne (same approach as tests/conftest.py)
# --------------------------------------------------------------------------------------------

@dataclass
class PrivateMongo:
    """A ``mongod`` this process started: its URI, process and folder. Use :func:`private_mongod`."""

    uri: str
    process: subprocess.Popen
    folder: Path

    def env(self) -> dict[str, str]:
        """Variables that point FiftyOne (in a subprocess) at this database and nothing else."""
        return {"FIFTYONE_DATABASE_URI": self.uri, "FIFTYONE_DATABASE_DIR": str(self.folder / "fiftyone-db"),
                "FIFTYONE_DO_NOT_TRACK": os.environ.get("FIFTYONE_DO_NOT_TRACK", "true"),
                "FIFTYONE_SHOW_PROGRESS_BARS": "false"}


@contextlib.contextmanager
def private_mongod(folder: Path | None = None, *, start_timeout: float = 60.0) -> Iterator[PrivateMongo]:
    """Start FiftyOne's own ``mongod`` on a free loopback port in a temporary folder; stop it on exit.

    FiftyOne attaches to *any* running FiftyOne ``mongod`` of the same user, so a benchmark
    that just imported FiftyOne could write into someone else's database. Pass
    :meth:`PrivateMongo.env` to the subprocess that imports FiftyOne instead. The start and
    stop are ``workbench._mongo``'s (the test suite uses the same ones).

    Example:
        >>> with private_mongod() as mongo:  # doctest: +SKIP
        ...     subprocess.run([...], env={**os.environ, **mongo.env()})
    """
    from workbench._mongo import start_private_mongod, stop_process

    owned = folder is None
    folder = Path(tempfile.mkdtemp(prefix="workbench-bench-mongo-")) if folder is None else folder
    proc = None
    try:
        proc, uri = start_private_mongod(folder / "db", timeout=start_timeout)
        yield PrivateMongo(uri=uri, process=proc, folder=folder)
    finally:
        if proc is not None and proc.poll() is None:
            stop_process(proc)
            proc.wait()
        if owned:
            shutil.rmtree(folder, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Peak memory of one tool, measured in its own subprocess
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class MeasuredRun:
    """What :func:`run_measured` saw of one subprocess."""

    argv: tuple[str, ...]
    returncode: int
    wall_seconds: float
    peak_rss_mb: float | None  #: the child's own high-water mark (``VmHWM``), last sample before it exited
    ru_maxrss_mb: float  #: ``ru_maxrss`` from ``wait4``; on Linux at least the parent's RSS when it spawned
    sampled_tree_rss_mb: float | None  #: max RSS of the child and its descendants, sampled every ``interval``
    user_seconds: float
    system_seconds: float
    watched_peak_rss_mb: dict[str, float] = field(default_factory=dict)  #: other processes, sampled (e.g. mongod)
    timed_out: bool = False
    log_path: str | None = None

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


def vm_hwm_mb(pid: int | str = "self") -> float | None:
    """Peak resident set size of a process's *own* address space (``VmHWM``), in MB; ``None`` if unreadable.

    Prefer it to ``ru_maxrss``: Linux folds the address space a process had before ``exec``
    into ``ru_maxrss`` (``exec_mmap`` keeps the old high-water mark), and a child spawned by
    ``subprocess`` starts from a copy of (or shares, with ``vfork``) its parent's memory, so a
    benchmark parent holding 2 GB of vectors would make every worker's ``ru_maxrss`` >= 2 GB.
    ``VmHWM`` belongs to the new address space and starts at zero.
    """
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _rss_tree_mb(proc) -> float:
    import psutil

    total = 0
    with contextlib.suppress(psutil.Error):
        total += proc.memory_info().rss
        for child in proc.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
    return total / 1024 ** 2


def run_measured(argv: Sequence[str], *, env: dict[str, str] | None = None, cwd: Path | None = None,
                 timeout: float | None = None, log_path: Path | None = None,
                 watch: dict[str, int] | None = None, interval: float = 0.05) -> MeasuredRun:
    """Run ``argv`` in a fresh process and return its exit status, wall time, CPU time and peak RSS.

    The peak is the child's ``VmHWM`` (see :func:`vm_hwm_mb`), sampled every ``interval``
    seconds; it is a high-water mark, so only a new peak in the last ``interval`` before the
    child exits can be missed. For an exact figure the child should also report
    ``peak_rss_mb_self()`` itself just before it exits (the benchmarks' workers do).
    ``watch`` (name -> pid) samples other processes too, for tools that keep memory
    elsewhere (FiftyOne's ``mongod``).

    Example:
        >>> run = run_measured([sys.executable, "-c", "import time; x = bytearray(50 * 2**20); time.sleep(0.3)"])
        >>> run.ok and run.peak_rss_mb > 50
        True
    """
    import psutil

    log = open(log_path, "wb") if log_path else subprocess.DEVNULL
    start = time.perf_counter()
    try:
        proc = subprocess.Popen(list(argv), env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        ps = psutil.Process(proc.pid)
        watched = {name: psutil.Process(pid) for name, pid in (watch or {}).items()}
        hwm: float | None = None
        tree = 0.0
        watched_peak = {name: 0.0 for name in watched}
        timed_out = False
        while True:
            sample = vm_hwm_mb(proc.pid)  # read before wait4: after it the process is gone
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if sample is not None:
                hwm = sample if hwm is None else max(hwm, sample)
            if pid == proc.pid:
                break
            tree = max(tree, _rss_tree_mb(ps))
            for name, p in watched.items():
                with contextlib.suppress(psutil.Error):
                    watched_peak[name] = max(watched_peak[name], p.memory_info().rss / 1024 ** 2)
            if timeout is not None and time.perf_counter() - start > timeout:
                timed_out = True
                for child in ps.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        child.kill()
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(interval)
        proc.returncode = os.waitstatus_to_exitcode(status)
    finally:
        if log_path:
            log.close()
    return MeasuredRun(argv=tuple(argv), returncode=proc.returncode, wall_seconds=time.perf_counter() - start,
                       peak_rss_mb=None if hwm is None else round(hwm, 1), ru_maxrss_mb=usage.ru_maxrss / 1024,
                       sampled_tree_rss_mb=round(tree, 1) or None,
                       user_seconds=usage.ru_utime, system_seconds=usage.ru_stime,
                       watched_peak_rss_mb={k: round(v, 1) for k, v in watched_peak.items()},
                       timed_out=timed_out, log_path=str(log_path) if log_path else None)


def current_rss_mb() -> float:
    """This process's resident set size now, in MB."""
    import psutil

    return psutil.Process().memory_info().rss / 1024 ** 2


def peak_rss_mb_self() -> float:
    """This process's own RSS high-water mark so far, in MB (``VmHWM``; ``ru_maxrss`` where there is no /proc)."""
    peak = vm_hwm_mb("self")
    if peak is not None:
        return peak
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --------------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------------

def write_json(path: Path, obj: object) -> Path:
    """Write ``obj`` as indented JSON, creating the folder; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2, default=_json_default) + "\n")
    return path


def _json_default(obj: object) -> object:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]], *, align: str | None = None) -> str:
    """A GitHub Markdown table; ``align`` is one of ``l``/``r`` per column (default: left, then right)."""
    align = align or "l" + "r" * (len(headers) - 1)
    rule = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join("" if c is None else str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def format_count(n: int) -> str:
    """``10000`` -> ``10k``, ``1000000`` -> ``1M``, ``2500`` -> ``2.5k``."""
    for scale, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n >= scale:
            value = n / scale
            return f"{value:g}{suffix}"
    return str(n)


def python_argv(module: str, *args: str) -> list[str]:
    """``[sys.executable, "-m", module, *args]``: a worker in the same interpreter."""
    return [sys.executable, "-m", module, *args]
