"""Reaching FiftyOne's database: retried while its service is starting, then a clear input error."""

from __future__ import annotations

import pytest


def test_connect_retries_while_the_service_starts_then_succeeds(monkeypatch, capsys) -> None:
    import fiftyone.core.odm.database as fodb
    from fiftyone.core.service import ServiceListenTimeout

    from workbench._fo import connect

    real, calls = fodb._connect, []

    def starting_twice() -> None:
        calls.append(1)
        if len(calls) <= 2:
            raise ServiceListenTimeout("DatabaseService", 27017)
        real()

    monkeypatch.setattr(fodb, "_connect", starting_twice)
    connect(pause=0)
    assert len(calls) >= 3  # two refusals, then real connections (get_db_conn connects too)
    err = capsys.readouterr().err
    assert err.count("retrying") == 2
    assert "not answering yet (ServiceListenTimeout); retrying (1/2)" in err and "retrying (2/2)" in err


def test_connect_gives_up_with_what_to_check(monkeypatch) -> None:
    import fiftyone.core.odm.database as fodb
    from pymongo.errors import ServerSelectionTimeoutError

    from workbench._fo import connect
    from workbench.errors import DatabaseUnavailable

    def refused() -> None:
        raise ServerSelectionTimeoutError("localhost:27017: [Errno 111] Connection refused")

    monkeypatch.setattr(fodb, "_connect", refused)
    with pytest.raises(DatabaseUnavailable, match="did not answer after 3 attempts .*FIFTYONE_DATABASE_URI"):
        connect(pause=0)


def test_other_errors_are_not_retried(monkeypatch) -> None:
    import fiftyone.core.odm.database as fodb

    from workbench._fo import connect

    calls = []

    def broken() -> None:
        calls.append(1)
        raise KeyError("config")

    monkeypatch.setattr(fodb, "_connect", broken)
    with pytest.raises(KeyError):
        connect(pause=0)
    assert len(calls) == 1
