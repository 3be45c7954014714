"""One audit of a dataset at a time: an advisory file lock per dataset, shared by CLI and API.

Two audits of one dataset at once would both rewrite its finding fields, saved views and run
record (and two *first* audits would both create it). The second one waits for the first,
saying so on stderr; the lock is ``flock``-based, so a killed audit never leaves it held.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import sys
from pathlib import Path
from typing import Iterator

log = logging.getLogger(__name__)


def lock_path(key: str, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The lock file for ``key`` (a dataset name or source path) under the cache folder."""
    from workbench.embeddings.cache import default_cache_root

    base = Path(cache_dir) if cache_dir else default_cache_root().parent
    return base / "locks" / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}.lock"


@contextlib.contextmanager
def audit_lock(key: str, cache_dir: str | os.PathLike[str] | None = None) -> Iterator[Path]:
    """Hold the audit lock of ``key``; if another process holds it, wait and say so on stderr.

    A lock folder that can't be created (read-only home, a file in the way) is logged and the
    audit runs unlocked rather than not at all.

    Example:
        >>> with audit_lock("wb-pets-1a2b3c4d"):  # doctest: +SKIP
        ...     result = run_audit(dataset)
    """
    import fcntl

    path = lock_path(key, cache_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = open(path, "a+", encoding="utf-8")
    except OSError as exc:
        log.warning("can't create the audit lock %s (%s); running without it: don't audit this dataset twice "
                    "at once", path, exc)
        yield path
        return
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            print(f"workbench: another audit of {key} is running ({holder}); waiting for it to finish",
                  file=sys.stderr, flush=True)
            fcntl.flock(fh, fcntl.LOCK_EX)
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        try:
            yield path
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
