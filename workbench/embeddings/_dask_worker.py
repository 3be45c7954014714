"""What runs on the Dask workers of :mod:`workbench.embeddings.distributed`.

This module imports ``distributed`` at the top, so only the functions of
:mod:`workbench.embeddings.distributed` import it, lazily. The loaded model lives on an
:class:`EmbedderPlugin` registered on each worker: loaded by the first task that needs
it, reused by every later task of the worker process, dropped when the job unregisters
the plugin. Nothing is cached at module level.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Sequence

from distributed import WorkerPlugin, get_worker

from workbench.config import EmbedderConfig
from workbench.embeddings.backends import LoadedEmbedder, load_embedder
from workbench.embeddings.cache import EmbeddingCache
from workbench.embeddings.pipeline import compute_vectors
from workbench.io.files import inspect_file

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EmbedderIdentity:
    """What names a model's cache entries (``model_id``, ``preprocessing``), as a worker loaded it."""

    model_id: str
    preprocessing: str
    dim: int
    fallback_reason: str | None = None


def plugin_name(config: EmbedderConfig) -> str:
    """One plugin name per embedder configuration (every field counts, present and future)."""
    return "workbench-embedder-" + hashlib.sha1(repr(config).encode()).hexdigest()[:12]


class EmbedderPlugin(WorkerPlugin):
    """Holds one loaded embedder per worker process, loaded on first use, dropped on teardown."""

    def __init__(self, config: EmbedderConfig, processes_per_host: dict[str, int] | None = None) -> None:
        self.config = config
        self.name = plugin_name(config)
        #: Worker processes on each host: they split its cores between them.
        self.processes_per_host = dict(processes_per_host or {})
        self._embedder: LoadedEmbedder | None = None
        self._lock: threading.Lock | None = None  # made on the worker: a lock can't be pickled
        self._threads = 1

    def setup(self, worker: Any) -> None:
        from urllib.parse import urlparse

        from workbench.embeddings.compiled import usable_cores

        self._lock = threading.Lock()
        sharing = self.processes_per_host.get(urlparse(worker.address).hostname or "", 1)
        # Dask's nanny starts workers with OMP_NUM_THREADS=1 (its threads are meant to be the parallelism);
        # a worker that runs one task at a time would then use one core of its share.
        self._threads = max(1, usable_cores() // max(1, sharing))

    def teardown(self, worker: Any) -> None:
        self._embedder = None

    def embedder(self) -> LoadedEmbedder:
        """The worker's model, loaded once even when several task threads ask at the same time."""
        assert self._lock is not None, "setup() runs before any task"
        with self._lock:
            if self._embedder is None:
                import torch

                torch.set_num_threads(self._threads)
                self._embedder = load_embedder(dataclasses.replace(
                    self.config, threads=self.config.threads or self._threads))
            return self._embedder


def _worker_embedder(name: str) -> LoadedEmbedder:
    plugin = get_worker().plugins[name]
    assert isinstance(plugin, EmbedderPlugin)
    return plugin.embedder()


def describe_embedder(name: str) -> EmbedderIdentity:
    """Load the worker's model (task) and say which cache entries it writes."""
    e = _worker_embedder(name)
    return EmbedderIdentity(e.model_id, e.preprocessing, e.dim, e.fallback_reason)


def hash_partition(paths: Sequence[str]) -> list[tuple[str | None, str | None]]:
    """Task: ``(sha256, None)`` for each decodable file, ``(None, problem)`` for the others.

    The same read as the audit's (:func:`workbench.io.files.inspect_file`), so a file is
    reported with the same message here and in an audit.
    """
    out: list[tuple[str | None, str | None]] = []
    for path in paths:
        facts = inspect_file(path)
        out.append((facts.sha256, None) if facts.ok else (None, facts.problem))
    return out


def embed_partition(name: str, paths: Sequence[str], hashes: Sequence[str], cache_root: str,
                    expected: EmbedderIdentity, batch_size: int) -> tuple[bool, dict[str, str]]:
    """Task: embed one partition and write it as one cache shard.

    Returns ``(shard written, {sha256: error} of the files that failed to decode)``.

    Raises:
        RuntimeError: this worker loaded a different model than the job's (e.g. ``auto``
            found CLIP weights here but not on the first worker); its vectors would land
            under another cache key, so none are written.
    """
    embedder = _worker_embedder(name)
    if (embedder.model_id, embedder.preprocessing) != (expected.model_id, expected.preprocessing):
        raise RuntimeError(f"worker {get_worker().address} loaded {embedder.model_id!r} "
                           f"({embedder.preprocessing}) but the job embeds with {expected.model_id!r}; "
                           "give every worker the same weights, or name the embedder explicitly")
    # num_workers=0: Dask worker processes are daemonic and can't start DataLoader workers;
    # the cluster's worker processes are the parallelism.
    start = time.perf_counter()
    vectors, errors = compute_vectors(list(paths), embedder, batch_size=batch_size, num_workers=0, progress=False)
    log.info("embedded %d files in %.2f s on %s", len(paths), time.perf_counter() - start, embedder.runtime)
    good = [k for k in range(len(paths)) if k not in errors]
    EmbeddingCache(cache_root, expected.model_id, expected.preprocessing).put([hashes[k] for k in good],
                                                                              vectors[good])
    return bool(good), {hashes[k]: message for k, message in errors.items()}
