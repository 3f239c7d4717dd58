"""PostgreSQL: one LISTEN connection per process, outside any pooler, that hands every
NOTIFY of a committed history entry (sent by the write's statement, db/history.py) to the
process's hub.

asyncpg's add_listener does the listening; a lost connection is replaced after a pause
(changes committed while it was down are not replayed: a subscriber that must not miss
one reads `history` after reconnecting)."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from contextlib import suppress
from typing import Any

import asyncpg
from sqlalchemy.engine import make_url

from db.history import CHANNEL, Change
from gateway.changes.hub import Hub

RECONNECT_SECONDS = 1.0
# A write NOTIFYs only while a listener's row is younger than 90 s (db/history.py):
# refreshed well within that; removed when the process stops.
HEARTBEAT_SECONDS = 30.0
# At shutdown, the longest a database that stopped answering may hold the process for the
# row's DELETE, and again for the connection's close (then it is dropped: the row expires).
CLOSE_SECONDS = 2.0
_REGISTER = (
    "INSERT INTO change_listeners (id, seen_at) VALUES ($1, now()) "
    "ON CONFLICT (id) DO UPDATE SET seen_at = now()"
)
log = logging.getLogger("patchbay.changes")


def asyncpg_dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


class Listener:
    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.connection: Any = None
        self._task: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        self.id = uuid.uuid4().hex  # this process's row in change_listeners

    async def start(self, hub: Hub) -> None:
        """Listening when it returns (the first connection's failure is the caller's)."""
        await self._connect(hub)
        self._task = asyncio.create_task(self._keep(hub))
        self._heartbeat = asyncio.create_task(self._beat())

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
        try:
            connection.add_termination_listener(lambda _conn: self._lost.set())
            await connection.add_listener(CHANNEL, heard)
            await connection.execute(_REGISTER, self.id)  # after LISTEN: nothing sent is lost
        except BaseException:  # failed, or closed (cancelled) half-way: not left open
            connection.terminate()
            raise
        self.connection = connection

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            # on failure _keep reconnects, and registers again
            with suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await self.connection.execute(_REGISTER, self.id)

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
        tasks = [task for task in (self._task, self._heartbeat) if task is not None]
        for task in tasks:
            task.cancel()
        # Over before the DELETE: a reconnect closes its half-made connection, and a heartbeat
        # cancelled mid-statement would otherwise make the connection refuse the DELETE.
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.connection is not None:
            with suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                await self.connection.execute(
                    "DELETE FROM change_listeners WHERE id = $1", self.id, timeout=CLOSE_SECONDS
                )
            with suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                await self.connection.close(timeout=CLOSE_SECONDS)  # on failure: aborted
