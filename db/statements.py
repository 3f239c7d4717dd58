"""The one way the request path runs a statement: compiled once, run on the driver.

SQLAlchemy compiles each statement (SQL text in the driver's parameter style, parameter
order, the column types' bind and result processors) once per statement and dialect. Each
call then hands the driver its SQL and positional values and builds typed rows itself,
skipping SQLAlchemy's per-call execution machinery (execution context, cursor adapter,
result object), which cost more CPU than everything else on the update path together.

Only on autocommit connections (db/postgres.py, db/sqlite.py): each statement is its own
transaction, so there is no transaction state of SQLAlchemy's to keep in step.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple, TypeVar

import orjson
from sqlalchemy import Select
from sqlalchemy import types as sqltypes
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ClauseElement, Executable

from db.errors import UniqueViolation, is_unique_violation
from db.lane import DEADLINE, TIMED_OUT, Kept, at_hand
from db.sqlite_driver import Turn, json_reader, rows_in_turn, work_in_turn
from db.sqlite_inline import INLINE, InlineReads
from db.types import UTCDateTime, read_json

Processor = Callable[[Any], Any] | None
Row = TypeVar("Row", bound=NamedTuple)
T = TypeVar("T")
# Set per request only while tracing is on (gateway/tracing): the span around each statement
# run here, which SQLAlchemy's own instrumentation cannot see. (SQL text, dialect name.)
STATEMENT_SPAN: ContextVar[Callable[[str, str], AbstractContextManager[object]] | None] = (
    ContextVar("statement_span", default=None)
)


@dataclass(frozen=True, slots=True)
class Compiled:
    sql: str
    # (name, processor, value of a literal the statement carries), in the driver's order
    parameters: tuple[tuple[str, Processor, Any], ...]
    for_asyncpg: bool
    selects: bool  # a SELECT: may run inline on SQLite (db/sqlite_inline.py)
    # the driver's rows -> typed rows: each column processed and put in its place
    build: Callable[[list[Any]], list[Any]]


async def first(
    conn: AsyncConnection,
    statement: Executable,
    params: Mapping[str, Any],
    *,
    row: type[Row],
    turn: Turn | None = None,
    partial: bool = False,
) -> Row | None:
    found = await rows(conn, statement, params, row=row, turn=turn, partial=partial)
    return found[0] if found else None


async def rows(
    conn: AsyncConnection,
    statement: Executable,
    params: Mapping[str, Any],
    *,
    row: type[Row],
    turn: Turn | None = None,
    partial: bool = False,
) -> list[Row]:
    """The statement's rows as `row`s (`partial`: the statement selects only some of the
    row's columns, and the others are None). On SQLite, statements of concurrent requests may queue
    on one connection (db/sqlite.py): one whose `turn` comes too late is not run at all."""
    kept = at_hand(conn)
    dialect = conn.dialect if kept is None else kept.dialect
    ready = prepared(dialect, statement, params, row=row, partial=partial)
    span = STATEMENT_SPAN.get()
    if span is None:
        found = await _run(conn, ready.compiled, ready.values, turn, kept)
    else:
        with span(ready.compiled.sql, dialect.name):
            found = await _run(conn, ready.compiled, ready.values, turn, kept)
    made: list[Row] = ready.made(found)
    return made


def inline_rows(
    inline: InlineReads,
    dialect: Dialect,
    statement: Executable,
    params: Mapping[str, Any],
    *,
    row: type[Row],
    partial: bool = False,
) -> list[Row] | None:
    """A SELECT's rows as rows() makes them, read inline on SQLite (db/sqlite_inline.py)
    with no connection at all; None: it could not run at once there (nothing ran)."""
    ready = prepared(dialect, statement, params, row=row, partial=partial)
    if not ready.compiled.selects:
        return None
    found = inline.rows(ready.compiled.sql, ready.values)
    return None if found is None else ready.made(found)


class Prepared(NamedTuple):
    """A statement with its driver values, and how its raw rows become `row`s: what a
    sequence of statements run in SQLite's thread at once needs (db/history.py). (A tuple:
    one per statement, built for a third of a frozen dataclass's cost.)"""

    compiled: Compiled
    values: list[Any]

    @property
    def sql(self) -> str:
        return self.compiled.sql

    def made(self, found: list[Any]) -> list[Any]:
        return self.compiled.build(found)


def sql_of(dialect: Dialect, statement: Executable, *, row: type[Row]) -> str:
    return _compiled(statement, dialect, row, False).sql


def prepared(
    dialect: Dialect,
    statement: Executable,
    params: Mapping[str, Any],
    *,
    row: type[Row],
    partial: bool = False,
) -> Prepared:
    compiled = _compiled(statement, dialect, row, partial)
    get = params.get
    # one list display, no generator inside it: a write has a dozen parameters
    values = [
        get(name, literal) if process is None else process(get(name, literal))
        for name, process, literal in compiled.parameters
    ]
    return tuple.__new__(Prepared, (compiled, values))  # without Prepared's Python __new__


