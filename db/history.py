"""History: one entry per write that changed a prompt or a pool, in the write's transaction.

The single place that records it is the write itself (SingleWrite.first with a Recording,
db/single_write.py and db/unit.py), so single, bulk, REST and idempotent writes all record
alike. The row before the write is read in the same transaction (locked first on
PostgreSQL, so it is the row the UPDATE changes), the UPDATE returns the row after, and
the entry keeps the columns that differ. A write that changes no column records nothing;
a dry run rolls its entry back with its write.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from functools import lru_cache, reduce
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Delete,
    Select,
    Table,
    Text,
    Update,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    literal_column,
    select,
    tuple_,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.dml import UpdateBase

from db import statements
from db.models import history_entries as entries

if TYPE_CHECKING:  # db.database builds on db.single_write, which builds on this module
    from db.database import Database

# The id of the request that writes (set by the HTTP edge for every request; "-" outside).
REQUEST_ID: ContextVar[str] = ContextVar("patchbay_request_id", default="-")
# Columns every write sets: the entry's own fields say who, when and which version.
AUDIT = frozenset({"updated_at", "updated_by", "updated_user_name", "version"})


class Actor(NamedTuple):  # (built in C, like Recording: one of each per write)
    subject: str
    kind: str  # USER or API_KEY
    name: str | None


class Recording(NamedTuple):
    """What a write must record: the entity kind, its row before the write (a SELECT by
    the UPDATE's own w_id and w_org parameters) and who writes. (A tuple: a frozen
    dataclass cost four times as much to build, per write.)"""

    kind: str  # PROMPT or GUARDRAIL_POOL
    before: Select[Any]
    one_statement: Select[Any]  # PostgreSQL: the write and its entry together (one_statement)
    actor: Actor
    request_id: str  # read here: SQLite writes in its own thread, without the request's context

    @classmethod
    def of(
        cls, kind: str, before: Select[Any], one_statement: Select[Any], actor: Actor
    ) -> Recording:
        # the tuple made directly: a NamedTuple's own __new__ is a Python frame (~0.1 µs)
        return tuple.__new__(cls, (kind, before, one_statement, actor, REQUEST_ID.get()))

    def params(self) -> dict[str, Any]:
        """The entry's own parameters of the single statement (one_statement)."""
        return {
            "h_kind": self.kind,
            "h_subject": self.actor.subject,
            "h_actor_kind": self.actor.kind,
            "h_actor_name": self.actor.name,
            "h_request_id": self.request_id,
        }


def one_statement(
    update: Update, table: Table, before: Select[Any], *, written: Iterable[str]
) -> Select[Any]:
    """PostgreSQL: the write and its entry in one statement, a transaction of its own
    without BEGIN and COMMIT round trips (a data-modifying CTE):

        WITH old AS (SELECT … FOR UPDATE), new AS (UPDATE … FROM old RETURNING …, changes),
             entry AS (INSERT INTO history_entries SELECT … FROM new WHERE changes <> '{}'
                       RETURNING <NOTIFY while some process listens>)
        SELECT … FROM new

    `old` locks the row first, so it is the row the UPDATE changes, as on the other path.

    The entry's RETURNING sends the NOTIFY (NOTIFIED): PostgreSQL runs a data-modifying CTE
    to completion, RETURNING included, whether or not the query reads it. It is in the
    write's transaction, as subscriptions need; no trigger per entry (migration 0006).

    `update` must be fresh, never compiled: SQLAlchemy copies the RETURNING columns it
    remembered into the statements built from it, and `h_changes` would be missing. Callers
    build it once per shape, for this alone (db/prompts.py).

    `written`: the columns the UPDATE sets. Only those can differ between `old` and `new`
    (the row is locked in between), so only they are compared: the entry is the same as a
    comparison of every column, at a fraction of the database's work per write."""
    old = before.with_for_update().cte("old")
    setting = frozenset(written) - AUDIT
    changed = [c for c in table.c if c.key in setting] or [table.c.id]
    changes: ColumnElement[Any] = reduce(
        lambda left, right: left.op("||")(right), (_change(old.c[c.key], c) for c in changed)
    )
    new = (
        update.where(table.c.id == old.c.id)
        .returning(type_coerce(changes, JSONB).label("h_changes"))
        .cte("new")
    )
    entry = insert(entries).from_select(
        [
            "org_id",
            "entity_kind",
            "entity_id",
            "version",
            "changes",
            "actor_subject",
            "actor_kind",
            "actor_name",
            "request_id",
            "recorded_at",
        ],
        select(
            new.c.org_id,
            bindparam("h_kind", type_=entries.c.entity_kind.type),
            cast(new.c.id, entries.c.entity_id.type),
            new.c.version,
            new.c.h_changes,
            bindparam("h_subject", type_=entries.c.actor_subject.type),
            bindparam("h_actor_kind", type_=entries.c.actor_kind.type),
            bindparam("h_actor_name", type_=entries.c.actor_name.type),
            bindparam("h_request_id", type_=entries.c.request_id.type),
            new.c.updated_at,
        ).where(new.c.h_changes != _EMPTY),
    )
    notified = entry.returning(NOTIFIED)
    return select(*(new.c[c.key] for c in table.c)).add_cte(notified.cte("entry"))


