"""The async engine and the three ways Patchbay uses it: reads, single writes, transactions."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from db import direct
from db.lane import BORN, ConnectionLane
from db.single_write import SharedConnection, SharedSingleWrite, SingleWrite

_READ_ONLY = "patchbay_read_only"


class Database:
    def __init__(self, url: str, *, timeout_seconds: float = 5.0, pool_size: int = 10) -> None:
        self.url = url
        self.timeout_seconds = timeout_seconds
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        # SQLite has one writer at a time. Transactions of this process queue here, in
        # order, instead of polling the file lock in SQLite's busy handler (which backs off
        # up to 100 ms per try); single writes queue on their shared connection
        # (db/single_write.py); the busy timeout covers writers of other processes.
        self._sqlite_writer = asyncio.Lock() if self.is_sqlite else None
        self.engine: AsyncEngine = create_async_engine(
            url,
            # An autocommit connection has nothing to roll back when it returns to the pool.
            # Not on SQLite: every connection there looks autocommit to SQLAlchemy (its
            # transactions are ours, see below), and a read's BEGIN must be rolled back.
            skip_autocommit_rollback=not self.is_sqlite,
            **_engine_options(url, self.is_sqlite, timeout_seconds, pool_size),
        )
        if self.is_sqlite:
            _take_over_sqlite_transactions(self.engine, busy_timeout_seconds=timeout_seconds)
        # One statement is atomic by itself: it runs without BEGIN/COMMIT, two round trips
        # fewer per request. (SQLite's multi-statement transactions keep BEGIN IMMEDIATE.)
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        # PostgreSQL: autocommit connections lent per request without a pool checkout each
        # time, for reads and single writes (all of a server's traffic). SQLite: one
        # connection shared by the single writes.
        self.lane = ConnectionLane(
            self._autocommit,
            size=pool_size,
            timeout_seconds=timeout_seconds,
            is_lost=direct.connection_lost,
            is_unusable=direct.connection_unusable,
        )
        self._sqlite_statements = SharedConnection(self._autocommit) if self.is_sqlite else None
        _discard_stale_connections(self.engine, self.lane)

    @property
    def idle_outside_pool(self) -> int:
        """Open connections kept out of the pool and idle: the lane's, SQLite's shared one."""
        shared = self._sqlite_statements
        return self.lane.idle + (1 if shared is not None and shared.conn is not None else 0)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """Reads; each statement sees committed data."""
        if not self.is_sqlite:
            async with self.lane.connection() as conn:
                yield conn
            return
        async with self.engine.connect() as conn:
            await conn.execution_options(**{_READ_ONLY: True})
            async with conn.begin():
                yield conn

    @asynccontextmanager
    async def single_write(self) -> AsyncIterator[SingleWrite]:
        """One write statement (plus reads that only explain its outcome), in autocommit:
        the statement is its own transaction, without BEGIN and COMMIT round trips."""
        if self._sqlite_statements is None:
            async with self.lane.connection() as conn:
                yield SingleWrite(conn)
            return
        yield SharedSingleWrite(
            await self._sqlite_statements.get(),
            timeout_seconds=self.timeout_seconds,
            read=self.read,
        )

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A transaction of several statements."""
        async with self._writer_turn(), self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def _writer_turn(self) -> AsyncIterator[None]:
        if self._sqlite_writer is None:
            yield
            return
        try:
            async with asyncio.timeout(self.timeout_seconds):  # no task per wait: wait_for's
                await self._sqlite_writer.acquire()
        except TimeoutError:
            raise TimeoutError("no turn to write to SQLite within the timeout") from None
        try:
            yield
        finally:
            self._sqlite_writer.release()

    async def ping(self) -> None:
        async with self.read() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        if self._sqlite_statements is not None:
            await self._sqlite_statements.close()
        await self.lane.close()
        await self.engine.dispose()


def _discard_stale_connections(engine: AsyncEngine, lane: ConnectionLane) -> None:
    """After a lost connection, every connection made before it is presumed dead (the
    server restarted): the lane and the pool replace each before any statement fails on
    it. For the pool, SQLAlchemy's documented checkout-event recipe for disconnects."""

    @event.listens_for(engine.sync_engine, "connect")
    def _born(_dbapi_connection: Any, record: Any) -> None:
        record.info[BORN] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _still_alive(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if record.info.get(BORN, 0.0) < lane.stale_before:
            raise DisconnectionError("connection made before a lost connection")


def _engine_options(url: str, is_sqlite: bool, timeout: float, pool_size: int) -> dict[str, Any]:
    if is_sqlite:
        options: dict[str, Any] = {"connect_args": {"timeout": timeout}}
        if make_url(url).database not in (None, "", ":memory:"):  # in memory: a StaticPool
            # A writer waits for a pooled connection no longer than for SQLite's lock
            # (SQLAlchemy's default is 30 s): a locked file answers within bounds.
            options["pool_timeout"] = timeout
        return options
    return {
        "pool_size": pool_size,
        # The lane (db/lane.py) may hold every pooled connection: a transaction (the CLI,
        # seeding) can still open two more.
        "max_overflow": 2,
        "pool_timeout": timeout,
        # No pre-ping: it costs a round trip per request. After a server restart the first
        # failing statement invalidates the whole pool, and the next request reconnects.
        "connect_args": {"timeout": timeout, "command_timeout": timeout},
    }


def _take_over_sqlite_transactions(engine: AsyncEngine, *, busy_timeout_seconds: float) -> None:
    """WAL, a busy timeout, and BEGIN IMMEDIATE for writes.

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
        options = conn.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT":
            return  # one statement, its own transaction (single_write)
        conn.exec_driver_sql("BEGIN" if options.get(_READ_ONLY, False) else "BEGIN IMMEDIATE")
