"""Remember what reading each image file told (hash, header, decodability, perceptual hash).

A re-audit of a large dataset would otherwise read and decode every file again. Facts are
reused only while the file's size and modification time (nanoseconds) are unchanged, the
rule ``make`` and ``rsync`` use; anything else is read afresh. One SQLite file per cache
folder, safe for concurrent audits; a damaged file is set aside with a warning and the
files are simply read again. A folder that can't be created or written is an error
(:class:`workbench.io.cache_folder.CacheUnusable`).

The stored facts carry :data:`FACTS_VERSION` (SQLite's ``user_version``): when the way a
fact is computed changes (the perceptual hash now reads pixels through
:func:`workbench.io.pixels.to_rgb`), the version goes up and older facts are dropped once.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from dataclasses import astuple, fields
from pathlib import Path
from typing import Sequence

from workbench.io.cache_folder import writable_folder
from workbench.io.facts import FileFacts
from workbench.io.sqlite_store import versioned_connect

log = logging.getLogger(__name__)

#: Version of the stored facts; 2: perceptual hashes of upright, 8-bit, alpha-on-white pixels;
#: 3: width and height of the upright image (an EXIF-rotated photo reports its shown size);
#: 4: the mirrored perceptual hash and a 16x16 thumbnail, evidence for near duplicates; 5: in colour;
#: 6: thumbnails by exact area averages (mirror-symmetric; PIL's box filter is not at fractional scales);
#: 7: the checks' per-file measures (``FileFacts.measures``).
FACTS_VERSION = 7

_COLUMNS = [f.name for f in fields(FileFacts)]
_SCHEMA = ("CREATE TABLE IF NOT EXISTS facts (filepath TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, "
           + ", ".join(f"{c} " + ("INTEGER" if c in ("size_bytes", "width", "height") else "TEXT")
                       for c in _COLUMNS if c != "filepath") + ")")


def file_signature(filepath: str) -> tuple[int, int] | None:
    """``(size, mtime_ns)`` of a regular file, or ``None`` when it can't be stat'ed."""
    try:
        st = os.stat(filepath)
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


class FactsCache:
    """SQLite-backed :class:`FileFacts` keyed by path, valid while (size, mtime) hold.

    Example:
        >>> cache = FactsCache(tmp / "files.sqlite")  # doctest: +SKIP
        >>> cache.lookup(["/data/a.png"])  # doctest: +SKIP
        {}
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._folder_checked = False

    def _connect(self) -> sqlite3.Connection:
        if not self._folder_checked:
            writable_folder(self.path.parent, what="file-facts cache")
            self._folder_checked = True
        return versioned_connect(self.path, table="facts", schema=_SCHEMA, version=FACTS_VERSION)

    def lookup(self, filepaths: Sequence[str], measures: Sequence[str] = ()) -> dict[int, FileFacts]:
        """Facts still valid for the given paths, by position in ``filepaths``, that hold every one of
        the ``measures`` keys (files measured by an older version of a check are read again)."""
        wanted = {p: i for i, p in enumerate(filepaths)}
        found: dict[int, FileFacts] = {}
        columns = ", ".join(c for c in _COLUMNS if c != "filepath")
        paths = list(wanted)
        rows = []
        try:
            with self._connect() as con:
                for start in range(0, len(paths), 900):  # only these paths: SQLite's bound-parameter limit
                    chunk = paths[start:start + 900]
                    rows += con.execute(f"SELECT filepath, size, mtime_ns, {columns} FROM facts WHERE filepath IN "
                                        f"({', '.join('?' * len(chunk))})", chunk).fetchall()
        except sqlite3.DatabaseError as exc:
            self._set_aside(exc)
            return found
        for path, size, mtime, *rest in rows:
            if file_signature(path) == (size, mtime):
                facts = FileFacts(path, *rest)
                if facts.has_measures(measures):
                    found[wanted[path]] = facts
        return found

    def store(self, facts: Sequence[FileFacts]) -> None:
        """Remember facts of files that exist (a missing file is always looked at again)."""
        rows = []
        for f in facts:
            sig = file_signature(f.filepath)
            if sig is not None and f.problem_kind != "missing":
                rows.append((f.filepath, *sig, *astuple(f)[1:]))
        if not rows:
            return
        marks = ", ".join("?" * (len(_COLUMNS) + 2))
        try:
            with self._connect() as con:
                con.executemany(f"INSERT OR REPLACE INTO facts VALUES ({marks})", rows)
        except sqlite3.DatabaseError as exc:
            self._set_aside(exc)

    def _set_aside(self, exc: Exception) -> None:
        aside = self.path.with_suffix(".damaged")
        log.warning("file-facts cache %s is unusable (%s); moved to %s, files are read again", self.path, exc, aside)
        try:
            os.replace(self.path, aside)
        except OSError:
            pass
