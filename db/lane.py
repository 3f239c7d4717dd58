"""Autocommit connections kept checked out of SQLAlchemy's pool and handed out again.

A checkout from SQLAlchemy's async pool and the return (greenlet hops, the queue, pool
events, a fresh Connection) cost ~80 µs of CPU per request here: more than the update's
own client-side work. The lane keeps up to `size` connections out of the pool and lends
them to one request at a time, for statements that need no transaction of their own.

Waiters are served first come, first served: a returned connection goes straight to the
longest waiter, so a request that has just arrived cannot take it first (with a queue it
could, again and again, until the waiter timed out).

A connection that a failure left invalidated is closed and replaced. After a lost
connection every connection opened before it is presumed dead (the server restarted) and
replaced when next lent, before any statement fails on it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
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
        self._idle: list[AsyncConnection] = []  # the last returned is lent first: warm
        self._waiters: deque[asyncio.Future[AsyncConnection | None]] = deque()
        self._open = 0

    @property
    def idle(self) -> int:
        return len(self._idle)

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
        while self._idle:
            await self._drop(self._idle.pop())

    async def _take(self) -> AsyncConnection:
        while True:
            if self._idle:
                conn: AsyncConnection | None = self._idle.pop()
            elif self._open < self.size:
                return await self._open_one()
            else:
                conn = await self._wait()
                if conn is None:  # a connection was closed: open one in its place
                    continue
            assert conn is not None
            if conn.info.get(BORN, 0.0) >= self.stale_before:
                return conn
            await self._drop(conn)  # opened before a lost connection: replace it

    async def _wait(self) -> AsyncConnection | None:
        waiter: asyncio.Future[AsyncConnection | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(self.timeout_seconds):
                return await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self._hand(waiter.result())  # handed over as this request gave up
            raise

    def _hand(self, conn: AsyncConnection | None) -> None:
        """A connection (None: room for one) to the longest waiter, else to the idle."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():  # skips waiters that timed out
                waiter.set_result(conn)
                return
        if conn is not None:
            self._idle.append(conn)

    async def _open_one(self) -> AsyncConnection:
        self._open += 1
        try:
            return await self.engine.connect().start()
        except BaseException:
            self._open -= 1
            self._hand(None)  # a waiter may try in turn (and fail fast if the server is down)
            raise

    async def _give_back(self, conn: AsyncConnection) -> None:
        if conn.invalidated or conn.closed:
            await self._drop(conn)
        else:
            self._hand(conn)

    async def _drop(self, conn: AsyncConnection) -> None:
        self._open -= 1
        with suppress(Exception):  # a dead connection may fail to close: gone either way
            await conn.close()
        self._hand(None)
