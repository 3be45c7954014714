"""On-disk embedding cache keyed by (file content hash, model id, preprocessing).

Layout: ``<root>/<key>/meta.json`` plus shards ``shard-*.npz`` each holding
``hashes`` (sha256 hex strings) and ``vectors`` (float32, L2-normalised). Any writer (the
single-machine pipeline or a distributed job) adds shards; readers merge all of them.
Content-addressed, so renamed or moved files are still hits.

What survives what:

- **A kill** (SIGKILL, a crash, a power cut during a run): the pipeline writes every batch
  as its own shard as soon as it is embedded, so a re-run computes only what the killed run
  had not finished. A shard is written to a temporary name (``.tmp-*.npz``) and renamed,
  so a kill never leaves half a shard and a concurrent reader never sees one.
- **Many small shards**: when a run ends, :meth:`EmbeddingCache.compact` merges the shards
  under :data:`COMPACT_BELOW_ROWS` rows (this run's batches, a killed run's, small distributed
  jobs') into one (at most :data:`MAX_SHARD_ROWS` rows a file): written and renamed first,
  the small ones removed after, so a kill during compaction loses nothing.
- **A corrupt shard** (truncated, garbage, arrays of the wrong shape or type, another
  model's dimension, non-finite values) is named in a warning, renamed to
  ``shard-*.npz.corrupt`` (never deleted), and its vectors are computed again.
- **A cache folder that can't be created or written** is refused with
  :class:`workbench.io.cache_folder.CacheUnusable` (exit code 2 in the CLI), before any
  vector is computed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import uuid
import zipfile
import zlib
from pathlib import Path
from typing import Sequence

import numpy as np

from workbench.io.cache_folder import CacheUnusable, writable_folder

log = logging.getLogger(__name__)

CACHE_FORMAT = 1

#: Shards with fewer rows are merged into one when a run ends.
COMPACT_BELOW_ROWS = 4096
#: Most rows in one merged shard (bounds what a compaction holds and rewrites at once).
MAX_SHARD_ROWS = 65536
#: A temporary shard older than this belongs to a killed writer and is removed by compaction.
STALE_TMP_SECONDS = 3600.0

__all__ = ["CACHE_FORMAT", "CacheUnusable", "EmbeddingCache", "cache_key", "default_cache_root"]


def default_cache_root() -> Path:
    """``$WORKBENCH_CACHE`` or ``~/.cache/workbench``, plus ``embeddings/``."""
    base = os.environ.get("WORKBENCH_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "workbench")
    return Path(base) / "embeddings"


def cache_key(model_id: str, preprocessing: str) -> str:
    return hashlib.sha1(f"{model_id}|{preprocessing}|v{CACHE_FORMAT}".encode()).hexdigest()[:16]


#: What reading a damaged ``.npz`` raises (numpy and zipfile use all of these).
_READ_ERRORS = (OSError, ValueError, KeyError, EOFError, TypeError, zipfile.BadZipFile, zlib.error)


def _shard_problem(hashes: np.ndarray, vectors: np.ndarray | None, dim: int | None) -> str | None:
    """Why these arrays are not a shard, or ``None`` when they are one."""
    if hashes.ndim != 1 or hashes.dtype.kind != "U":
        return f"'hashes' is {hashes.dtype} of shape {hashes.shape}, not a list of sha256 strings"
    if len(hashes) and not (np.char.str_len(hashes) == 64).all():
        return "'hashes' holds strings that are not sha256 digests"
    if vectors is None:
        return None
    if vectors.ndim != 2 or vectors.dtype.kind != "f" or len(vectors) != len(hashes):
        return (f"'vectors' is {vectors.dtype} of shape {vectors.shape}, not {len(hashes)} float rows")
    if dim is not None and vectors.shape[1] != dim:
        return f"'vectors' has {vectors.shape[1]} columns, the model gives {dim}"
    if not np.isfinite(vectors).all():
        return "'vectors' holds NaN or infinite values"
    return None


class EmbeddingCache:
    """Content-addressed vectors for one (model, preprocessing).

    Args:
        root: The cache folder (default :func:`default_cache_root`).
        model_id: The model's id.
        preprocessing: The model's preprocessing string (part of the key).
        dim: The model's vector length, when known: shards of another length are set aside.

    Example:
        >>> cache = EmbeddingCache(tmp, "m", "p")  # doctest: +SKIP
        >>> cache.put(["ab" * 32], np.ones((1, 4), np.float32))  # doctest: +SKIP
        >>> cache.get(["ab" * 32])[0]  # doctest: +SKIP
        array([ True])
    """

    def __init__(self, root: str | Path | None, model_id: str, preprocessing: str, *,
                 dim: int | None = None) -> None:
        self.dir = Path(root or default_cache_root()) / cache_key(model_id, preprocessing)
        self.model_id = model_id
        self.preprocessing = preprocessing
        self.dim = dim
        #: Corrupt shards this object found and renamed (their new paths).
        self.set_aside: list[Path] = []
        self._index: dict[str, tuple[int, int]] | None = None
        self._shards: list[np.ndarray] = []
        self._files: list[Path] = []
        self._ready = False

    # ------------------------------------------------------------------ writing

    def ensure_writable(self) -> None:
        """Create the cache folder and its ``meta.json``; a folder that can't be written raises.

        Raises:
            CacheUnusable: the folder can't be created or written.
        """
        if self._ready:
            return
        writable_folder(self.dir, what="embedding cache")
        meta = self.dir / "meta.json"
        if not meta.exists():  # written aside and renamed: concurrent writers never leave half a file
            tmp = self.dir / f".meta-{uuid.uuid4().hex}.json"
            tmp.write_text(json.dumps({"model_id": self.model_id, "preprocessing": self.preprocessing,
                                       "format": CACHE_FORMAT}))
            os.replace(tmp, meta)
        self._ready = True

    def _write_shard(self, hashes: Sequence[str], vectors: np.ndarray, *, sync: bool = False) -> Path:
        name = uuid.uuid4().hex
        tmp = self.dir / f".tmp-{name}.npz"  # outside the shard-*.npz pattern, so readers never see it
        final = self.dir / f"shard-{name}.npz"
        try:
            with open(tmp, "wb") as fh:
                np.savez(fh, hashes=np.asarray(list(hashes), dtype="U64"),
                         vectors=np.asarray(vectors, np.float32))
                if sync:  # the rows are about to be deleted elsewhere: make sure they are on disk
                    fh.flush()
                    os.fsync(fh.fileno())
            os.replace(tmp, final)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise CacheUnusable(f"can't write to the embedding cache folder {self.dir} ({exc.strerror or exc}); "
                                "free space, or pass --cache-dir (cache_dir=) another folder") from exc
        return final

    def put(self, hashes: Sequence[str], vectors: np.ndarray) -> Path | None:
        """Add vectors as a new shard; returns its path (``None`` for an empty batch).

        Raises:
            CacheUnusable: the cache folder can't be created or written.
        """
        if len(hashes) == 0:
            return None
        if len(hashes) != len(vectors):
            raise ValueError("hashes and vectors differ in length")
        self.ensure_writable()
        path = self._write_shard(hashes, vectors)
        if self._index is not None:  # keep a loaded index current; an unloaded one reads the shard later
            self._add(path, list(hashes), np.asarray(vectors, np.float32))
        return path

    def compact(self) -> int:
        """Merge the shards under :data:`COMPACT_BELOW_ROWS` rows into as few as possible.

        Rows are written to new shards (renamed into place) before the small shards are
        removed, so a kill at any point loses nothing (at worst a row is held twice, which
        readers don't mind and the next compaction undoes). Rows repeated across the small
        shards are kept once. Also removes temporary shards of writers killed over an hour ago.

        Returns:
            How many shard files were merged away (0 when there was nothing to do).

        Example:
            >>> cache.compact()  # doctest: +SKIP
            63
        """
        index = self._load()
        self._remove_stale_tmp()
        small = {pos for pos, v in enumerate(self._shards) if 0 < len(v) < COMPACT_BELOW_ROWS}
        if len(small) < 2:
            return 0
        self.ensure_writable()
        rows = sorted((pos, i, h) for h, (pos, i) in index.items() if pos in small)
        for start in range(0, len(rows), MAX_SHARD_ROWS):
            chunk = rows[start:start + MAX_SHARD_ROWS]
            vectors = np.stack([self._shards[pos][i] for pos, i, _ in chunk])
            path = self._write_shard([h for _, _, h in chunk], vectors, sync=True)
            new_pos = len(self._shards)
            self._shards.append(vectors)
            self._files.append(path)
            for k, (_, _, h) in enumerate(chunk):
                index[h] = (new_pos, k)
        for pos in small:
            self._files[pos].unlink(missing_ok=True)
            self._shards[pos] = self._shards[pos][:0]  # free it; no index entry points here any more
        log.info("embedding cache %s: merged %d small shards into %d", self.dir, len(small),
                 -(-len(rows) // MAX_SHARD_ROWS))
        return len(small)

    def _remove_stale_tmp(self) -> None:
        now = time.time()
        for tmp in self.dir.glob(".tmp-*.npz") if self.dir.exists() else ():
            try:
                if now - tmp.stat().st_mtime > STALE_TMP_SECONDS:
                    tmp.unlink()
            except OSError:
                pass  # another compaction removed it, or the folder is read-only: harmless either way

    # ------------------------------------------------------------------ reading

    def _shard_files(self) -> list[Path]:
        return sorted(self.dir.glob("shard-*.npz")) if self.dir.exists() else []

    def _read_shard(self, path: Path, *, vectors: bool = True) -> tuple[np.ndarray, np.ndarray | None] | None:
        """The shard's arrays, or ``None`` after setting a corrupt shard aside.

        Raises:
            FileNotFoundError: the shard vanished (another process merged it away).
        """
        try:
            data = np.load(path, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                problem = "not an .npz archive"
            else:
                with data:
                    hashes = data["hashes"]
                    vecs = data["vectors"] if vectors else None
                problem = _shard_problem(hashes, vecs, self.dim)
        except FileNotFoundError:
            raise
        except _READ_ERRORS as exc:
            problem = f"{type(exc).__name__}: {exc}"
        if problem is None:
            return hashes, vecs
        self._set_aside(path, problem)
        return None

    def _set_aside(self, path: Path, problem: str) -> None:
        aside = path.with_name(path.name + ".corrupt")
        try:
            os.replace(path, aside)
        except FileNotFoundError:
            return  # another reader set it aside first
        except OSError as exc:
            log.warning("embedding cache shard %s is corrupt (%s) and could not be renamed (%s); it is "
                        "ignored and its vectors are computed again", path, problem, exc.strerror or exc)
            return
        self.set_aside.append(aside)
        log.warning("embedding cache shard %s is corrupt (%s); moved to %s, its vectors are computed again",
                    path, problem, aside.name)

    def _add(self, path: Path, hashes: Sequence[str], vectors: np.ndarray) -> None:
        assert self._index is not None
        pos = len(self._shards)
        self._shards.append(vectors)
        self._files.append(path)
        for i, h in enumerate(hashes):
            self._index[h] = (pos, i)

    def _readable_shards(self, *, vectors: bool):
        """``(path, hashes, vectors)`` of every sound shard; shards merged away meanwhile are
        replaced by what merged them (the folder is listed again)."""
        seen: set[Path] = set()
        for _attempt in range(5):
            vanished = False
            for path in self._shard_files():
                if path in seen:
                    continue
                seen.add(path)
                try:
                    shard = self._read_shard(path, vectors=vectors)
                except FileNotFoundError:
                    vanished = True
                    continue
                if shard is not None:
                    yield path, shard[0], shard[1]
            if not vanished:
                return

    def _load(self) -> dict[str, tuple[int, int]]:
        if self._index is None:
            self._index, self._shards, self._files = {}, [], []
            for path, hashes, vectors in self._readable_shards(vectors=True):
                if self.dim is None:
                    self.dim = int(vectors.shape[1])  # the first sound shard fixes it for the rest
                self._add(path, hashes.tolist(), vectors.astype(np.float32, copy=False))
        return self._index

    def __len__(self) -> int:
        return len(self._load())

    def known_hashes(self) -> frozenset[str]:
        """The content hashes the cache holds, read without loading any vectors.

        Cheap on a large cache: only each shard's ``hashes`` array is read.

        Example:
            >>> "ab" * 32 in EmbeddingCache(tmp, "m", "p").known_hashes()  # doctest: +SKIP
            True
        """
        if self._index is not None:
            return frozenset(self._index)
        found: set[str] = set()
        for _path, hashes, _ in self._readable_shards(vectors=False):
            found.update(hashes.tolist())
        return frozenset(found)

    def get(self, hashes: Sequence[str | None]) -> tuple[np.ndarray, np.ndarray | None]:
        """Return ``(found_mask, vectors_of_found_rows)`` in the order of ``hashes``."""
        index = self._load()
        hits = [index.get(h) if h else None for h in hashes]
        mask = np.array([h is not None for h in hits], dtype=bool)
        if not mask.any():
            return mask, None
        rows = [self._shards[s][i] for s, i in (h for h in hits if h is not None)]
        return mask, np.stack(rows).astype(np.float32, copy=False)