_EMPTY = literal_column("'{}'::jsonb", JSONB)
# PostgreSQL: a committed entry is announced on this channel (gateway/changes/listener.py)
CHANNEL = "patchbay_changes"
# NOTIFY serializes the commits of the transactions that send it: it is sent only while some
# process listens, which keeps a row here younger than 90 s (refreshed every 30 s).
_LISTENING: ColumnElement[Any] = literal_column(
    "EXISTS (SELECT 1 FROM change_listeners WHERE seen_at > now() - interval '90 seconds')"
)
# the inserted entry's NOTIFY, in the entry's RETURNING (one_statement)
NOTIFIED = case(
    (
        _LISTENING,
        func.pg_notify(
            literal_column(f"'{CHANNEL}'"),
            cast(
                func.json_build_object(
                    literal_column("'org'"),
                    entries.c.org_id,
                    literal_column("'kind'"),
                    entries.c.entity_kind,
                    literal_column("'id'"),
                    entries.c.entity_id,
                    literal_column("'version'"),
                    entries.c.version,
                ),
                Text,
            ),
        ),
    ),
).label("notified")


def _change(before: ColumnElement[Any], after: ColumnElement[Any]) -> ColumnElement[Any]:
    """{column: [before, after]} when the column changed, else {}."""
    pair = func.jsonb_build_array(func.to_jsonb(before), func.to_jsonb(after))
    return case(
        # the column's name as SQL text, not a parameter: one less value per write to send
        (
            before.is_distinct_from(after),
            func.jsonb_build_object(literal_column(f"'{after.key}'"), pair),
        ),
        else_=_EMPTY,
    )


@dataclass(frozen=True, slots=True)
class Change:
    """That an entity changed, as subscriptions learn it: who may hear of it is decided by
    the organization first, and the entry itself is read by each subscriber."""

    org_id: uuid.UUID
    kind: str
    entity_id: str
    version: int

    @classmethod
    def of(cls, entry: Mapping[str, Any]) -> Change:
        return cls(entry["org_id"], entry["entity_kind"], entry["entity_id"], entry["version"])


class EntryRow(NamedTuple):
    org_id: uuid.UUID
    entity_kind: str
    entity_id: str
    version: int
    changes: dict[str, Any]
    actor_subject: str
    actor_kind: str
    actor_name: str | None
    request_id: str
    recorded_at: datetime


class VersionRow(NamedTuple):
    version: int


_INSERT = (
    insert(entries)
    .values({column.key: bindparam(column.key, type_=column.type) for column in entries.c})
    .returning(entries.c.version)
)
_ENTITY = (
    entries.c.org_id == bindparam("h_org", type_=entries.c.org_id.type),
    entries.c.entity_kind == bindparam("h_kind"),
    entries.c.entity_id == bindparam("h_id"),
)
_FIRST_PAGE = (
    select(entries).where(*_ENTITY).order_by(entries.c.version.desc()).limit(bindparam("h_limit"))
)
_NEXT_PAGE = (
    select(entries)
    .where(*_ENTITY, entries.c.version < bindparam("h_before", type_=entries.c.version.type))
    .order_by(entries.c.version.desc())
    .limit(bindparam("h_limit"))
)


_SINCE = (
    select(entries)
    .where(*_ENTITY, entries.c.version >= bindparam("h_since", type_=entries.c.version.type))
    .order_by(entries.c.version.desc())
)


async def entries_since(
    conn: AsyncConnection, *, org_id: uuid.UUID, kind: str, entity_id: str, version: int
) -> list[EntryRow]:
    """The entity's entries from `version` on, newest first (the unique index's order)."""
    params = {"h_org": org_id, "h_kind": kind, "h_id": entity_id, "h_since": version}
    return await statements.rows(conn, _SINCE, params, row=EntryRow)


