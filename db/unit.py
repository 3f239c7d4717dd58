"""A unit of work: the statements of several writes on one connection, in one transaction.

Bulk updates, dry runs and mutations sent with an Idempotency-Key run in one. While it is
open it is the request's ambient unit: Database.read() and Database.single_write() of that
database hand out its connection, so the update rules run unchanged inside it. A unit
opened inside another is a savepoint of it.

The transaction is the driver's own (BEGIN … COMMIT sent as statements): SQLAlchemy sees
an autocommit connection, the same as the single writes', and the statements keep their
fast path (db/statements.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import UpdateBase

from db import history, statements
from db.errors import WriteOutcomeUnknown, connection_unusable
from db.history import Change, Recording
from db.single_write import SingleWrite

Row = TypeVar("Row", bound=Any)


class Outcome:
    """What becomes of a unit's writes when its block ends without an error."""

    def __init__(self) -> None:
        self.discarded = False

    def discard(self) -> None:
        """Roll back instead of committing (a dry run, a rejected batch)."""
        self.discarded = True


class Unit:
    def __init__(
        self,
        conn: AsyncConnection,
        *,
        owner: object,
        on_commit: Callable[[list[Change]], None] | None = None,
    ) -> None:
        self.conn = conn
        self.on_commit = on_commit  # hears the history entries the unit committed
        self.changes: list[Change] = []
        self.owner = owner  # the Database it belongs to: another database's calls ignore it
        self.is_postgres = conn.dialect.name == "postgresql"
        self.depth = 0  # savepoints open
        self.keeps_answer = False  # a mutation that is no dry run ran in it (idempotency)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Outcome]:
        outcome = Outcome()
        await statements.command(self.conn, "BEGIN" if self.is_postgres else "BEGIN IMMEDIATE")
        try:
            yield outcome
        except Exception:
            await self._abandon("ROLLBACK")
            raise
        # A cancellation rolls back nothing here: the lane closes the connection it leaves
        # in an unknown state (db/lane.py), and the server rolls its transaction back.
        if outcome.discarded:
            await self._abandon("ROLLBACK")
            return
        try:
            await statements.command(self.conn, "COMMIT")
        except Exception as error:
            if connection_unusable(error):  # COMMIT sent, no answer: applied or not
                raise WriteOutcomeUnknown(error) from error
            raise
        if self.on_commit is not None and self.changes:
            self.on_commit(self.changes)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[Outcome]:
        outcome = Outcome()
        name = f"unit_{self.depth}"
        await statements.command(self.conn, f"SAVEPOINT {name}")
        self.depth += 1
        kept = len(self.changes)  # a rolled-back savepoint takes its entries with it
        try:
            yield outcome
        except Exception:
            del self.changes[kept:]
            await self._abandon(f"ROLLBACK TO SAVEPOINT {name}")
            await self._abandon(f"RELEASE SAVEPOINT {name}")
            raise
        finally:
            self.depth -= 1
        if outcome.discarded:
            del self.changes[kept:]
            await self._abandon(f"ROLLBACK TO SAVEPOINT {name}")
        await statements.command(self.conn, f"RELEASE SAVEPOINT {name}")

    async def _abandon(self, sql: str) -> None:
        """Roll back; if even that fails, the connection must never be lent again with a
        transaction half open: invalidated, the lane closes it. After a statement timed out
        nothing is sent: the lane closes the connection, and the server rolls back; nor on
        a connection already invalidated (lost, or a rollback before failed): its transaction
        went with it, and the error that ended the unit is what the caller raises."""
        if self.conn.invalidated or (self.is_postgres and statements.timed_out(self.conn)):
            return
        try:
            await statements.command(self.conn, sql)
        except BaseException:
            with suppress(Exception):
                await self.conn.invalidate()
            raise


class UnitWrite(SingleWrite):
    """A single write's statement inside a unit. On PostgreSQL a failed statement aborts the
    whole transaction: one that may break a unique constraint runs in a savepoint, so the
    unit goes on after the collision (SQLite aborts only the statement)."""

    def __init__(self, unit: Unit) -> None:
        super().__init__(unit.conn)
        self.unit = unit

    @property
    def may_have_written(self) -> bool:
        return False  # a transaction cut short is rolled back: COMMIT says (Unit.transaction)

    async def first(
        self,
        statement: UpdateBase,
        params: Mapping[str, Any],
        *,
        row: type[Row],
        may_collide: bool = False,
        recording: Recording | None = None,
    ) -> Row | None:
        if not (may_collide and self.unit.is_postgres):
            return await self._first(statement, params, row=row, recording=recording)
        async with self.unit.savepoint():
            return await self._first(statement, params, row=row, recording=recording)

    async def _first(
        self,
        statement: UpdateBase,
        params: Mapping[str, Any],
        *,
        row: type[Row],
        recording: Recording | None,
    ) -> Row | None:
        if recording is None:
            return await statements.first(self.conn, statement, params, row=row)
        if self.unit.is_postgres:  # the write and its entry in one statement, NOTIFY by trigger
            combined = recording.one_statement
            return await statements.first(
                self.conn, combined, {**params, **recording.params()}, row=row
            )
        found, change = await history.recorded_first(
            self.conn, statement, params, row=row, recording=recording
        )
        if change is not None:
            self.unit.changes.append(change)
        return found  # type: ignore[no-any-return]


_AMBIENT: ContextVar[Unit | None] = ContextVar("patchbay_unit", default=None)


def ambient(owner: object) -> Unit | None:
    """The request's open unit on this database, if any."""
    unit = _AMBIENT.get()
    return unit if unit is not None and unit.owner is owner else None


@asynccontextmanager
async def ambient_unit(unit: Unit) -> AsyncIterator[Outcome]:
    """`unit`'s transaction, ambient while it is open."""
    token = _AMBIENT.set(unit)
    try:
        async with unit.transaction() as outcome:
            yield outcome
    finally:
        _AMBIENT.reset(token)
