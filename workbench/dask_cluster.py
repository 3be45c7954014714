"""Connecting to a Dask cluster, shared by the jobs that run on one (embedding, the neighbour graph).

``dask[distributed]`` is imported only inside these functions, when a job runs.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Iterator

from workbench.errors import DistributedError

if TYPE_CHECKING:  # pragma: no cover
    from distributed import Client


@contextlib.contextmanager
def connect(client: Client | str | None, local_workers: int) -> Iterator[Client]:
    """The given client; a client of the scheduler at an address; or a temporary local cluster
    of ``local_workers`` processes with one thread each (closed on exit).

    Raises:
        DistributedError: Dask is not installed, or the scheduler can't be reached.
    """
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise DistributedError(f"this job runs on Dask ({exc}); install it with "
                               "pip install 'workbench[distributed]'") from exc

    if client is not None and not isinstance(client, str):
        yield client
        return
    if isinstance(client, str):
        try:
            remote = Client(client, timeout="20s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise DistributedError(f"can't reach the Dask scheduler at {client} ({exc}); start one with "
                                   "`dask scheduler` and workers with `dask worker ADDRESS`, or use "
                                   "--local-workers N") from exc
        with remote:
            yield remote
        return
    if local_workers < 1:
        raise ValueError(f"local_workers must be at least 1, not {local_workers}")
    with LocalCluster(n_workers=local_workers, threads_per_worker=1, processes=True,
                      scheduler_kwargs={"dashboard": False}) as cluster, \
            Client(cluster, set_as_default=False) as local:
        yield local


def processes_per_host(client: Client) -> dict[str, int]:
    """Worker processes on each host: they split its cores between them."""
    hosts = [w.get("host", "") for w in client.scheduler_info(n_workers=-1)["workers"].values()]
    return {h: hosts.count(h) for h in set(hosts)}


def worker_threads(shares: dict[str, int]) -> int:
    """On a worker: its share of its host's usable cores (Dask's nanny sets OMP threads to 1)."""
    from urllib.parse import urlparse

    from distributed import get_worker

    from workbench.embeddings.compiled import usable_cores

    try:
        host = urlparse(get_worker().address).hostname or ""
    except ValueError:  # not on a worker (run in-process)
        return usable_cores()
    return max(1, usable_cores() // max(1, shares.get(host, 1)))
