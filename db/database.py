"""The database as the rest of Patchbay sees it: reads, single writes, transactions.

Each database has one backend (db/postgres.py, db/sqlite.py) that knows how it lends
connections; every error leaves through one translator (db/errors.py).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from types import TracebackType
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.expression import Executable

from db import statements
from db.errors import DatabaseUnavailable, WriteOutcomeUnknown, translated
from db.history import Change
from db.lane import ConnectionLane
from db.postgres import PostgresBackend
from db.single_write import SingleWrite
from db.sqlite import SqliteBackend
from db.statements import STATEMENT_SPAN, Row, inline_rows
from db.unit import Outcome, Unit, UnitWrite, ambient, ambient_unit


class Database:
    def __init__(
        self,
        url: str,
        *,
        timeout_seconds: float = 5.0,
        pool_size: int = 10,
        pooler: str = "none",  # "pgbouncer": see db/postgres.py
    ) -> None:
        self.url = url
        self.timeout_seconds = timeout_seconds
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        self.backend: PostgresBackend | SqliteBackend = (
            SqliteBackend(url, timeout_seconds=timeout_seconds)
            if self.is_sqlite
            else PostgresBackend(
                url, timeout_seconds=timeout_seconds, pool_size=pool_size, pooler=pooler
            )
        )
        # SQLite reads that may run in the loop's thread (db/sqlite_inline.py); None: none
        self._inline = self.backend.inline if isinstance(self.backend, SqliteBackend) else None
        self._dialect = self.backend.engine.dialect  # (AsyncEngine's is a proxy: read once)

    # In-process fan-out of committed history entries (subscriptions), set by the gateway.
    # SQLite only: on PostgreSQL a trigger NOTIFYs inside the write's transaction (0005).
    local_changes: Callable[[Change], None] | None = None

    def _published(self, changes: list[Change]) -> None:
        if self.is_sqlite and self.local_changes is not None:
            for change in changes:
                self.local_changes(change)

    @property
    def engine(self) -> AsyncEngine:
        return self.backend.engine

    @property
    def lane(self) -> ConnectionLane | None:
        return self.backend.lane if isinstance(self.backend, PostgresBackend) else None

    @property
    def idle_outside_pool(self) -> int:
        """Open connections kept out of the pool and idle: the lane's, SQLite's shared one."""
        return self.backend.idle_outside_pool

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """Reads; each statement sees committed data. All of it within the timeout. Inside a
        unit (db/unit.py): its connection, which sees the unit's own writes too."""
        unit = ambient(self)
        if unit is not None:
            with _in_unit():
                yield unit.conn
            return
        with translated():
            async with self.backend.read(time.monotonic() + self.timeout_seconds) as conn:
                yield conn

    async def rows(
        self,
        statement: Executable,
        params: Mapping[str, Any],
        *,
        row: type[Row],
        partial: bool = False,
    ) -> list[Row]:
        """One SELECT's rows (db/statements.py), read as read() reads them. On SQLite it
        runs inline first with no connection lent: a lending and its return cost ~15 µs of
        CPU, and with more reads in flight than the lane has connections, reads that would
        have finished at once queued for a connection they never used.

        Not while the lane opens connections: reads queue for it then, as before. A
        connection opens through hops to aiosqlite's threads, and while the other reads kept
        the loop busy inline, opening them took seconds (past the requests' bound) when a
        stall sent every read to the empty lane at once."""
        inline = self._inline
        if (
            inline is not None
            and not self.backend.lane.opening
            and STATEMENT_SPAN.get() is None
            and ambient(self) is None
        ):
            with translated():
                found = inline_rows(
                    inline, self._dialect, statement, params, row=row, partial=partial
                )
            if found is not None:
                return found
        # (a read that could not run inline here is tried once more inline, and then by the
        # driver: rarely, only when it failed, and as every other read does)
        async with self.read() as conn:
            return await statements.rows(conn, statement, params, row=row, partial=partial)

    def single_write(self) -> AbstractAsyncContextManager[SingleWrite]:
        """One write statement (plus reads that only explain its outcome), in autocommit:
        the statement is its own transaction, without BEGIN and COMMIT round trips.

        All of it within the timeout: one deadline bounds the wait for a connection, a
        connect and each statement (an asyncio.timeout per request cost ~15 us of CPU; the
        driver's per-statement timeout costs nothing more). A failure after the statement
        was sent is WriteOutcomeUnknown; before, DatabaseUnavailable.

        Inside a unit (db/unit.py): the statement runs in the unit's transaction."""
        unit = ambient(self)
        if unit is not None:
            return _unit_write(unit)
        return _SingleWriteScope(self.backend, self.timeout_seconds, self._published)

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[Outcome]:
        """A transaction whose writes commit together when the block ends (or roll back:
        an error, or Outcome.discard()). Inside another unit: a savepoint of it."""
        outer = ambient(self)
        if outer is not None:
            async with outer.savepoint() as outcome:
                yield outcome
            return
        deadline = time.monotonic() + self.timeout_seconds
        with translated():
            async with (
                self.backend.unit_connection(deadline) as conn,
                ambient_unit(Unit(conn, owner=self, on_commit=self._published)) as outcome,
            ):
                yield outcome

    def current_unit(self) -> Unit | None:
        """The unit of work open in this request, if any."""
        return ambient(self)

    def note_mutation(self, *, dry_run: bool) -> None:
        """A mutation field ran: its answer is worth keeping for a retry unless it was a dry
        run (only a unit of an idempotent request reads this). The items of a bulk update,
        inside its savepoint, do not count: the bulk's own call does."""
        unit = ambient(self)
        if unit is not None and unit.depth == 0 and not dry_run:
            unit.keeps_answer = True

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A transaction of several statements."""
        with translated():
            async with self.backend.transaction() as conn:
                yield conn

    async def ping(self) -> None:
        async with self.read() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.backend.dispose()


class _SingleWriteScope:
    """Database.single_write outside a unit, as a class: the generator-based context
    manager it was cost ~2 µs more per write (every update takes this path). The block's
    own error passes through the translation and the outcome's judgement, as it did."""

    __slots__ = ("backend", "lent", "published", "single", "timeout_seconds")

    def __init__(
        self,
        backend: PostgresBackend | SqliteBackend,
        timeout_seconds: float,
        published: Callable[[list[Change]], None],
    ) -> None:
        self.backend = backend
        self.timeout_seconds = timeout_seconds
        self.published = published

    async def __aenter__(self) -> SingleWrite:
        deadline = time.monotonic() + self.timeout_seconds
        try:
            with translated():
                self.lent = self.backend.single_write(deadline)
                self.single = await self.lent.__aenter__()
        except (TimeoutError, DatabaseUnavailable) as error:
            failure = _failed_write(error, None)
            if failure is error:
                raise
            raise failure from error
        return self.single

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        try:
            with translated():
                try:
                    self.published(self.single.changes)  # committed with their write
                except BaseException as failed:  # in place of the block's error, as before
                    kind, error, traceback = type(failed), failed, failed.__traceback__
                suppressed = await self.lent.__aexit__(kind, error, traceback)
                if error is not None and not suppressed:
                    raise error
                return suppressed
        except (TimeoutError, DatabaseUnavailable) as failure:
            judged = _failed_write(failure, self.single)
            if judged is failure:
                raise
            raise judged from failure


