"""The PostgreSQL change listener (gateway/changes/listener.py) at shutdown: closing it
while it replaces a lost connection leaves no connection open and no task running."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

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
