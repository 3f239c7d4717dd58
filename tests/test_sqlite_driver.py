"""Pins the aiosqlite internals db/sqlite_driver.py uses: an upgrade that moves them fails
here, by name."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import aiosqlite
import pytest

from db.sqlite_driver import Turn, TurnMissed, rows_in_turn


async def test_a_statement_runs_in_the_connections_thread_in_one_hop(tmp_path: Path) -> None:
    async with aiosqlite.connect(tmp_path / "pin.db") as driver:
        assert isinstance(driver._conn, sqlite3.Connection)
        rows = await rows_in_turn(driver, "SELECT ? + 1", [41], None)
    assert rows == [(42,)]


async def test_a_statement_whose_turn_comes_late_is_not_run(tmp_path: Path) -> None:
    async with aiosqlite.connect(tmp_path / "pin.db") as driver:
        await driver.execute("CREATE TABLE t (x)")
        late = Turn(deadline=time.monotonic() - 1)
        with pytest.raises(TurnMissed):
            await rows_in_turn(driver, "INSERT INTO t VALUES (1)", [], late)
        in_time = Turn(deadline=time.monotonic() + 60)
        await rows_in_turn(driver, "INSERT INTO t VALUES (2)", [], in_time)
        assert await rows_in_turn(driver, "SELECT x FROM t", [], None) == [(2,)]
    assert (late.started, in_time.started) == (False, True)
