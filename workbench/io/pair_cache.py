"""Remember the pixel evidence measured on pairs of images, by their content, across audits.

The near-duplicate calibration compares each image with its nearest different images, pixel by
pixel (:mod:`workbench.checks.pair_pixels`, thumbnails in :mod:`workbench.checks.near_rule`). That
is most of a re-audit's time when nothing else changed (27 of 39 s on the 1,390-image demo). The
measurements depend only on the two files' content, so they are kept by the pair of sha256 hashes
in ``<cache>/pairs.sqlite`` and read back when the same two contents meet again, in any dataset.

:data:`PAIRS_VERSION` (SQLite's ``user_version``) names how the evidence is computed: when that
changes, stored pairs are dropped once. A damaged file is set aside with a warning and the pairs
are measured again; a cache that can't be written costs time on the next audit, never this one.
"""

from __future__ import annotations

import logging
import math
import os
import sqlite3
from pathlib import Path
from typing import Iterable, NamedTuple

from workbench.io.sqlite_store import versioned_connect

log = logging.getLogger(__name__)

#: Bump when the pixel evidence of a pair is computed differently (geometry, thumbnails, reading).
PAIRS_VERSION = 1
_SCHEMA = ("CREATE TABLE IF NOT EXISTS pairs (a TEXT NOT NULL, b TEXT NOT NULL, kind TEXT NOT NULL, "
           "v1 REAL, v2 REAL, v3 REAL, PRIMARY KEY (a, b, kind))")

#: What is stored per pair: ``thumb`` (thumbnail similarity: v1) and ``pixels`` (PairPixels: inliers,
#: aligned, dense).
Key = tuple[str, str, str]


class Stored(NamedTuple):
    v1: float | None
    v2: float | None
    v3: float | None


def _number(x: object) -> bool:
    """A stored value the evidence can use: ``None`` or a finite real number (not text, not a blob)."""
    return x is None or (isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x))


def _clean(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else x


class PairCache:
    """Pair measurements by ``(sha_a, sha_b, kind)`` with ``sha_a <= sha_b``.

    :meth:`load` reads what is stored for a set of hashes once; :meth:`get` answers from memory;
    :meth:`put` records a new measurement; :meth:`save` writes the new ones in one transaction.

    Example:
        >>> cache = PairCache(tmp / "pairs.sqlite")  # doctest: +SKIP
        >>> cache.load({"ab12", "cd34"}); cache.get("cd34", "ab12", "thumb")  # doctest: +SKIP
        Stored(v1=0.93, v2=None, v3=None)
    """

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path is not None else None
        self._known: dict[Key, Stored] = {}
        self._new: dict[Key, Stored] = {}
        self.hits = 0

    @staticmethod
    def key(a: str, b: str, kind: str) -> Key:
        return (a, b, kind) if a <= b else (b, a, kind)

    def _connect(self) -> sqlite3.Connection:
        assert self.path is not None
        return versioned_connect(self.path, table="pairs", schema=_SCHEMA, version=PAIRS_VERSION)

    def load(self, hashes: Iterable[str | None]) -> int:
        """Read the stored pairs whose two contents are both among ``hashes``; returns how many."""
        wanted = sorted({h for h in hashes if h})
        if self.path is None or not wanted or not self.path.is_file():
            return 0
        members = set(wanted)
        try:
            with self._connect() as con:
                for start in range(0, len(wanted), 900):  # SQLite's bound-parameter limit
                    chunk = wanted[start:start + 900]
                    rows = con.execute(f"SELECT a, b, kind, v1, v2, v3 FROM pairs WHERE a IN "
                                       f"({', '.join('?' * len(chunk))})", chunk).fetchall()
                    for a, b, kind, *values in rows:
                        if b in members and all(_number(v) for v in values):  # anything else: measure again
                            self._known[(a, b, kind)] = Stored(*values)
            con.close()
        except sqlite3.DatabaseError as exc:
            self._set_aside(exc)
        return len(self._known)

    def get(self, a: str | None, b: str | None, kind: str) -> Stored | None:
        if not a or not b:
            return None
        found = self._known.get(self.key(a, b, kind))
        if found is not None:
            self.hits += 1
        return found

    def put(self, a: str | None, b: str | None, kind: str, values: tuple) -> None:
        if a and b:
            stored = Stored(*(_clean(v) for v in (tuple(values) + (None, None, None))[:3]))
            key = self.key(a, b, kind)
            self._known[key] = stored
            self._new[key] = stored

    @property
    def n_new(self) -> int:
        return len(self._new)

    def save(self) -> None:
        """Write the pairs measured since :meth:`load`; a failure is a warning."""
        if self.path is None or not self._new:
            return
        rows = [(*k, *v) for k, v in self._new.items()]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as con:
                con.executemany("INSERT OR REPLACE INTO pairs VALUES (?, ?, ?, ?, ?, ?)", rows)
            con.close()
            self._new.clear()
        except (sqlite3.DatabaseError, OSError) as exc:
            log.warning("pair evidence not cached (%s); the next audit measures it again", exc)

    def _set_aside(self, exc: Exception) -> None:
        assert self.path is not None
        aside = self.path.with_suffix(".damaged")
        log.warning("pair-evidence cache %s is unusable (%s); moved to %s, pairs are measured again",
                    self.path, exc, aside)
        try:
            os.replace(self.path, aside)
        except OSError:
            pass
