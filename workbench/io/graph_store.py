"""The k-NN graph of the last audit of a dataset, kept on disk so the next audit can update it.

One ``.npz`` file per (dataset, embedding model, preprocessing, k) under
``<cache>/graphs/``, holding each row's sample id and content hash next to the graph.
A row is reused only when both its sample id and its file's content hash are unchanged.
Written to a temporary name and renamed, so a crash never leaves half a file; a file
that can't be read is ignored (the graph is rebuilt) with a warning.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from workbench.graph import NeighborGraph

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredGraph:
    """A saved graph and the (sample id, content hash) of each of its rows."""

    ids: tuple[str, ...]
    hashes: tuple[str, ...]
    graph: NeighborGraph

    def rows_in(self, ids: Sequence[str], hashes: Sequence[str]) -> np.ndarray:
        """For each stored row, its row among ``(ids, hashes)``, or ``-1`` when gone or changed."""
        current = {(i, h): r for r, (i, h) in enumerate(zip(ids, hashes))}
        return np.array([current.get(key, -1) for key in zip(self.ids, self.hashes)], dtype=np.int64)


def graph_path(cache_dir: str | Path, dataset_name: str, model_id: str, preprocessing: str, k: int) -> Path:
    """Where the graph for this dataset, model and ``k`` lives."""
    key = hashlib.sha1(f"{dataset_name}|{model_id}|{preprocessing}|k{k}".encode()).hexdigest()[:20]
    return Path(cache_dir) / "graphs" / f"{key}.npz"


def load_graph(path: Path) -> StoredGraph | None:
    """The stored graph at ``path``, or ``None`` when absent or unreadable."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            graph = NeighborGraph(data["indices"].astype(np.int64), data["distances"].astype(np.float32),
                                  str(data["method"]))
            ids, hashes = tuple(data["ids"].tolist()), tuple(data["hashes"].tolist())
    except Exception as exc:  # a damaged file only costs a rebuild
        log.warning("ignoring unreadable neighbour graph %s (%s); it will be rebuilt", path, exc)
        return None
    if len(ids) != len(graph.indices) or len(hashes) != len(ids):
        log.warning("ignoring inconsistent neighbour graph %s; it will be rebuilt", path)
        return None
    return StoredGraph(ids, hashes, graph)


def save_graph(path: Path, ids: Sequence[str], hashes: Sequence[str], graph: NeighborGraph) -> Path:
    """Write the graph with its rows' ids and hashes (atomically)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
    index_dtype = np.int32 if len(ids) < 2**31 else np.int64
    np.savez(tmp, ids=np.asarray(list(ids), dtype=str), hashes=np.asarray(list(hashes), dtype=str),
             indices=graph.indices.astype(index_dtype), distances=graph.distances, method=np.asarray(graph.method))
    os.replace(tmp, path)
    return path
