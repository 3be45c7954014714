"""The one door to FiftyOne: imported lazily, with usage tracking off by default.

FiftyOne sends anonymous usage data unless ``FIFTYONE_DO_NOT_TRACK`` is set. workbench
sets it to ``true`` before FiftyOne is first imported, unless the user set it already.
"""

from __future__ import annotations

import logging
import os
from typing import Any

#: Prefix of every field, tag and saved view workbench writes, so none clashes with a user's.
PREFIX = "wb_"
TAG_PREFIX = "wb:"


def fiftyone() -> Any:
    """Import and return the ``fiftyone`` module (tracking off unless the user opted in)."""
    os.environ.setdefault("FIFTYONE_DO_NOT_TRACK", "true")
    import fiftyone as fo

    return fo


def load_dataset(name: str) -> Any:
    """Load a persistent FiftyOne dataset by name, with a message that says what to do if it is missing."""
    fo = fiftyone()
    if not fo.dataset_exists(name):
        known = ", ".join(sorted(fo.list_datasets())) or "none"
        raise LookupError(f"no FiftyOne dataset named {name!r} (known: {known}); "
                          "run `workbench audit SRC` first, or pass the dataset name shown in its summary")
    return fo.load_dataset(name)


def is_connection_error(exc: BaseException) -> bool:
    """Whether ``exc`` (or its cause) says FiftyOne's MongoDB went away (refused, reset, timed out)."""
    try:
        from pymongo.errors import AutoReconnect, ConnectionFailure, ServerSelectionTimeoutError
    except ImportError:  # pragma: no cover - pymongo comes with FiftyOne
        return False
    while exc is not None:
        if isinstance(exc, (AutoReconnect, ConnectionFailure, ServerSelectionTimeoutError)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def reconnect(name: str) -> Any:
    """Drop FiftyOne's database connection, connect again and return the dataset ``name``.

    When FiftyOne runs its own shared database service and that service stopped (another
    process that started it exited), connecting again starts a new service on the same
    database folder, so every persistent dataset is still there. With a ``database_uri``
    this reconnects to that server.
    """
    import fiftyone.core.odm.database as fodb
    import mongoengine

    fo = fiftyone()
    mongoengine.disconnect_all()
    for attr in ("_client", "_async_client", "_db_service"):
        setattr(fodb, attr, None)
    fodb._connection_kwargs.clear()
    os.environ.pop("FIFTYONE_PRIVATE_DATABASE_PORT", None)
    fodb._connect()
    dataset = fo.load_dataset(name)
    # A database killed uncleanly keeps stale collection counts until validated, and len(dataset) reads
    # those counts: without this a dataset of 10,000 samples reports 0 until MongoDB next checks it.
    try:
        fodb.get_db_conn().command("validate", dataset._sample_collection_name)
    except Exception as exc:  # validation is a repair of counts, never a reason to lose the write-back
        logging.getLogger(__name__).warning("could not validate %r after reconnecting: %s", name, exc)
    return dataset


#: Attempts to reach FiftyOne's database before giving up (its shared service may be starting).
CONNECT_ATTEMPTS = 3


def connect(*, attempts: int = CONNECT_ATTEMPTS, pause: float = 5.0, prestarted: Any = None) -> None:
    """Connect to FiftyOne's database, retrying while its shared service is busy starting.

    FiftyOne starts one database service per user; a second process that connects while the
    first is still starting it can time out (``ServiceListenTimeout``, connection refused).
    Each retry says so on stderr; the last failure is raised as :class:`DatabaseUnavailable`.
    ``prestarted`` (:func:`workbench._fo_service.prestart_database_service`) is checked against
    FiftyOne's config once FiftyOne is imported, and stopped if it serves another database.

    Example:
        >>> connect()  # doctest: +SKIP
    """
    import sys
    import time

    import fiftyone.core.odm.database as fodb
    from fiftyone.core.service import ServiceException

    from workbench.errors import DatabaseUnavailable

    fo = fiftyone()
    if prestarted is not None:
        prestarted.confirm(fo.config)
    for attempt in range(1, attempts + 1):
        try:
            fodb._connect()
            fodb.get_db_conn().command("ping")
            return
        except Exception as exc:
            if not (isinstance(exc, ServiceException) or is_connection_error(exc)):
                raise
            if attempt == attempts:
                raise DatabaseUnavailable(
                    f"FiftyOne's database did not answer after {attempts} attempts ({type(exc).__name__}: {exc}); "
                    "if another FiftyOne process is starting it, wait and run again; otherwise check "
                    "FIFTYONE_DATABASE_URI / FIFTYONE_DATABASE_DIR") from exc
            print(f"workbench: FiftyOne's database is not answering yet ({type(exc).__name__}); retrying "
                  f"({attempt}/{attempts - 1})", file=sys.stderr, flush=True)
            for attr in ("_client", "_async_client"):
                setattr(fodb, attr, None)
            time.sleep(pause)
