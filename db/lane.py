"""Autocommit connections kept checked out of SQLAlchemy's pool and handed out again.

A checkout from SQLAlchemy's async pool and the return (greenlet hops, the queue, pool
events, a fresh Connection) cost ~80 µs of CPU per request here: more than the update's
own client-side work. The lane keeps up to `size` connections out of the pool and lends
them to one request at a time, for statements that need no transaction of their own.

Waiters are served first come, first served: a returned connection goes straight to the
longest waiter, so a request that has just arrived cannot take it first (with a queue it
could, again and again, until the waiter timed out). One timer, for the earliest deadline,
fails the waiters whose deadline passed: under load most requests wait, and a timer each
(made, pushed on the loop's heap, cancelled) cost several µs per request.

A connection that a failure left invalidated is closed and replaced. After a lost
connection every connection opened before it is presumed dead (the server restarted) and
replaced when next lent, before any statement fails on it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from contextlib import AbstractAsyncContextManager, suppress
from types import TracebackType
from typing import Any, NamedTuple, TypeVar

from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

BORN = "born"  # key of a connection record's info: when its DBAPI connection was made
DEADLINE = "deadline"  # key of a lent connection's info: when its request's answer is due
# Key of a lent connection's info: a statement on it timed out (db/statements.py). asyncpg is
# sending the server a cancel request on a connection of its own; nothing more is sent on
# this one, which the lane closes once that cancel is out (_close).
TIMED_OUT = "timed_out"
Lent = TypeVar("Lent")
# PostgreSQL's lane (db/postgres.py): a lending with less time than this left to its deadline
# is refused before anything is sent. Its statement would go with a timeout of a few ms,
# most likely time out, and cost the connection (a cancel request, a close, a new
# connection): under overload, for each of the waiters served near their deadline at once.
POSTGRES_MIN_SECONDS_TO_SEND = 0.005


class Kept(NamedTuple):
    """What every statement on a lane connection reads, each several SQLAlchemy property
    hops deep (info, driver: ~5 calls a statement), read once, when the lane opens it. (If
    SQLAlchemy reconnects it, a rare event, it is read through those properties again.)"""

    proxied: Any  # SQLAlchemy's pool connection they were read through
    info: dict[Any, Any]  # the connection's info (DEADLINE, TIMED_OUT, …)
    driver: Any  # the driver's own connection (asyncpg's, or db/sqlite_driver.py's)
    dialect: Dialect


class LaneConnection(AsyncConnection):
    """A connection the lane opened, with its Kept at hand (`at_hand`)."""

    __slots__ = ("kept",)

    def __init__(self, async_engine: AsyncEngine) -> None:
        super().__init__(async_engine)
        self.kept: Kept | None = None

    async def opened(self) -> LaneConnection:
        await self.start()
        sync = self.sync_connection
        assert sync is not None  # started
        if sync.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            await self.close()
            raise RuntimeError("the lane lends only autocommit connections")
        proxied = sync.connection
        self.kept = Kept(proxied, sync.info, proxied.driver_connection, sync.dialect)
        return self


def at_hand(conn: AsyncConnection) -> Kept | None:
    """A lane connection's Kept while SQLAlchemy still holds the DBAPI connection it was
    read through; None for any other connection, or once that one was invalidated (and is
    reconnected on its next use: read afresh then, through SQLAlchemy)."""
    if conn.__class__ is not LaneConnection:
        return None
    kept: Kept | None = conn.kept
    sync = conn.sync_connection
    if kept is None or sync is None or sync.invalidated or sync.closed:
        return None
    # the pool connection it holds now: the one read through, unless SQLAlchemy reconnected
    return kept if sync.connection is kept.proxied else None


class ConnectionLane:
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        size: int,
        timeout_seconds: float,
        is_lost: Callable[[BaseException], bool],
        is_unusable: Callable[[BaseException], bool],
        is_closed: Callable[[AsyncConnection], bool] = lambda _: False,
        min_seconds_to_send: float = 0.0,
    ) -> None:
        self.engine = engine  # with isolation_level AUTOCOMMIT
        self.size = size
        self.timeout_seconds = timeout_seconds
        self.is_lost = is_lost  # the server is gone: so are the connections made before
        self.is_unusable = is_unusable  # this connection must not be lent again
        self.is_closed = is_closed  # the server closed it while it was idle (a restart)
        self.stale_before = 0.0  # connections made before this are presumed dead
        self._idle: list[AsyncConnection] = []  # the last returned is lent first: warm
        # A waiter gets a connection, or None: a slot counted in _open for it to open one.
        # Each with its deadline (the loop's clock).
        self._waiters: deque[tuple[asyncio.Future[AsyncConnection | None], float]] = deque()
        self._timer: asyncio.TimerHandle | None = None  # for the earliest waiter's deadline
        self._timer_at = math.inf
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        self._open = 0  # connections lent, idle, or being opened (slots)
        self.opening = 0  # connects under way
        self._closed = False
        # (SQLite's statements have no timeout to run out: nothing to save there)
        self.min_seconds_to_send = min(min_seconds_to_send, timeout_seconds / 10)

    @property
    def idle(self) -> int:
        return len(self._idle)

    def connection(
        self, deadline: float | None = None, info: Mapping[str, Any] | None = None
    ) -> AbstractAsyncContextManager[AsyncConnection]:
        """A connection until the block ends. `deadline` (time.monotonic): the request's
        answer is due then: waiting, connecting and each statement (db/statements.py reads
        it from the connection's info) end by it. `info`: put in the connection's info while
        it is lent (what its statements may read, e.g. db/sqlite_inline.py's INLINE)."""
        return _Lent(self, deadline, info, None)

    def connection_as(
        self, wrap: Callable[[AsyncConnection], Lent], deadline: float | None = None
    ) -> AbstractAsyncContextManager[Lent]:
        """connection(), lending `wrap(connection)` (e.g. a SingleWrite): no context manager
        of the caller's around the lending, whose coroutines each write paid for."""
        return _Lent(self, deadline, None, wrap)

    def returned(
        self,
        conn: AsyncConnection,
        conn_info: dict[Any, Any],
        lent: _Lent,
        error: BaseException | None,
    ) -> None:
        """The end of a lending (_Lent): `error` is what left the block, if anything."""
        broken = False
        if error is not None:
            if self.is_lost(error):
                self.stale_before = max(self.stale_before, time.monotonic())
            # Unusable, or cancelled mid-statement: the driver's state is unknown. It is
            # invalidated and closed off the request's path (_discard): SQLAlchemy's polite
            # close may wait seconds for a server that does not answer, past the request's
            # bound.
            broken = self.is_unusable(error) or not isinstance(error, Exception)
        if conn_info.pop(TIMED_OUT, False):  # even if its error was answered as a result
            broken = True
        if lent.info:
            for key in lent.info:
                conn_info.pop(key, None)
        # The books are right even if that wait was cancelled: the slot is not leaked.
        gone = at_hand(conn) is None and (conn.invalidated or conn.closed)
        if broken or gone or self._closed:
            self._discard(conn, invalidate=broken and not conn.invalidated)
        else:
            self._hand(conn)

    async def close(self) -> None:
        self._closed = True
        while self._idle:
            self._discard(self._idle.pop(), invalidate=False)
        if _CLOSING:
            await asyncio.gather(*_CLOSING, return_exceptions=True)

    async def take(self, deadline: float) -> AsyncConnection:
        """A connection for a lending (_Lent; callers use connection()). `deadline` on the
        loop's clock: one for all the waiting and connecting."""
        if self._closed:
            raise RuntimeError("the database was disposed")
        while True:
            if self._idle:
                conn = self._idle.pop()
            elif self._open < self.size:
                self._open += 1
                return await self._open_slot(deadline)
            else:
                handed = await self._wait(deadline)
                if handed is None:  # a slot was freed and kept for this request
                    return await self._open_slot(deadline)
                conn = handed
            # (conn.info is several property hops into SQLAlchemy: read only once a
            # connection was lost, before which no connection can be older than that)
            if self.stale_before and conn.info.get(BORN, 0.0) < self.stale_before:
                self._discard(conn, invalidate=False)  # made before a lost connection
            elif self.is_closed(conn):
                # The server closed it while it idled (a restart, an idle timeout): noticed
                # here, before any statement fails on it; each idle peer is checked alike.
                self._discard(conn, invalidate=True)
            else:
                return conn

    async def _wait(self, deadline: float) -> AsyncConnection | None:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[AsyncConnection | None] = loop.create_future()
        self._waiters.append((waiter, deadline))
        # The lane's one timer, not an asyncio.timeout or a timer per waiter: most requests
        # wait under load, and most deadlines come after the one the timer is set for.
        if self._timer is None or deadline < self._timer_at or self._timer_loop is not loop:
            self._arm(loop, deadline)
        try:
            handed = await waiter
            if loop.time() >= deadline:  # handed over just as the deadline passed
                raise TimeoutError
            return handed
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._pass_on(waiter.result())  # handed over as this request gave up
            raise

    def _arm(self, loop: asyncio.AbstractEventLoop, at: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer, self._timer_at = loop.call_at(at, self._expire, loop), at
        self._timer_loop = loop

    def _expire(self, loop: asyncio.AbstractEventLoop) -> None:
        """Fails the waiters whose deadline passed; the timer is set again for the
        earliest of the others (it may have been set for one served since: a pass for
        nothing, at most once per timeout)."""
        self._timer, self._timer_at = None, math.inf
        now, earliest = loop.time(), math.inf
        waiting = deque[tuple[asyncio.Future[AsyncConnection | None], float]]()
        for waiter, deadline in self._waiters:
            if waiter.done() or waiter.get_loop() is not loop:  # (a test's loop, gone)
                continue
            if deadline <= now:
                waiter.set_exception(TimeoutError())
            else:
                waiting.append((waiter, deadline))
                earliest = min(earliest, deadline)
        self._waiters = waiting
        if waiting:
            self._arm(loop, earliest)

    def _hand(self, conn: AsyncConnection) -> None:
        """A returned connection goes to the longest waiter, else to the idle."""
        waiter = self._next_waiter()
        if waiter is not None:
            waiter.set_result(conn)
        else:
            self._idle.append(conn)

    def _free_slot(self) -> None:
        """A connection is gone: the longest waiter may open one in its place."""
        waiter = self._next_waiter()
        if waiter is not None:
            waiter.set_result(None)  # the slot stays counted, now the waiter's
        else:
            self._open -= 1

    def pass_on_unused(self, conn: AsyncConnection) -> None:
        """A connection taken for a lending that sent nothing on it (_Lent's deadline floor)."""
        if self._closed:
            self._discard(conn, invalidate=False)
        else:
            self._hand(conn)

    def _pass_on(self, handed: AsyncConnection | None) -> None:
        if handed is None:
            self._free_slot()
        else:
            self._hand(handed)

    def _next_waiter(self) -> asyncio.Future[AsyncConnection | None] | None:
        while self._waiters:
            waiter, _ = self._waiters.popleft()
            if not waiter.done():  # skips waiters that timed out
                return waiter
        return None

    async def _open_slot(self, deadline: float) -> AsyncConnection:
        """Opens a connection in a slot already counted in _open.

        A request that gives up (its deadline, a cancellation) does not cancel the connect:
        a driver cancelled mid-handshake leaves futures nobody reads. The connect finishes
        within the driver's own timeout, off the request's path, and its connection goes
        to the next request."""
        connecting: asyncio.Future[AsyncConnection] = asyncio.ensure_future(
            LaneConnection(self.engine).opened()
        )
        self.opening += 1
        connecting.add_done_callback(self._opened)
        try:
            async with asyncio.timeout_at(deadline):
                return await asyncio.shield(connecting)
        except (asyncio.CancelledError, TimeoutError):
            connecting.add_done_callback(self._adopt)  # frees the slot if it failed
            raise
        except BaseException:
            self._free_slot()  # a waiter may try in turn (and fail fast if the server is down)
            raise

    def _opened(self, _: asyncio.Future[AsyncConnection]) -> None:
        self.opening -= 1

    def _adopt(self, connecting: asyncio.Future[AsyncConnection]) -> None:
        """A connect its request gave up on: its connection serves the next request."""
        if connecting.cancelled() or connecting.exception() is not None:
            self._free_slot()
        elif self._closed:
            self._discard(connecting.result(), invalidate=False)
        else:
            self._hand(connecting.result())

    def _discard(self, conn: AsyncConnection, *, invalidate: bool) -> None:
        self._free_slot()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a request collected as garbage: nothing can run any more
            return
        task = loop.create_task(_close(conn, invalidate=invalidate))
        _CLOSING.add(task)  # a reference until it is done, whatever becomes of the lane
        task.add_done_callback(_CLOSING.discard)


_CLOSING: set[asyncio.Task[None]] = set()


class _Lent:
    """ConnectionLane.connection's lending, as a class: a generator-based context manager
    cost ~1.5 µs more per read, and `conn.info` (three properties deep) is read once."""

    __slots__ = ("conn", "conn_info", "deadline", "info", "lane", "wrap")

    def __init__(
        self,
        lane: ConnectionLane,
        deadline: float | None,
        info: Mapping[str, Any] | None,
        wrap: Callable[[AsyncConnection], Any] | None,
    ) -> None:
        self.lane = lane
        self.deadline = deadline
        self.info = info
        self.wrap = wrap

    async def __aenter__(self) -> Any:
        lane = self.lane
        loop = asyncio.get_running_loop()
        now = time.monotonic()
        deadline = now + lane.timeout_seconds if self.deadline is None else self.deadline
        conn = await lane.take(loop.time() + (deadline - now))
        if deadline - time.monotonic() < lane.min_seconds_to_send:
            lane.pass_on_unused(conn)  # to the next waiter, whose deadline may be later
            raise TimeoutError("too little time left to run a statement")
        kept = at_hand(conn)
        conn_info = conn.info if kept is None else kept.info
        # The same deadline: the wait for the connection (or its connect) took part of it
        conn_info[DEADLINE] = deadline
        if self.info:
            conn_info.update(self.info)
        self.conn, self.conn_info = conn, conn_info
        return conn if self.wrap is None else self.wrap(conn)

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is not None and error is None:
            error = kind()
        self.lane.returned(self.conn, self.conn_info, self, error)


async def _close(conn: AsyncConnection, *, invalidate: bool) -> None:
    """Closing a connection to a lost server may fail or wait for its timeout: it happens
    off the request's path, and whatever it raises changes nothing. SQLAlchemy closes an
    invalidated asyncpg connection politely: after the cancel request of a statement that
    timed out is out (else the server would run that statement on: a write waiting for a
    lock would commit once it is free)."""
    with suppress(Exception):
        if invalidate:
            await conn.invalidate()
        await conn.close()
