"""The one place that reaches into aiosqlite's private API.

aiosqlite runs each call in its connection's thread, one after another, but its public
API takes two hops to that thread per statement (execute, then fetch), and has no way to
skip a statement whose turn came too late. Its private `_execute(fn, *args)` queues one
function of ours instead, and `_conn` is the sqlite3 connection that function runs on.
tests/test_sqlite_driver.py pins both, so an aiosqlite upgrade that moves them fails there.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any


async def rows_in_turn(
    driver: Any, sql: str, values: list[Any], deadline: float | None
) -> list[Any]:
    """The statement's rows, fetched in the same hop as the statement."""
    rows: list[Any] = await driver._execute(_rows_unless_late, driver, sql, values, deadline)
    return rows


def _rows_unless_late(
    driver: Any, sql: str, values: list[Any], deadline: float | None
) -> list[Any]:
    if deadline is not None and time.monotonic() > deadline:
        raise TimeoutError("the statement's turn on SQLite came after its deadline")
    connection: sqlite3.Connection = driver._conn
    return connection.execute(sql, values).fetchall()