async def command(conn: AsyncConnection, sql: str) -> None:
    """A statement without parameters or rows (BEGIN, SAVEPOINT, COMMIT …) on the driver
    itself: SQLAlchemy sees an autocommit connection and keeps no transaction state."""
    driver: Any = _driver(conn) or (await conn.get_raw_connection()).driver_connection
    if conn.dialect.driver == "asyncpg":
        if timed_out(conn):
            raise TimeoutError(f"not sent: a statement before {sql} timed out on its connection")
        try:
            await driver.execute(sql, timeout=_timeout(conn))
        except TimeoutError:
            conn.info[TIMED_OUT] = True
            raise
    else:
        await rows_in_turn(driver, sql, [], None)


def _driver(conn: AsyncConnection) -> Any:
    """The driver's connection; None when SQLAlchemy must reconnect it first (one greenlet
    hop, only then)."""
    sync = conn.sync_connection
    if sync is None or sync.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
        raise RuntimeError("statements run directly only on autocommit connections")
    return None if sync.invalidated else sync.connection.driver_connection


def timed_out(conn: AsyncConnection) -> bool:
    """A statement on this lent connection timed out: asyncpg is sending the server its
    cancel request, and a statement sent now would wait for that cancel only until its own
    timeout (a millisecond, past the request's deadline), then terminate the connection with
    the cancel unsent. Nothing more is sent on it; the lane closes it (db/lane.py)."""
    sync = conn.sync_connection
    if sync is None or sync.invalidated:
        return False  # (its info would be read by reconnecting: nothing is pending on it)
    return bool(sync.info.get(TIMED_OUT))


def _timeout(conn: AsyncConnection) -> float | None:
    return _timeout_of(conn.info)


def _timeout_of(info: Mapping[str, Any]) -> float | None:
    """By the request's deadline (db/lane.py), else the driver's command timeout."""
    deadline = info.get(DEADLINE)
    return None if deadline is None else max(0.001, deadline - time.monotonic())


async def in_one_hop(
    conn: AsyncConnection, work: Callable[[sqlite3.Connection], T], turn: Turn, *, sql: str
) -> T:
    """`work` on SQLite's own connection, in one hop to its thread (db/sqlite_driver.py);
    traced as one statement, `sql` (the write the hop is for)."""
    driver: Any = _driver(conn) or (await conn.get_raw_connection()).driver_connection
    span = STATEMENT_SPAN.get()
    try:
        if span is None:
            return await work_in_turn(driver, work, turn)
        with span(sql, conn.dialect.name):
            return await work_in_turn(driver, work, turn)
    except Exception as error:
        if is_unique_violation(error):
            raise UniqueViolation(str(error)) from error
        if isinstance(error, ValueError | sqlite3.ProgrammingError):
            await conn.invalidate(error)
            raise ConnectionError("the SQLite connection was closed") from error
        raise


async def _run(
    conn: AsyncConnection,
    compiled: Compiled,
    values: list[Any],
    turn: Turn | None,
    kept: Kept | None,
) -> list[Any]:
    # three SQLAlchemy properties deep: read once per statement, or kept by the lane
    info = conn.info if kept is None else kept.info
    if not compiled.for_asyncpg and compiled.selects and turn is None:
        inline: InlineReads | None = info.get(INLINE)  # SQLite's read connections only
        if inline is not None:
            at_once = inline.rows(compiled.sql, values)
            if at_once is not None:
                return at_once
    driver: Any = (
        (_driver(conn) or (await conn.get_raw_connection()).driver_connection)
        if kept is None
        else kept.driver
    )
    try:
        if compiled.for_asyncpg:
            if TIMED_OUT in info:  # see timed_out(): nothing more is sent on it
                raise TimeoutError("not sent: a statement before it timed out on its connection")
            try:
                found: list[Any] = await driver.fetch(
                    compiled.sql, *values, timeout=_timeout_of(info)
                )
            except TimeoutError:
                info[TIMED_OUT] = True
                raise
            return found
        return await rows_in_turn(driver, compiled.sql, values, turn)
    except Exception as error:
        if is_unique_violation(error):
            raise UniqueViolation(str(error)) from error
        if not compiled.for_asyncpg and isinstance(error, ValueError | sqlite3.ProgrammingError):
            # aiosqlite's connection was closed under us: invalidated, it is replaced at the
            # next use (db/sqlite.py), and this request may retry.
            await conn.invalidate(error)
            raise ConnectionError("the SQLite connection was closed") from error
        raise  # the lane (db/lane.py) replaces a PostgreSQL connection that is gone


