"""What a single write gets from Database.single_write: its one statement (run directly,
db/direct.py), and a connection for the reads that explain the statement's outcome.

PostgreSQL: both on one lane connection lent to the request (db/lane.py).

SQLite: the statements of all requests share one connection, without a lock. SQLite has
one writer at a time anyway; on one connection the statements queue in its driver's
thread and run back to back, with no lock hand-over through the event loop in between
(that hand-over left SQLite idle for most of each write). A statement that has not
started within the timeout does not run. The explaining reads take a read connection.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.dml import UpdateBase

from db import direct


class SingleWrite:
    """One lent connection for the statement and its reads (PostgreSQL)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def first(self, statement: UpdateBase, params: Mapping[str, Any]) -> Any | None:
        return await direct.first(self.conn, statement, params)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        yield self.conn


class SharedSingleWrite(SingleWrite):
    """The shared statement connection, and reads on a connection of their own (SQLite)."""

    def __init__(
        self,
        conn: AsyncConnection,
        *,
        timeout_seconds: float,
        read: Callable[[], AbstractAsyncContextManager[AsyncConnection]],
    ) -> None:
        super().__init__(conn)
        self.timeout_seconds = timeout_seconds
        self.read = read

    async def first(self, statement: UpdateBase, params: Mapping[str, Any]) -> Any | None:
        deadline = time.monotonic() + self.timeout_seconds
        return await direct.first(self.conn, statement, params, deadline=deadline)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        async with self.read() as conn:
            yield conn


class SharedConnection:
    """SQLite's statement connection: opened when first needed, kept out of the pool, and
    replaced if a failure left it invalidated."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine  # with isolation_level AUTOCOMMIT
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
                self.conn = await self.engine.connect().start()
            return self.conn

    async def close(self) -> None:
        self._closed = True
        await self._close_current()

    async def _close_current(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            with suppress(Exception):  # a broken connection may fail to close: gone anyway
                await conn.close()
