"""The async engine and the two kinds of transaction Patchbay runs: read and write."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 5000
_READ_ONLY = "patchbay_read_only"


class Database:
    def __init__(self, url: str, *, timeout_seconds: float = 5.0, pool_size: int = 10) -> None:
        self.url = url
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        self.engine: AsyncEngine = create_async_engine(
            url, **_engine_options(self.is_sqlite, timeout_seconds, pool_size)
        )
        if self.is_sqlite:
            _take_over_sqlite_transactions(self.engine)
        # One statement is atomic by itself: on PostgreSQL it runs without BEGIN/COMMIT,
        # two round trips fewer per request. (SQLite keeps its BEGIN IMMEDIATE.)
        self._autocommit = self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """Reads; each statement sees committed data."""
        if not self.is_sqlite:
            async with self._autocommit.connect() as conn:
                yield conn
            return
        async with self.engine.connect() as conn:
            await conn.execution_options(**{_READ_ONLY: True})
            async with conn.begin():
                yield conn

    @asynccontextmanager
    async def single_write(self) -> AsyncIterator[AsyncConnection]:
        """One write statement (plus reads that only explain its outcome)."""
        if self.is_sqlite:
            async with self.write() as conn:
                yield conn
            return
        async with self._autocommit.connect() as conn:
            yield conn

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A transaction of several statements."""
        async with self.engine.begin() as conn:
            yield conn

    async def ping(self) -> None:
        async with self.read() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


def _engine_options(is_sqlite: bool, timeout: float, pool_size: int) -> dict[str, Any]:
    if is_sqlite:
        return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}}
    return {
        "pool_size": pool_size,
        "max_overflow": 0,
        "pool_timeout": timeout,
        # No pre-ping: it costs a round trip per request. After a server restart the first
        # failing statement invalidates the whole pool, and the next request reconnects.
        "connect_args": {"timeout": timeout, "command_timeout": timeout},
    }


def _take_over_sqlite_transactions(engine: AsyncEngine) -> None:
    """WAL, a busy timeout, and BEGIN IMMEDIATE for writes.

    A deferred transaction that reads first and writes later can fail with "database is
    locked" without waiting; taking the write lock up front makes writers queue on the
    busy timeout instead (SQLAlchemy's documented recipe, plus IMMEDIATE).
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        read_only = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")