@lru_cache(maxsize=512)  # statements are themselves built once per shape
def _compiled(
    statement: Executable, dialect: Dialect, row: type[NamedTuple], partial: bool
) -> Compiled:
    assert isinstance(statement, ClauseElement)
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    order = compiled.positiontup
    if order is None:
        raise ValueError(f"{dialect.name}: no positional parameter style")
    parameters = tuple(
        (name, bind.type.dialect_impl(dialect).bind_processor(dialect), bind.effective_value)
        for name, bind in ((name, compiled.binds[name]) for name in order)
    )
    columns = list(getattr(statement, "exported_columns", ()))  # what the rows carry
    keys = tuple(column.key for column in columns)
    # all the row's fields in its order; or, for a statement selecting only some (`partial`),
    # some of them, each once
    if (keys != row._fields and not partial) or not _some_of(keys, row._fields):
        raise TypeError(f"{row.__name__} has fields {row._fields}, the statement yields {keys}")
    results = [
        column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
    ]
    return Compiled(
        compiled.string,
        parameters,
        dialect.driver == "asyncpg",
        isinstance(statement, Select),
        _builder(row, keys, results, [type(column.type) for column in columns], dialect),
    )


def _some_of(keys: tuple[str, ...], fields: tuple[str, ...]) -> bool:
    return len(set(keys)) == len(keys) and set(keys) <= set(fields)


def _builder(
    row: type[NamedTuple],
    keys: tuple[str, ...],
    processors: list[Processor],
    types: list[type],
    dialect: Dialect,
) -> Callable[[list[Any]], list[Any]]:
    """One function per statement, written as source and compiled once: a list display
    making each row from the driver's, column by column in the row's order (None for a
    field the statement does not select: a read of only the columns a document asks for),
    with no Python call per row besides the processors the columns have (and not even
    those for a value already as its processor would return it: a UTC datetime of a
    UTCDateTime column, whose processor returns an equal datetime in UTC).

    On SQLite, whose driver gives datetimes and JSON as text, the common case is decoded
    in C, inline (_sqlite_fast): a page of 50 prompts took more CPU in the processors'
    Python calls than in SQLite. Where the inline decoding fails (text it cannot read),
    the whole page is built again with the processors, which then answer or raise exactly
    as before: the inline form only ever succeeds with the processors' own result."""
    # tuple.__new__ as _make calls it, without _make's Python frame per row (its length
    # check holds by construction: one entry per field)
    names: dict[str, Any] = {"new": tuple.__new__, "cls": row}
    entries, fast = [], []
    for field in row._fields:
        if field not in keys:
            entries.append("None")
            fast.append("None")
            continue
        index = keys.index(field)
        process = processors[index]
        if process is None:
            entries.append(f"r[{index}]")
            fast.append(f"r[{index}]")
            continue
        names[f"p{index}"] = process
        if types[index] is UTCDateTime:  # asyncpg's are UTC already: kept, no two calls
            names |= {"datetime": datetime, "UTC": UTC}
            entries.append(
                f"v if (v := r[{index}]).__class__ is datetime and v.tzinfo is UTC else p{index}(v)"
            )
        else:
            entries.append(f"p{index}(r[{index}])")
        fast.append(_sqlite_fast(dialect, types[index], index, names) or entries[-1])
    row_of = "new(cls, ({},))".format
    source = f"def build(found):\n    return [{row_of(', '.join(entries))} for r in found]\n"
    if fast != entries:
        source += (
            "def build_fast(found):\n    try:\n"
            f"        return [{row_of(', '.join(fast))} for r in found]\n"
            "    except (TypeError, ValueError):\n        return build(found)\n"
        )
    exec(compile(source, f"<rows of {row.__name__}>", "exec"), names)  # noqa: S102
    build: Callable[[list[Any]], list[Any]] = names.get("build_fast", names["build"])
    return build


def _sqlite_fast(dialect: Dialect, kind: type, index: int, names: dict[str, Any]) -> str | None:
    """The inline decoding of a SQLite column of this type, or None (the processor's).

    UTCDateTime: the processors are datetime.fromisoformat (SQLAlchemy's for SQLite), then
    UTC for a naive result (db/types.py); the text read as UTC in one call is the same
    datetime. Text with an offset of its own fails (offset twice), and a date alone reads
    as naive (fromisoformat drops the offset): the processors read both. JSON: the
    processors end in the dialect's deserializer, db/types.read_json, which is orjson
    first: the same value wherever orjson reads the text."""
    if dialect.name != "sqlite":
        return None
    if kind is UTCDateTime:
        names |= {"fromiso": datetime.fromisoformat, "UTC": UTC}
        return (
            f"(None if (v := r[{index}]) is None else d"
            f" if (d := fromiso(v + '+00:00')).tzinfo is UTC else p{index}(v))"
        )
    if issubclass(kind, sqltypes.JSON) and json_reader(dialect) is read_json:
        names["loads"] = orjson.loads
        return f"(None if (v := r[{index}]) is None else loads(v))"
    return None