def entry_values(recording: Recording, before: Any, after: Any) -> dict[str, Any] | None:
    """The entry of a write from the row before and after it; None when nothing changed."""
    changes = {
        column: [plain(old), plain(new)]
        for column, old, new in zip(after._fields, before, after, strict=True)
        if column not in AUDIT and old != new
    }
    if not changes:
        return None
    actor = recording.actor
    return {
        "org_id": after.org_id,
        "entity_kind": recording.kind,
        "entity_id": str(after.id),
        "version": after.version,
        "changes": changes,
        "actor_subject": actor.subject,
        "actor_kind": actor.kind,
        "actor_name": actor.name,
        "request_id": recording.request_id,
        "recorded_at": after.updated_at,  # the write's own stamp
    }


def plain(value: Any) -> Any:
    """A column's value as JSON keeps it."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, uuid.UUID | datetime):
        return str(value) if isinstance(value, uuid.UUID) else value.isoformat()
    return list(value) if isinstance(value, tuple) else value


async def recorded_first(
    conn: AsyncConnection,
    statement: UpdateBase,
    params: Mapping[str, Any],
    *,
    row: type[Any],
    recording: Recording,
) -> tuple[Any, Change | None]:
    """The UPDATE's row, and its entry, on a connection already in a transaction; the
    change, when there was one (published once the transaction commits)."""
    before = await statements.first(conn, _locked(recording.before), params, row=row)
    after = await statements.first(conn, statement, params, row=row)
    if before is not None and after is not None:
        entry = entry_values(recording, before, after)
        if entry is not None:
            await statements.first(conn, _INSERT, entry, row=VersionRow)
            return after, Change.of(entry)
    return after, None


def recorded_first_now(
    connection: sqlite3.Connection,
    dialect: Dialect,
    statement: UpdateBase,
    params: Mapping[str, Any],
    *,
    row: type[Any],
    recording: Recording,
) -> tuple[Any, Change | None]:
    """The same, in SQLite's thread in one go (db/sqlite_driver.py), as its own transaction."""
    read = statements.prepared(dialect, recording.before, params, row=row)
    write = statements.prepared(dialect, statement, params, row=row)
    change = None
    connection.execute("BEGIN IMMEDIATE")
    try:
        before = read.made(connection.execute(read.sql, read.values).fetchall())
        after = write.made(connection.execute(write.sql, write.values).fetchall())
        if before and after:
            entry = entry_values(recording, before[0], after[0])
            if entry is not None:
                add = statements.prepared(dialect, _INSERT, entry, row=VersionRow)
                connection.execute(add.sql, add.values).fetchall()
                change = Change.of(entry)
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return (after[0] if after else None), change


@lru_cache(maxsize=8)
def _locked(before: Select[Any]) -> Select[Any]:
    """FOR UPDATE on PostgreSQL (SQLite ignores it: one writer holds the database)."""
    return before.with_for_update()


async def page_of_entries(
    conn: AsyncConnection,
    *,
    org_id: uuid.UUID,
    kind: str,
    entity_id: str,
    before_version: int | None,
    limit: int,
) -> list[EntryRow]:
    """Newest first; only entries older than `before_version` when it is set."""
    statement = _FIRST_PAGE if before_version is None else _NEXT_PAGE
    params = {
        "h_org": org_id,
        "h_kind": kind,
        "h_id": entity_id,
        "h_before": before_version,
        "h_limit": limit,
    }
    return await statements.rows(conn, statement, params, row=EntryRow)


async def prune(db: Database, *, before: datetime, batch: int = 1000) -> int:
    """Deletes every entry recorded before `before`, `batch` rows per transaction, walking
    the recorded_at index from the oldest: no scan of the whole table, no long lock."""
    removed = 0
    while True:
        async with db.write() as conn:
            result = await conn.execute(_prune_batch(batch), {"w_before": before})
        removed += result.rowcount
        if result.rowcount < batch:
            return removed


def _prune_batch(limit: int) -> Delete:
    key = [entries.c.org_id, entries.c.entity_kind, entries.c.entity_id, entries.c.version]
    oldest = select(*key).where(
        entries.c.recorded_at < bindparam("w_before", type_=entries.c.recorded_at.type)
    )
    return delete(entries).where(
        tuple_(*key).in_(oldest.order_by(entries.c.recorded_at).limit(limit))
    )
