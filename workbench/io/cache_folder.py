"""The cache folder must be a folder workbench can write; anything else is a clear error.

Both caches under it (the embedding shards and ``files.sqlite``) call
:func:`writable_folder` before their first write. A cache that can't be used is refused
(:class:`CacheUnusable`, exit code 2 in the CLI) rather than silently skipped: an audit
that quietly recomputes everything every time looks like a slow machine, not a problem
to fix.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from workbench.errors import WorkbenchError


class CacheUnusable(WorkbenchError, OSError):
    """A cache folder can't be created or written (a file in its place, read-only, no space)."""


def writable_folder(path: str | os.PathLike, *, what: str = "cache") -> Path:
    """Create ``path`` if needed and prove it takes a file; return it.

    Raises:
        CacheUnusable: the folder can't be created or written; the message names it and
            says how to pick another.

    Example:
        >>> writable_folder("/etc/passwd/cache")  # doctest: +SKIP
        Traceback (most recent call last):
        CacheUnusable: the cache folder /etc/passwd/cache can't be used (/etc/passwd is a file, not a folder); ...
    """
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        blocker = next((p for p in (folder, *folder.parents) if p.exists()), None)
        reason = (f"{blocker} is a file, not a folder" if blocker is not None and not blocker.is_dir()
                  else exc.strerror or str(exc))
        raise CacheUnusable(f"the {what} folder {folder} can't be used ({reason}); pass --cache-dir "
                            "(cache_dir=) a folder you can write, or set WORKBENCH_CACHE") from exc
    return folder


def replace_shared(tmp: str | os.PathLike, target: str | os.PathLike) -> None:
    """Move a finished temporary file into place with the mode a new file gets (``0666`` less the umask).

    ``tempfile.mkstemp`` makes files only their owner can read; a cache shared by several accounts
    (a Dask cluster's ``/shared/wb-cache``) needs them readable like every other cache file.
    """
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(tmp, 0o666 & ~mask)
    os.replace(tmp, target)
