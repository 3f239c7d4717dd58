"""One write statement run on the driver's own connection: compiled once, executed directly.

SQLAlchemy compiles the statement (SQL text in the driver's parameter style, parameter
order, the column types' bind and result processors) once per statement and dialect. Each
call then hands the driver its SQL and positional values and builds the row itself,
skipping SQLAlchemy's per-call execution machinery (execution context, cursor adapter,
result object), which cost more CPU than everything else on the update path together.

Only for autocommit connections (Database.single_write): the statement is its own
transaction, so there is no transaction state of SQLAlchemy's to keep in step. A driver
error that means the connection is gone invalidates the pool's connections, as SQLAlchemy
would (db/lane.py, with `connection_lost`).
"""

from __future__ import annotations

import sqlite3
import time
from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import asyncpg
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import UpdateBase

from db.errors import UniqueViolation, is_unique_violation

# Connection exceptions (class 08) and a server shutting down, crashed or starting up.
LOST_SQLSTATES = ("08", "57P01", "57P02", "57P03")
Processor = Callable[[Any], Any] | None


@dataclass(frozen=True, slots=True)
class Compiled:
    sql: str
    # (name, processor, value of a literal the statement carries), in the driver's order
    parameters: tuple[tuple[str, Processor, Any], ...]
    make_row: Callable[[Iterable[Any]], Any]  # a named tuple of the RETURNING columns
    results: tuple[Processor, ...]
    for_asyncpg: bool


async def first(
    conn: AsyncConnection,
    statement: UpdateBase,
    params: Mapping[str, Any],
    *,
    deadline: float | None = None,
) -> Any | None:
    """The first row the statement returns (a named tuple), or None.

    On SQLite, statements of concurrent requests may queue on one connection (see
    db/single_write.py): one that has not started by `deadline` (time.monotonic) is not
    run at all, and fails with TimeoutError."""
    compiled = _compiled(statement, conn.dialect)
    sync = conn.sync_connection
    if sync is None or sync.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
        raise RuntimeError("direct statements run only on autocommit connections")
    values = [
        value if process is None else process(value)
        for value, process in (
            (params.get(name, literal), process) for name, process, literal in compiled.parameters
        )
    ]
    if not sync.invalidated:  # no greenlet hop: nothing to reconnect
        driver: Any = sync.connection.driver_connection
    else:
        driver = (await conn.get_raw_connection()).driver_connection
    try:
        if compiled.for_asyncpg:
            found = await driver.fetchrow(compiled.sql, *values)
        else:  # aiosqlite: statement and fetch in one hop to its thread
            # aiosqlite's own queue (its _execute) with a function of ours: the deadline
            # is checked in its thread, when the statement's turn comes.
            rows = await driver._execute(_rows_unless_late, driver, compiled.sql, values, deadline)
            found = rows[0] if rows else None
    except Exception as error:
        if is_unique_violation(error):
            raise UniqueViolation(str(error)) from error
        if not compiled.for_asyncpg and isinstance(error, ValueError | sqlite3.ProgrammingError):
            # aiosqlite's connection was closed under us: invalidated, it is replaced at the
            # next use (db/single_write.py), and this request may retry.
            await conn.invalidate(error)
            raise ConnectionError("the SQLite connection was closed") from error
        raise  # the lane (db/lane.py) replaces a PostgreSQL connection that is gone
    if found is None:
        return None
    return compiled.make_row(
        value if process is None else process(value)
        for value, process in zip(found, compiled.results, strict=True)
    )


def _rows_unless_late(
    driver: Any, sql: str, values: list[Any], deadline: float | None
) -> list[Any]:
    if deadline is not None and time.monotonic() > deadline:
        raise TimeoutError("the statement's turn on SQLite came after its deadline")
    return list(driver._conn.execute(sql, values).fetchall())


@lru_cache(maxsize=512)  # statements are themselves built once per shape (lru-cached)
def _compiled(statement: UpdateBase, dialect: Dialect) -> Compiled:
    compiled = statement.compile(dialect=dialect)
    order = compiled.positiontup
    if order is None:
        raise ValueError(f"{dialect.name}: no positional parameter style")
    parameters = tuple(
        (name, bind.type.dialect_impl(dialect).bind_processor(dialect), bind.effective_value)
        for name, bind in ((name, compiled.binds[name]) for name in order)
    )
    columns = statement.exported_columns  # what RETURNING yields, in order
    results = tuple(
        column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
    )
    row = namedtuple("Row", [column.key for column in columns])  # type: ignore[misc]
    return Compiled(compiled.string, parameters, row._make, results, dialect.driver == "asyncpg")


def connection_lost(error: BaseException) -> bool:
    """The server is gone (a restart, a shutdown): connections made before are dead too."""
    if isinstance(error, DBAPIError):  # raised through SQLAlchemy, which judged it
        return error.connection_invalidated
    if isinstance(error, asyncpg.PostgresError):
        return str(getattr(error, "sqlstate", "")).startswith(LOST_SQLSTATES)
    if isinstance(error, asyncpg.InterfaceError):
        return not isinstance(error, ValueError)  # "connection is closed"; DataError is ours
    return isinstance(error, ConnectionError)


def connection_unusable(error: BaseException) -> bool:
    """This connection must not serve another request: lost, or a command timeout that may
    have left its statement running."""
    return connection_lost(error) or isinstance(error, TimeoutError)
