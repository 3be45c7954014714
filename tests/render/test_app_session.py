"""Waiting for the FiftyOne App's session: bounded, with a message; a dropped client is waited for."""

from __future__ import annotations

import socket

import pytest

from workbench.errors import AppNotConnected


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again on exit: nothing listens there


class _Client:
    def __init__(self, connected: bool) -> None:
        self._connected = connected


class _Session:
    """The two attributes of a FiftyOne Session the wait reads, and a view setter that can fail."""

    def __init__(self, port: int, *, fail_times: int = 0) -> None:
        self.server_address, self.server_port = "127.0.0.1", port
        self._client = _Client(connected=True)
        self.fail_times, self.views = fail_times, []

    @property
    def view(self):
        return self.views[-1] if self.views else None

    @view.setter
    def view(self, value):
        if self.fail_times:
            self.fail_times -= 1
            raise RuntimeError("Client is not connected")
        self.views.append(value)


def test_wait_gives_up_with_a_message_when_no_app_answers() -> None:
    from workbench.render.app_session import wait_for_app

    session = _Session(_closed_port())
    with pytest.raises(AppNotConnected, match=r"did not accept its session within 1 s"):
        wait_for_app(session, timeout=1, poll=0.1)


def test_set_view_raises_other_errors_unchanged() -> None:
    from workbench.render.app_session import set_view

    class Broken(_Session):
        @property
        def view(self):
            return None

        @view.setter
        def view(self, value):
            raise RuntimeError("Failed to post event")

    with pytest.raises(RuntimeError, match="Failed to post event"):
        set_view(Broken(_closed_port()), "v")


def test_set_view_waits_for_a_reconnecting_client_within_a_bound() -> None:
    from workbench.render.app_session import set_view

    session = _Session(_closed_port(), fail_times=1)
    with pytest.raises(AppNotConnected):  # nothing listens: the wait is bounded and says so
        set_view(session, "v", timeout=0.5)
    assert session.views == []
