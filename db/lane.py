"""Autocommit connections kept checked out of SQLAlchemy's pool and handed out again.

A checkout from SQLAlchemy's async pool and the return (greenlet hops, the queue, pool
events, a fresh Connection) cost ~80 µs of CPU per request here: more than the update's
own client-side work. The lane keeps up to `size` connections out of the pool and lends
them to one request at a time, for statements that need no transaction of their own.

A connection that a failure left invalidated is closed and replaced. After a lost
connection every connection opened before it is presumed dead (the server restarted) and
replaced when next lent, before any statement fails on it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

BORN = "born"  # key of a connection record's info: when its DBAPI connection was made


class ConnectionLane:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        size: int,
        timeout_seconds: float,
        is_gone: Callable[[BaseException], bool],
    ) -> None:
        self.engine = engine  # with isolation_level AUTOCOMMIT
        self.size = size
        self.timeout_seconds = timeout_seconds
        self.is_gone = is_gone
        self.stale_before = 0.0  # connections made before this are presumed dead
        self._idle: asyncio.Queue[AsyncConnection] = asyncio.Queue()
        self._open = 0

    @property
    def idle(self) -> int:
        return self._idle.qsize()

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        conn = await self._take()
        try:
            yield conn
        except BaseException as error:
            gone = self.is_gone(error)
            if gone:
                self.stale_before = time.monotonic()
            if gone or not isinstance(error, Exception):  # or cancelled mid-statement
                await conn.invalidate(error if isinstance(error, Exception) else None)
            await self._give_back(conn)
            raise
        await self._give_back(conn)

    async def close(self) -> None:
        while not self._idle.empty():
            await self._drop(self._idle.get_nowait())

    async def _take(self) -> AsyncConnection:
        while True:
            if self._idle.empty() and self._open < self.size:
                return await self._open_one()
            if self._idle.empty():
                async with asyncio.timeout(self.timeout_seconds):  # no task, unlike wait_for
                    conn = await self._idle.get()
            else:
                conn = self._idle.get_nowait()
            if conn.info.get(BORN, 0.0) >= self.stale_before:
                return conn
            await self._drop(conn)  # opened before a lost connection: replace it

    async def _open_one(self) -> AsyncConnection:
        self._open += 1
        try:
            return await self.engine.connect().start()
        except BaseException:
            self._open -= 1
            raise

    async def _give_back(self, conn: AsyncConnection) -> None:
        if conn.invalidated or conn.closed:
            await self._drop(conn)
        else:
            self._idle.put_nowait(conn)

    async def _drop(self, conn: AsyncConnection) -> None:
        self._open -= 1
        with suppress(Exception):  # a dead connection may fail to close: gone either way
            await conn.close()
