"""The one place that reaches into aiosqlite's private API.

aiosqlite runs each call in its connection's thread, one after another, but its public
API takes two hops to that thread per statement (execute, then fetch), and has no way to
skip a statement whose turn came too late. Its private `_execute(fn, *args)` queues one
function of ours instead, and `_conn` is the sqlite3 connection that function runs on.
tests/test_sqlite_driver.py pins both, so an aiosqlite upgrade that moves them fails there.
(And SQLAlchemy's dialect keeps its engine's JSON reader privately: json_reader.)
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class Turn:
    """A statement's place in the queue: it runs only if its turn comes by `deadline`
    (time.monotonic), and says whether it started (then its outcome is SQLite's)."""

    deadline: float
    started: bool = False


class TurnMissed(TimeoutError):
    """The statement's turn came after its deadline: it was not run."""


async def rows_in_turn(driver: Any, sql: str, values: list[Any], turn: Turn | None) -> list[Any]:
    """The statement's rows, fetched in the same hop as the statement."""
    rows: list[Any] = await driver._execute(_rows_unless_late, driver, sql, values, turn)
    return rows


def _rows_unless_late(driver: Any, sql: str, values: list[Any], turn: Turn | None) -> list[Any]:
    if turn is not None:
        if time.monotonic() > turn.deadline:
            raise TurnMissed("the statement's turn on SQLite came after its deadline")
        turn.started = True
    connection: sqlite3.Connection = driver._conn
    return connection.execute(sql, values).fetchall()


async def work_in_turn(driver: Any, work: Callable[[sqlite3.Connection], T], turn: Turn) -> T:
    """`work` on the sqlite3 connection in one hop: nothing of another request runs on the
    connection in between (several statements of one transaction, db/history.py)."""
    done: T = await driver._execute(_work_unless_late, driver, work, turn)
    return done


def _work_unless_late(driver: Any, work: Callable[[sqlite3.Connection], T], turn: Turn) -> T:
    if time.monotonic() > turn.deadline:
        raise TurnMissed("the statement's turn on SQLite came after its deadline")
    turn.started = True
    return work(driver._conn)


def json_reader(dialect: Any) -> Any:
    """The JSON columns' reader the engine was made with (create_engine's
    json_deserializer), None if none: SQLAlchemy keeps it privately on the dialect."""
    return getattr(dialect, "_json_deserializer", None)
