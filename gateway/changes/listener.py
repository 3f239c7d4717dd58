"""PostgreSQL: one LISTEN connection per process, outside any pooler, that hands every
NOTIFY of a committed history entry (the trigger of migration 0005) to the process's hub.

asyncpg's add_listener does the listening; a lost connection is replaced after a pause
(changes committed while it was down are not replayed: a subscriber that must not miss
one reads `history` after reconnecting)."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from db.history import Change
from gateway.changes.hub import Hub

CHANNEL = "patchbay_changes"  # the trigger's channel (db/migrations/versions/0005)
RECONNECT_SECONDS = 1.0
log = logging.getLogger("patchbay.changes")


def asyncpg_dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class Listener:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.connection: Any = None
        self._task: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()

    async def start(self, hub: Hub) -> None:
        """Listening when it returns (the first connection's failure is the caller's)."""
        await self._connect(hub)
        self._task = asyncio.create_task(self._keep(hub))

    async def _connect(self, hub: Hub) -> None:
        def heard(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            try:
                found = json.loads(payload)
                change = Change(
                    uuid.UUID(found["org"]), found["kind"], found["id"], int(found["version"])
                )
            except (ValueError, KeyError, TypeError):
                log.warning("unreadable change notification ignored")
                return
            hub.publish(change)

        self._lost.clear()
        connection = await asyncpg.connect(self.dsn, timeout=5)
        connection.add_termination_listener(lambda _conn: self._lost.set())
        await connection.add_listener(CHANNEL, heard)
        self.connection = connection

    async def _keep(self, hub: Hub) -> None:
        while True:
            await self._lost.wait()
            log.warning("change listener lost its connection; reconnecting")
            while True:
                await asyncio.sleep(RECONNECT_SECONDS)
                try:
                    await self._connect(hub)
                    break
                except (OSError, asyncpg.PostgresError) as error:
                    log.warning("change listener cannot reconnect: %s", error)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self.connection is not None:
            await self.connection.close()
