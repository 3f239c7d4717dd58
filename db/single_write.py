"""What a single write gets from Database.single_write: its one statement, and a
connection for the reads that explain the statement's outcome.

PostgreSQL: both on one lane connection lent to the request (db/lane.py).

SQLite: the statements of all requests share one connection, without a lock. SQLite has
one writer at a time anyway; on one connection the statements queue in its driver's
thread and run back to back, with no lock hand-over through the event loop in between
(that hand-over left SQLite idle for most of each write). A statement that has not
started within the timeout does not run. The explaining reads take a read connection.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import UpdateBase

from db import statements

Row = TypeVar("Row", bound=Any)


class SingleWrite:
    """One lent connection for the statement and its reads (PostgreSQL)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def first(
        self, statement: UpdateBase, params: Mapping[str, Any], *, row: type[Row]
    ) -> Row | None:
        return await statements.first(self.conn, statement, params, row=row)

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

    async def first(
        self, statement: UpdateBase, params: Mapping[str, Any], *, row: type[Row]
    ) -> Row | None:
        deadline = time.monotonic() + self.timeout_seconds
        return await statements.first(self.conn, statement, params, row=row, deadline=deadline)

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        async with self.read() as conn:
            yield conn
