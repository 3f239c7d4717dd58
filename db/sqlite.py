"""SQLite: single writes share one connection, reads take connections kept out of the pool
(WAL lets them run beside the writer), and transactions queue for their turn in this
process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from db.errors import connection_lost, connection_unusable
from db.lane import ConnectionLane
from db.single_write import SharedSingleWrite
from db.sqlite_inline import INLINE, InlineReads
from db.types import read_json

READ_CONNECTIONS = 5  # what SQLAlchemy's pool kept for reads before (its pool_size)


class SqliteBackend:
    def __init__(self, url: str, *, timeout_seconds: float) -> None:
        self.timeout_seconds = timeout_seconds
        # Another process's lock is waited for half the request's bound, and a queued write
        # starts only while that wait still fits: SQLite itself then answers every write in
        # time ("locked": nothing written), and none is left with an unknown outcome.
        self.busy_timeout_seconds = timeout_seconds / 2
        options: dict[str, Any] = {
            "connect_args": {"timeout": timeout_seconds},
            "json_deserializer": read_json,
        }
        if make_url(url).database not in (None, "", ":memory:"):  # in memory: a StaticPool
            # A writer waits for a pooled connection no longer than for SQLite's lock
            # (SQLAlchemy's default is 30 s): a locked file answers within bounds.
            options["pool_timeout"] = timeout_seconds
        self.engine = create_async_engine(url, **options)
        _take_over_transactions(self.engine, busy_timeout_seconds=timeout_seconds)
        self.autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self.shared = SharedConnection(
            self.autocommit, busy_timeout_seconds=self.busy_timeout_seconds
        )
        # Reads take connections kept out of the pool (db/lane.py): a pool checkout costs
        # three hops to aiosqlite's thread here (setting the isolation level, resetting it,
        # the rollback on return), each as dear as the statement's own.
        self.lane = ConnectionLane(
            self.autocommit,
            size=READ_CONNECTIONS,
            timeout_seconds=timeout_seconds,
            is_lost=connection_lost,
            is_unusable=connection_unusable,
        )
        # Reads that can finish at once run in the loop's thread (db/sqlite_inline.py).
        self.inline = InlineReads.of(url)
        self._read_info = None if self.inline is None else {INLINE: self.inline}
        # SQLite has one writer at a time. Transactions of this process queue here, in
        # order, instead of polling the file lock in SQLite's busy handler (which backs off
        # up to 100 ms per try); the busy timeout covers writers of other processes.
        self._writer = asyncio.Lock()

    @property
    def idle_outside_pool(self) -> int:
        return (1 if self.shared.conn is not None else 0) + self.lane.idle

    def read(self, deadline: float | None = None) -> AbstractAsyncContextManager[AsyncConnection]:
        """Each statement sees committed data, and is its own transaction. Its SELECTs may
        run inline (db/sqlite_inline.py): only while lent for reads, never to a unit."""
        return self.lane.connection(deadline, self._read_info)

    @asynccontextmanager
    async def single_write(self, deadline: float) -> AsyncIterator[SharedSingleWrite]:
        """`deadline` (time.monotonic): when the request's answer is due."""
        start_by = deadline - self.busy_timeout_seconds - self.timeout_seconds / 10  # margin
        yield SharedSingleWrite(await self.shared.get(), deadline=start_by, read=self.read)

    @asynccontextmanager
    async def unit_connection(self, deadline: float) -> AsyncIterator[AsyncConnection]:
        """A read connection for a unit of work (db/unit.py), which sends BEGIN IMMEDIATE:
        in this process's queue of writers, like transactions."""
        async with self._writer_turn(), self.lane.connection(deadline) as conn:
            yield conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        async with self._writer_turn(), self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def _writer_turn(self) -> AsyncIterator[None]:
        try:
            async with asyncio.timeout(self.timeout_seconds):  # no task per wait: wait_for's
                await self._writer.acquire()
        except TimeoutError:
            raise TimeoutError("no turn to write to SQLite within the timeout") from None
        try:
            yield
        finally:
            self._writer.release()

    async def dispose(self) -> None:
        if self.inline is not None:
            self.inline.close()
        await self.lane.close()
        await self.shared.close()
        await self.engine.dispose()


class SharedConnection:
    """The single writes' connection: opened when first needed, kept out of the pool, and
    replaced if a failure left it invalidated."""

    def __init__(self, engine: AsyncEngine, *, busy_timeout_seconds: float) -> None:
        self.engine = engine  # with isolation_level AUTOCOMMIT
        # Its own, shorter than other connections' (transactions keep the whole timeout).
        self.busy_timeout_ms = max(1, round(busy_timeout_seconds * 1000))
        self.conn: AsyncConnection | None = None
        self._opening = asyncio.Lock()
        self._closed = False

    async def get(self) -> AsyncConnection:
        if self._closed:
            raise RuntimeError("the database was disposed")
        conn = self.conn
        if conn is not None and not conn.invalidated and not conn.closed:
            return conn
        async with self._opening:
            if self.conn is None or self.conn.invalidated or self.conn.closed:
                await self._close_current()
                conn = await self.engine.connect().start()
                await conn.exec_driver_sql(f"PRAGMA busy_timeout={self.busy_timeout_ms}")
                self.conn = conn
            return self.conn

    async def close(self) -> None:
        self._closed = True
        await self._close_current()

    async def _close_current(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            with suppress(Exception):  # a broken connection may fail to close: gone anyway
                await conn.close()


def _take_over_transactions(engine: AsyncEngine, *, busy_timeout_seconds: float) -> None:
    """WAL, a busy timeout, and BEGIN IMMEDIATE for transactions.

    A deferred transaction that reads first and writes later can fail with "database is
    locked" without waiting; taking the write lock up front makes writers queue on the
    busy timeout instead (SQLAlchemy's documented recipe, plus IMMEDIATE).
    """
    busy_timeout_ms = max(1, round(busy_timeout_seconds * 1000))

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            return  # one statement, its own transaction
        conn.exec_driver_sql("BEGIN IMMEDIATE")
