"""Connecting to a Dask cluster, shared by the jobs that run on one (embedding, the neighbour graph).

``dask[distributed]`` is imported only inside these functions, when a job runs.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Iterator

from workbench.errors import DistributedError

if TYPE_CHECKING:  # pragma: no cover
    from distributed import Client


@contextlib.contextmanager
def connect(client: Client | str | None, local_workers: int, *,
            worker_timeout: float = 120.0) -> Iterator[Client]:
    """The given client; a client of the scheduler at an address; or a temporary local cluster
    of ``local_workers`` processes with one thread each (closed on exit). A scheduler is probed
    first (:func:`probe_scheduler`) and must have a worker within ``worker_timeout`` seconds.

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
        probe_scheduler(client)
        try:
            remote = Client(client, timeout="20s", set_as_default=False)
        except Exception as exc:  # anything a half-working server makes the client raise
            raise DistributedError(f"can't reach the Dask scheduler at {client} ({type(exc).__name__}: {exc}); "
                                   f"{_START_ONE}") from exc
        with remote:
            _wait_for_workers(remote, client, worker_timeout)
            yield remote
        return
    if local_workers < 1:
        raise ValueError(f"local_workers must be at least 1, not {local_workers}")
    # silence_logs: a task's failure is reported once, by the caller, not also as a worker's traceback
    with LocalCluster(n_workers=local_workers, threads_per_worker=1, processes=True,
                      silence_logs=logging.CRITICAL, dashboard_address=None,
                      scheduler_kwargs={"dashboard": False}) as cluster, \
            Client(cluster, set_as_default=False) as local:
        yield local


_START_ONE = ("start one with `dask scheduler` and workers with `dask worker ADDRESS`, or use --local-workers N "
              "for a cluster on this machine")


def probe_scheduler(address: str, *, timeout: float = 20.0) -> None:
    """Check that ``address`` is a Dask scheduler's before a client is made for it.

    A client made for a wrong address can wait forever (a server that accepts and never answers),
    or fail with an unrelated error (a server whose greeting it reads as a message length).

    Raises:
        DistributedError: not an address, nothing listening, or not a Dask scheduler.
    """
    import asyncio
    import socket

    from distributed.comm import get_address_host_port

    try:
        host, port = get_address_host_port(address)
    except Exception as exc:
        raise DistributedError(f"--scheduler {address!r} is not a scheduler address ({exc}); write "
                               "tcp://HOST:PORT, e.g. tcp://10.0.0.5:8786") from None
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        reason = "connection refused" if isinstance(exc, ConnectionRefusedError) else (exc.strerror or str(exc))
        raise DistributedError(f"nothing answers at {address} ({reason}); {_START_ONE}") from None

    async def identity() -> dict:
        from distributed.comm import connect

        comm = await connect(address, timeout=timeout)
        try:
            await comm.write({"op": "identity"})
            return await comm.read()
        finally:
            comm.abort()

    try:
        reply = asyncio.run(asyncio.wait_for(identity(), timeout * 1.5))
    except (asyncio.TimeoutError, TimeoutError):
        raise DistributedError(f"{address} accepts connections but does not answer as a Dask scheduler "
                               f"within {timeout * 1.5:.0f} s; check the address and port") from None
    except Exception as exc:  # e.g. MemoryError: another protocol's greeting read as a frame length
        raise DistributedError(f"{address} is not a Dask scheduler (it answered {type(exc).__name__}); check "
                               "the address and port") from None
    if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        raise DistributedError(f"{address} is a Dask {reply.get('type') if isinstance(reply, dict) else 'peer'}, "
                               "not a scheduler; give the scheduler's address")


def _wait_for_workers(client: Client, address: str, timeout: float) -> None:
    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        raise DistributedError(f"the Dask scheduler at {address} has no workers (waited {timeout:.0f} s); start "
                               f"some with `dask worker {address}`") from None


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
