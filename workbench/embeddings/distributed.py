"""Embed many image files on a Dask cluster, into the same cache the single-machine path reads.

The job: hash every file on the cluster (the audit's read: sha256 plus a full decode),
drop content the cache already holds and repeated content, split what is left into
partitions, and embed each partition in one task that writes one cache shard
(:meth:`EmbeddingCache.put`: a temporary name, then a rename, so concurrent writers and
readers are safe). Each worker process loads the model once, on an
:class:`~workbench.embeddings._dask_worker.EmbedderPlugin`. Files that can't be read or
decoded are reported, never fatal; input files are only read.

Afterwards :func:`workbench.embeddings.pipeline.embed_files` (and so ``workbench audit``)
with the same embedder and cache folder finds every vector cached.

``dask[distributed]`` is an optional extra (``pip install 'workbench[distributed]'``),
imported only when a job runs.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from workbench.config import EmbedderConfig
from workbench.embeddings.cache import EmbeddingCache, default_cache_root
from workbench.dask_cluster import connect, processes_per_host
from workbench.errors import DistributedError

if TYPE_CHECKING:  # pragma: no cover
    from distributed import Client, Future

    from workbench.embeddings._dask_worker import EmbedderIdentity

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistributedEmbedReport:
    """What a distributed embedding job did.

    ``n_cached + n_computed + n_failed == n_files``. ``n_computed`` counts files whose
    vectors this job computed (files with identical content share one computation);
    ``failed`` maps each unreadable or undecodable file's absolute path to the reason.
    """

    n_files: int
    n_cached: int
    n_computed: int
    n_failed: int
    failed: dict[str, str]
    n_shards_written: int
    seconds: float
    model_id: str = ""
    cache_dir: str = ""
    fallback_reason: str | None = None
    n_partitions: int = 0
    #: Starting the workers, loading the model on them and reading and hashing every file; then the embedding.
    hash_seconds: float = 0.0
    embed_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return dataclasses.asdict(self)


def _worker_side() -> Any:
    try:
        from workbench.embeddings import _dask_worker
    except ImportError as exc:
        raise DistributedError(f"distributed embedding needs Dask ({exc}); install it with "
                               "pip install 'workbench[distributed]'") from exc
    return _dask_worker


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _balanced_chunks(items: Sequence[Any], max_size: int, slots: int) -> list[Sequence[Any]]:
    """Chunks of at most ``max_size`` whose sizes differ by one at most, as many as a multiple of
    ``slots`` (the cluster's worker threads) where there are enough items, so that no worker idles
    through a last round."""
    if not items:
        return []
    rounds = -(-len(items) // (max_size * max(slots, 1)))
    n = min(len(items), rounds * max(slots, 1))
    bounds = [len(items) * i // n for i in range(n + 1)]
    return [items[a:b] for a, b in zip(bounds, bounds[1:])]


def embed_files_distributed(paths: Sequence[str | os.PathLike[str]], config: EmbedderConfig, *,
                            client: Client | str | None = None, local_workers: int = 2,
                            cache_dir: str | os.PathLike[str] | None = None, partition_size: int = 512,
                            progress: bool = True) -> DistributedEmbedReport:
    """Embed ``paths`` on a Dask cluster into the embedding cache; returns what was done.

    Args:
        paths: image files (relative paths are made absolute here; every worker must see
            them at the same absolute path, e.g. on a shared filesystem).
        config: the embedder, passed unchanged to every worker (``config.batch_size`` is
            the inference batch; ``config.num_workers`` is not used: each task decodes in
            its own worker process).
        client: a ``distributed.Client``, a scheduler address (``tcp://host:8786``), or
            ``None`` to start a temporary ``LocalCluster`` of ``local_workers`` processes
            with one thread each (closed before returning).
        local_workers: worker processes of the temporary local cluster.
        cache_dir: cache folder; defaults to ``config.cache_dir``, then
            ``$WORKBENCH_CACHE/embeddings``, resolved here to an absolute path. The client
            and every worker must see it at that path.
        partition_size: at most this many distinct files per task; each task writes one shard.
        progress: progress bars for hashing and embedding.

    Raises:
        DistributedError: Dask is not installed or the scheduler can't be reached.
        EmbedderUnavailable: the model can't be loaded on the cluster.

    Example:
        >>> report = embed_files_distributed(files, EmbedderConfig(name="efficientnet-lite0"),
        ...                                  client="tcp://scheduler:8786", cache_dir="/shared/cache")  # doctest: +SKIP
        >>> report.n_computed, report.n_shards_written  # doctest: +SKIP
        (1388, 4)
    """
    if partition_size < 1:
        raise ValueError(f"partition_size must be at least 1, not {partition_size}")
    start = time.perf_counter()
    files = list(dict.fromkeys(os.path.abspath(os.fspath(p)) for p in paths))
    root = Path(os.path.expanduser(os.fspath(cache_dir or config.cache_dir or default_cache_root()))).resolve()
    if not files:
        return DistributedEmbedReport(0, 0, 0, 0, {}, 0, time.perf_counter() - start, cache_dir=str(root))
    tasks = _worker_side()

    with connect(client, local_workers) as dask_client:
        plugin = tasks.EmbedderPlugin(config, processes_per_host(dask_client))
        dask_client.register_plugin(plugin, name=plugin.name)
        try:
            probe = dask_client.submit(tasks.describe_embedder, plugin.name, pure=False)
            digests, failed = _hash_on_cluster(dask_client, tasks, files, partition_size, probe, progress)
            identity = probe.result()
            hashed = time.perf_counter()
            cache = EmbeddingCache(root, identity.model_id, identity.preprocessing)
            known = cache.known_hashes()
            todo: dict[str, str] = {}  # sha256 -> the first path with that content
            for path, digest in digests.items():
                if digest not in known:
                    todo.setdefault(digest, path)
            log.info("distributed embedding: %d files, %d cached, %d distinct to compute with %s",
                     len(files), sum(d in known for d in digests.values()), len(todo), identity.model_id)
            parts = _balanced_chunks(list(todo.items()), partition_size, sum(dask_client.nthreads().values()))
            n_shards, errors_by_hash = _embed_on_cluster(dask_client, tasks, plugin.name, parts, str(root),
                                                         identity, config.batch_size, progress)
        finally:
            dask_client.unregister_worker_plugin(plugin.name)

    n_cached = n_computed = 0
    for path, digest in digests.items():
        if digest in known:
            n_cached += 1
        elif digest in errors_by_hash:
            failed[path] = errors_by_hash[digest]
        else:
            n_computed += 1
    report = DistributedEmbedReport(
        n_files=len(files), n_cached=n_cached, n_computed=n_computed, n_failed=len(failed),
        failed=dict(sorted(failed.items())), n_shards_written=n_shards, seconds=time.perf_counter() - start,
        model_id=identity.model_id, cache_dir=str(cache.dir), fallback_reason=identity.fallback_reason,
        n_partitions=len(parts), hash_seconds=hashed - start, embed_seconds=time.perf_counter() - hashed)
    log.info("distributed embedding done: %d computed, %d cached, %d failed, %d shards in %.1f s",
             report.n_computed, report.n_cached, report.n_failed, report.n_shards_written, report.seconds)
    return report


def _hash_on_cluster(dask_client: Client, tasks: Any, files: list[str], partition_size: int, probe: Future,
                     progress: bool) -> tuple[dict[str, str], dict[str, str]]:
    """``({path: sha256} of decodable files, {path: problem} of the others)``, in ``files`` order.

    Hashing runs while ``probe`` loads the model; a model that can't load stops the job with its error.
    """
    from distributed import as_completed
    from tqdm.auto import tqdm

    parts = _chunks(files, partition_size)
    futures = {dask_client.submit(tasks.hash_partition, part, pure=False): k for k, part in enumerate(parts)}
    try:
        probe.result()
    except BaseException:
        dask_client.cancel(list(futures))
        raise
    results: list[list[tuple[str | None, str | None]]] = [[] for _ in parts]
    failed: dict[str, str] = {}
    with tqdm(total=len(files), desc="hashing", unit="img", disable=not progress) as bar:
        for future in as_completed(futures, loop=dask_client.loop):
            k = futures[future]
            exc = future.exception()
            if exc is None:
                results[k] = future.result()
            else:  # a task that failed for good (e.g. its workers kept dying)
                failed.update({p: f"could not be read on the cluster ({type(exc).__name__}: {exc})" for p in parts[k]})
            bar.update(len(parts[k]))
    digests: dict[str, str] = {}
    for part, result in zip(parts, results):
        for path, (digest, problem) in zip(part, result):
            if digest is None:
                failed[path] = problem or "file could not be read"
            else:
                digests[path] = digest
    return digests, failed


def _embed_on_cluster(dask_client: Client, tasks: Any, plugin_name: str, parts: list[Sequence[tuple[str, str]]],
                      cache_root: str, identity: EmbedderIdentity, batch_size: int,
                      progress: bool) -> tuple[int, dict[str, str]]:
    """One task per partition of ``(sha256, path)``; returns ``(shards written, {sha256: error})``."""
    from distributed import as_completed
    from tqdm.auto import tqdm

    futures = {dask_client.submit(tasks.embed_partition, plugin_name, [p for _, p in part], [h for h, _ in part],
                                  cache_root, identity, batch_size, pure=False): k for k, part in enumerate(parts)}
    errors: dict[str, str] = {}
    n_shards = 0
    with tqdm(total=sum(map(len, parts)), desc="embedding", unit="img", disable=not progress) as bar:
        for future in as_completed(futures, loop=dask_client.loop):
            part = parts[futures[future]]
            exc = future.exception()
            if exc is None:
                wrote, part_errors = future.result()
                n_shards += int(wrote)
                errors.update(part_errors)
            else:  # the whole partition failed: its worker kept dying, or loaded another model
                errors.update({h: f"embedding task failed ({type(exc).__name__}: {exc})" for h, _ in part})
            bar.update(len(part))
    return n_shards, errors
