"""On-disk embedding cache keyed by (file content hash, model id, preprocessing).

Layout: ``<root>/<key>/meta.json`` plus shards ``shard-*.npz`` each holding
``hashes`` (sha256 hex strings) and ``vectors`` (float32, L2-normalised). A shard is
written to a temporary name (``.tmp-*.npz``) and renamed, so a crash never leaves half a
shard and a concurrent reader never sees one.
Any writer (the single-machine pipeline or a distributed job) adds shards; readers
merge all of them. Content-addressed, so renamed or moved files are still hits.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Sequence

import numpy as np

CACHE_FORMAT = 1


def default_cache_root() -> Path:
    """``$WORKBENCH_CACHE`` or ``~/.cache/workbench``, plus ``embeddings/``."""
    base = os.environ.get("WORKBENCH_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "workbench")
    return Path(base) / "embeddings"


def cache_key(model_id: str, preprocessing: str) -> str:
    return hashlib.sha1(f"{model_id}|{preprocessing}|v{CACHE_FORMAT}".encode()).hexdigest()[:16]


class EmbeddingCache:
    """Content-addressed vectors for one (model, preprocessing).

    Example:
        >>> cache = EmbeddingCache(tmp, "m", "p")  # doctest: +SKIP
        >>> cache.put(["ab" * 32], np.ones((1, 4), np.float32))  # doctest: +SKIP
        >>> cache.get(["ab" * 32])[0]  # doctest: +SKIP
        array([ True])
    """

    def __init__(self, root: str | Path | None, model_id: str, preprocessing: str) -> None:
        self.dir = Path(root or default_cache_root()) / cache_key(model_id, preprocessing)
        self.model_id = model_id
        self.preprocessing = preprocessing
        self._index: dict[str, tuple[int, int]] | None = None
        self._shards: list[np.ndarray] = []

    def _ensure_dir(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        meta = self.dir / "meta.json"
        if not meta.exists():  # written aside and renamed: concurrent writers never leave half a file
            tmp = self.dir / f".meta-{uuid.uuid4().hex}.json"
            tmp.write_text(json.dumps({"model_id": self.model_id, "preprocessing": self.preprocessing,
                                       "format": CACHE_FORMAT}))
            os.replace(tmp, meta)

    def _shard_files(self) -> list[Path]:
        return sorted(self.dir.glob("shard-*.npz")) if self.dir.exists() else []

    def _load(self) -> dict[str, tuple[int, int]]:
        if self._index is None:
            self._index, self._shards = {}, []
            for shard in self._shard_files():
                with np.load(shard, allow_pickle=False) as data:
                    hashes, vectors = data["hashes"], data["vectors"]
                pos = len(self._shards)
                self._shards.append(vectors)
                for i, h in enumerate(hashes.tolist()):
                    self._index[h] = (pos, i)
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
        for shard in self._shard_files():
            with np.load(shard, allow_pickle=False) as data:
                found.update(data["hashes"].tolist())
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

    def put(self, hashes: Sequence[str], vectors: np.ndarray) -> None:
        """Add vectors as a new shard (no-op for an empty batch)."""
        if len(hashes) == 0:
            return
        if len(hashes) != len(vectors):
            raise ValueError("hashes and vectors differ in length")
        self._ensure_dir()
        name = uuid.uuid4().hex
        tmp = self.dir / f".tmp-{name}.npz"  # outside the shard-*.npz pattern, so readers never see it
        np.savez(tmp, hashes=np.asarray(list(hashes), dtype="U64"), vectors=np.asarray(vectors, np.float32))
        os.replace(tmp, self.dir / f"shard-{name}.npz")
        if self._index is not None:  # keep a loaded index current; an unloaded one reads the shard later
            pos = len(self._shards)
            self._shards.append(np.asarray(vectors, np.float32))
            for i, h in enumerate(hashes):
                self._index[h] = (pos, i)
