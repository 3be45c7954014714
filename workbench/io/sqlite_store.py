"""One SQLite table whose rows are only valid for one version of how they were computed."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def versioned_connect(path: str | Path, *, table: str, schema: str, version: int) -> sqlite3.Connection:
    """Open ``path`` with ``table`` created by ``schema``; a table stored under another ``version``
    (SQLite's ``user_version``) is dropped and created again, by one process while the others wait.

    Example:
        >>> con = versioned_connect(tmp / "x.sqlite", table="t", schema="CREATE TABLE IF NOT EXISTS t (a)",
        ...                         version=2)  # doctest: +SKIP
    """
    con = sqlite3.connect(path, timeout=30)
    if con.execute("PRAGMA user_version").fetchone()[0] != version:
        con.execute("BEGIN IMMEDIATE")  # one process migrates; the others wait, then see the new version
        if con.execute("PRAGMA user_version").fetchone()[0] != version:
            con.execute(f"DROP TABLE IF EXISTS {table}")
            con.execute(schema)
            con.execute(f"PRAGMA user_version = {version}")
        con.commit()
    else:
        con.execute(schema)
    return con
