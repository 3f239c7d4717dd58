"""Writes held up for real: another client holds a row (PostgreSQL) or the database's write
lock (SQLite), and tests wait until requests are seen waiting for it."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy.engine import make_url

from tests.own_servers import tcp_server


async def lock_row(database_url: str, prompt_id: str) -> asyncpg.Connection:
    """A PostgreSQL connection in a transaction that holds the prompt's row: close it to let go."""
    dsn = make_url(database_url).set(drivername="postgresql").render_as_string(False)
    conn = await asyncpg.connect(dsn)
    await conn.execute("BEGIN")
    await conn.execute("SELECT 1 FROM prompts WHERE id = $1 FOR UPDATE", prompt_id)
    return conn


async def lock_waiters(conn: asyncpg.Connection) -> int:
    """Sessions of this database waiting for a lock, now."""
    await conn.execute("SELECT pg_stat_clear_snapshot()")  # else fixed per transaction
    waiting = await conn.fetchval(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    return int(waiting)


async def until_waiting(conn: asyncpg.Connection | None, count: int) -> None:
    """Until `count` sessions wait for a lock (nothing to see on SQLite: None)."""
    deadline = time.monotonic() + 10
    while conn is not None and (waiting := await lock_waiters(conn)) < count:
        assert time.monotonic() < deadline, f"{waiting} sessions wait for a lock, not {count}"
        await asyncio.sleep(0.02)


@asynccontextmanager
async def write_blocked(
    database_url: str, prompt_id: str
) -> AsyncIterator[asyncpg.Connection | None]:
    """The prompt's row held (PostgreSQL: the locking connection is yielded) or the whole
    database's write lock (SQLite: None, its writers queue inside the gateway)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        locker = sqlite3.connect(str(url.database), isolation_level=None)
        locker.execute("BEGIN IMMEDIATE")
        try:
            yield None
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        return
    conn = await lock_row(database_url, prompt_id)
    try:
        yield conn
    finally:
        await conn.close()


@asynccontextmanager
async def far_database(database_url: str, *, delay: float) -> AsyncIterator[str]:
    """`database_url` reached through a TCP relay that holds every chunk `delay` seconds
    each way: a database across a network, as in production, where even asyncpg's cancel
    request (a connection of its own) takes a round trip or two."""

    async def relay(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while chunk := await source.read(65536):
                await asyncio.sleep(delay)
                sink.write(chunk)
                await sink.drain()
        except ConnectionError:
            pass
        finally:
            sink.close()

    async def link(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        url = make_url(database_url)
        upstream_reader, upstream_writer = await asyncio.open_connection(url.host, url.port)
        await asyncio.gather(relay(reader, upstream_writer), relay(upstream_reader, writer))

    async with tcp_server(link) as port:
        yield make_url(database_url).set(host="127.0.0.1", port=port).render_as_string(False)
