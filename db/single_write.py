"""What a single write gets from Database.single_write: its one statement, and a
connection for the reads that explain the statement's outcome.

PostgreSQL: both on one lane connection lent to the request (db/lane.py).

SQLite: the statements of all requests share one connection, without a lock. SQLite has
one writer at a time anyway; on one connection the statements queue in its driver's
thread and run back to back, with no lock hand-over through the event loop in between
(that hand-over left SQLite idle for most of each write). A statement whose turn comes
after the request's deadline does not run. The explaining reads take a read connection.

Each knows whether its statement may have been applied when a failure cut it short: that
decides between "unavailable, nothing written" and "outcome unknown" (db/errors.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.expression import Executable

from db import history, statements
from db.errors import connection_unusable
from db.history import Change, Recording
from db.sqlite_driver import Turn

Row = TypeVar("Row", bound=Any)


class SingleWrite:
    """One lent connection for the statement and its reads (PostgreSQL)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn
        self.sent = False  # the statement went to the server and no answer came back (yet)
        self.changes: list[Change] = []  # committed history entries, for in-process fan-out

    @property
    def may_have_written(self) -> bool:
        return self.sent

    async def first(
        self,
        statement: UpdateBase,
        params: Mapping[str, Any],
        *,
        row: type[Row],
        may_collide: bool = False,  # may break a unique constraint (matters in a unit only)
        recording: Recording | None = None,  # record the change in the history (db/history.py)
    ) -> Row | None:
        run: Executable = statement
        if recording is not None:  # PostgreSQL: the write and its entry in one statement
            run = recording.one_statement
            params = {**params, **recording.params()}
        self.sent = True
        try:
            found = await statements.first(self.conn, run, params, row=row)
        except Exception as error:
            # An error the server answered with (a constraint, a type) failed the statement:
            # nothing was written. A lost connection or a timeout leaves it unknown.
            self.sent = connection_unusable(error)
            raise
        self.sent = False
        return found

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        yield self.conn


class SharedSingleWrite(SingleWrite):
    """The shared statement connection, and reads on a connection of their own (SQLite)."""

    def __init__(
        self,
        conn: AsyncConnection,
        *,
        deadline: float,
        read: Callable[[], AbstractAsyncContextManager[AsyncConnection]],
    ) -> None:
        super().__init__(conn)
        self.deadline = deadline
        self.read = read
        self.turn: Turn | None = None

    @property
    def may_have_written(self) -> bool:
        return self.sent and self.turn is not None and self.turn.started

    async def first(
        self,
        statement: UpdateBase,
        params: Mapping[str, Any],
        *,
        row: type[Row],
        may_collide: bool = False,
        recording: Recording | None = None,
    ) -> Row | None:
        self.turn = Turn(self.deadline)
        self.sent = True
        try:
            if recording is None:
                found = await statements.first(
                    self.conn, statement, params, row=row, turn=self.turn
                )
            else:  # the write, its entry, BEGIN and COMMIT: one hop, nothing in between
                dialect = self.conn.dialect
                found, change = await statements.in_one_hop(
                    self.conn,
                    partial(
                        history.recorded_first_now,
                        dialect=dialect,
                        statement=statement,
                        params=params,
                        row=row,
                        recording=recording,
                    ),
                    self.turn,
                    sql=statements.sql_of(dialect, statement, row=row),
                )
                if change is not None:
                    self.changes.append(change)
        except Exception:
            # SQLite's own answer (locked, a constraint, a missed turn, a closed connection):
            # the statement did not run or was rolled back. Only a cancellation while it ran
            # in SQLite's thread leaves its outcome unknown.
            self.sent = False
            raise
        self.sent = False
        return found

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncConnection]:
        async with self.read() as conn:
            yield conn