def _failed_write(error: Exception, single: SingleWrite | None) -> Exception:
    """What a single write cut short raises: its outcome is unknown once its statement was
    sent; before, the database was unavailable."""
    if single is not None and single.may_have_written:
        return WriteOutcomeUnknown(error)
    if isinstance(error, DatabaseUnavailable):
        return error
    return DatabaseUnavailable(error)


@asynccontextmanager
async def _unit_write(unit: Unit) -> AsyncIterator[SingleWrite]:
    with _in_unit():
        yield UnitWrite(unit)


@contextmanager
def _in_unit() -> Iterator[None]:
    """A failure inside a unit rolls all of it back: nothing was written, whatever the
    statement's fate, so a timeout is DatabaseUnavailable (the unit's COMMIT alone may
    leave an outcome unknown, db/unit.py)."""
    try:
        with translated():
            yield
    except TimeoutError as error:
        raise DatabaseUnavailable(error) from error


# Where a read's statements run: a connection (one lent, or a unit's), or the database,
# which reads as Database.rows() does
Source = AsyncConnection | Database


async def read_rows(
    source: Source,
    statement: Executable,
    params: Mapping[str, Any],
    *,
    row: type[Row],
    partial: bool = False,
) -> list[Row]:
    if isinstance(source, Database):
        return await source.rows(statement, params, row=row, partial=partial)
    return await statements.rows(source, statement, params, row=row, partial=partial)


async def first_row(
    source: Source,
    statement: Executable,
    params: Mapping[str, Any],
    *,
    row: type[Row],
    partial: bool = False,
) -> Row | None:
    found = await read_rows(source, statement, params, row=row, partial=partial)
    return found[0] if found else None
