"""The PostgreSQL change listener (gateway/changes/listener.py) at shutdown: closing it
while it replaces a lost connection leaves no connection open and no task running, and a
database that stopped answering does not hold the process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from gateway.changes import listener as listening
from gateway.changes.hub import Hub


async def _nothing(*_: object) -> dict[int, Any]:
    return {}


async def test_closing_while_reconnecting_leaves_no_connection_open(
    database_url: str, is_postgres: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not is_postgres:
        pytest.skip("SQLite has no listener")
    # given: a listener whose connection is lost, caught half-way through its replacement
    # (connected, not yet listening)
    made: list[Any] = []
    halfway, never = asyncio.Event(), asyncio.Event()
    add_listener = asyncpg.connection.Connection.add_listener

    async def held(connection: Any, *args: Any) -> None:
        made.append(connection)
        if len(made) > 1:  # the replacement
            halfway.set()
            await never.wait()
        await add_listener(connection, *args)

    monkeypatch.setattr(asyncpg.connection.Connection, "add_listener", held)
    monkeypatch.setattr(listening, "RECONNECT_SECONDS", 0.0)
    listener = listening.Listener(listening.asyncpg_dsn(database_url))
    hub = Hub(pending_limit=2, per_principal=5, recheck_seconds=60, read=_nothing)
    await listener.start(hub)
    admin = await asyncpg.connect(listener.dsn)
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", listener.connection.get_server_pid())
        await asyncio.wait_for(halfway.wait(), 30)  # a bound, should it never reconnect
        # when: the process shuts down
        await listener.close()
    finally:
        await admin.close()
    # then: the replacement was closed too, and the listener's tasks are over
    assert [connection.is_closed() for connection in made] == [True, True]
    assert listener._task is not None and listener._task.done()
    assert listener._heartbeat is not None and listener._heartbeat.done()


class FreezingProxy:
    """Forwards TCP to PostgreSQL until frozen; then swallows every byte, both ways, like a
    database behind a network that stopped delivering (nothing refused, nothing answered)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.frozen = False
        self.pipes: list[asyncio.Task[None]] = []

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with suppress(OSError):
            while data := await reader.read(65536):
                if not self.frozen:
                    writer.write(data)
                    await writer.drain()

    async def _accepted(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        to_reader, to_writer = await asyncio.open_connection(*self.target)
        self.pipes += [
            asyncio.create_task(self._pipe(reader, to_writer)),
            asyncio.create_task(self._pipe(to_reader, writer)),
        ]

    @asynccontextmanager
    async def serving(self) -> AsyncIterator[int]:
        server = await asyncio.start_server(self._accepted, "127.0.0.1", 0)
        try:
            yield server.sockets[0].getsockname()[1]
        finally:
            server.close()
            for pipe in self.pipes:
                pipe.cancel()
            await asyncio.gather(*self.pipes, return_exceptions=True)


async def test_a_database_that_stopped_answering_does_not_hold_the_shutdown(
    database_url: str, is_postgres: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not is_postgres:
        pytest.skip("SQLite has no listener")
    # given: a listener whose database stops answering
    monkeypatch.setattr(listening, "CLOSE_SECONDS", 0.1)
    url = make_url(listening.asyncpg_dsn(database_url))
    proxy = FreezingProxy(url.host or "127.0.0.1", url.port or 5432)
    async with proxy.serving() as port:
        listener = listening.Listener(url.set(port=port).render_as_string(hide_password=False))
        hub = Hub(pending_limit=2, per_principal=5, recheck_seconds=60, read=_nothing)
        await listener.start(hub)
        proxy.frozen = True
        # when: the process shuts down; then: the listener lets it (before, its close waited
        # for an answer that never came: a bound here, not a measure)
        await asyncio.wait_for(listener.close(), 30)
        assert listener.connection.is_closed()
