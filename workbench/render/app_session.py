"""Open the FiftyOne App on an audited dataset, and wait until its session can be steered.

FiftyOne's ``Session`` opens its event client *before* it starts the App server, so the
client's first ping usually fails; it then retries every 10 seconds, and until it succeeds
``session.view = ...`` raises ``RuntimeError: Client is not connected``. On a slow or busy
machine that lasts long enough for a notebook's next cell to hit it. :func:`review` and
:func:`launch_app` therefore wait (bounded, with a clear message) until the server answers
and the client is connected, and :func:`set_view` waits again if the client drops.

The App binds ``127.0.0.1`` unless told otherwise: FiftyOne itself binds ``0.0.0.0`` inside
containers, which would expose the dataset's images to the network.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from workbench._fo import fiftyone
from workbench.errors import AppNotConnected
from workbench.results import AuditResult

log = logging.getLogger(__name__)

#: Seconds to wait for the App's server and client before giving up (a busy 2-core machine
#: can take a minute to start the server).
CONNECT_TIMEOUT = 300.0
LOCALHOST = "127.0.0.1"
ALL_INTERFACES = "0.0.0.0"


def _is_connected(session: Any) -> bool:
    """Whether the App server answers and the session's event client is connected."""
    import requests

    client = getattr(session, "_client", None)
    if client is None:  # not a FiftyOne Session (e.g. a stand-in in user code): nothing to wait for
        return True
    host = session.server_address or LOCALHOST
    host = LOCALHOST if host == ALL_INTERFACES else host
    try:
        up = requests.get(f"http://{host}:{session.server_port}/fiftyone", timeout=10).ok
    except requests.RequestException:
        return False
    return up and bool(getattr(client, "_connected", True))


def wait_for_app(session: Any, *, timeout: float = CONNECT_TIMEOUT, poll: float = 0.5) -> Any:
    """Block until ``session`` can be steered (``session.view = ...``); returns the session.

    Raises:
        AppNotConnected: after ``timeout`` seconds, saying what to check.

    Example:
        >>> session = wait_for_app(fo.launch_app(dataset, auto=False))  # doctest: +SKIP
    """
    deadline = time.monotonic() + timeout
    while not _is_connected(session):
        if time.monotonic() > deadline:
            raise AppNotConnected(
                f"the FiftyOne App on port {session.server_port} did not accept its session within "
                f"{timeout:.0f} s; check that nothing else holds the port and that the machine is not "
                "overloaded, then open it again")
        time.sleep(poll)
    return session


def set_view(session: Any, view: Any, *, timeout: float = CONNECT_TIMEOUT) -> Any:
    """``session.view = view``, waiting for the App's client if it is (re)connecting."""
    try:
        session.view = view
    except RuntimeError as exc:
        if "not connected" not in str(exc):
            raise
        log.info("the App's session client is reconnecting; waiting for it")
        wait_for_app(session, timeout=timeout)
        session.view = view
    return view


def _address(address: str | None, remote: bool) -> str:
    if address:
        return address
    return ALL_INTERFACES if remote else LOCALHOST


def launch_app(dataset: Any, *, view: str | None = None, port: int | None = None, remote: bool = False,
               address: str | None = None, wait: bool = True) -> Any:
    """Serve the FiftyOne App on ``dataset`` (optionally one of workbench's saved views).

    Binds ``address``, else ``127.0.0.1``; ``remote=True`` binds every interface (``0.0.0.0``)
    and opens no browser. With ``wait`` the call blocks while the App is open (the CLI).

    Example:
        >>> launch_app(dataset, view="wb-leaks", wait=False)  # doctest: +SKIP
    """
    fo = fiftyone()
    if view and view not in dataset.list_saved_views():
        from workbench.errors import SourceError

        known = ", ".join(dataset.list_saved_views()) or "none: run `workbench audit` first"
        raise SourceError(f"dataset {dataset.name!r} has no saved view {view!r}; its saved views: {known}")
    target = dataset.load_saved_view(view) if view else dataset
    kwargs: dict[str, Any] = {"remote": remote, "address": _address(address, remote)}
    if port:
        kwargs["port"] = port
    session = wait_for_app(fo.launch_app(target, **kwargs))
    if wait:
        session.wait()
    return session


def review(result: AuditResult, *, dataset: Any = None, view: str | None = None, port: int | None = None,
           remote: bool = False, auto: bool = True, address: str | None = None) -> Any:
    """Open the FiftyOne App on the audited dataset, on one of workbench's saved views.

    ``view`` defaults to the first non-empty of label issues, leaks, duplicates and file
    problems. Inside Jupyter (``auto=True``) the App is embedded in the output cell; mark
    samples there with the tags ``wb:reviewed:confirmed`` / ``wb:reviewed:not_error`` (or
    from the panels) and the next audit reads them back into ``AuditResult.reviews``.
    The App binds ``address`` (default ``127.0.0.1``; ``remote=True``: every interface).
    Returns once the App accepts ``session.view = ...``.

    Returns:
        The ``fiftyone.core.session.Session``; set ``session.view`` to move it.

    Raises:
        AppNotConnected: the App did not come up within :data:`CONNECT_TIMEOUT` seconds.

    Example:
        >>> session = workbench.review(result)  # doctest: +SKIP
        >>> session.view = dataset.load_saved_view("wb-leaks")  # doctest: +SKIP
    """
    from workbench.render.fiftyone_app import VIEWS

    fo = fiftyone()
    if remote:
        from fiftyone.core.context import is_notebook_context

        if is_notebook_context():  # FiftyOne would refuse only after starting a server it then leaves running
            raise ValueError("remote=True can't be used inside a notebook; use auto=False to start the App "
                             "without displaying it, or run `workbench app DATASET --remote` in a shell")
    ds = dataset if dataset is not None else fo.load_dataset(result.dataset_name)
    saved = set(ds.list_saved_views())
    if view is None:
        order = ("label_issues", "leaks", "duplicates", "file_problems")
        view = next((VIEWS[k] for k in order if VIEWS[k] in saved and len(ds.load_saved_view(VIEWS[k]))), None)
    elif view not in saved:
        raise ValueError(f"dataset {ds.name!r} has no saved view {view!r}; workbench's are "
                         f"{sorted(v for v in saved if v.startswith('wb-'))} (run write_back first)")
    kwargs: dict[str, Any] = {"remote": remote, "auto": auto, "address": _address(address, remote)}
    if port:
        kwargs["port"] = port
    return wait_for_app(fo.launch_app(ds.load_saved_view(view) if view else ds, **kwargs))
