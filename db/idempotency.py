"""SQL for idempotency keys: the stored answer of a mutation, by caller and key.

A request claims its key first, inside the unit of work that then runs its mutation
(db/unit.py), and stores the answer in that same transaction: the answer exists if and
only if the writes do. A twin of an uncommitted claim waits at its own claim for the first
to commit or roll back (PostgreSQL's unique index makes it; SQLite's single writer queue
does the same), so one key never writes twice.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

import asyncpg
from sqlalchemy import Delete, Insert, bindparam, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from db import statements
from db.database import Database
from db.models import idempotency_keys as keys
from db.rows import IdRow


class KeyInFlight(Exception):
    """Another request with this key is still running, past the wait allowed for it."""


class StoredAnswer(NamedTuple):
    id: uuid.UUID
    fingerprint: str
    response: str | None
    created_at: datetime


_PRINCIPAL = bindparam("w_principal", type_=keys.c.principal.type)
_KEY = bindparam("w_key", type_=keys.c.key.type)
_ID = bindparam("w_id", type_=keys.c.id.type)
_FIND = select(keys.c.id, keys.c.fingerprint, keys.c.response, keys.c.created_at).where(
    keys.c.principal == _PRINCIPAL, keys.c.key == _KEY
)
_KEEP = (
    update(keys)
    .where(keys.c.id == _ID)
    .values(response=bindparam("v_response"))
    .returning(keys.c.id)
)
_FORGET = (
    delete(keys)
    .where(
        keys.c.id == _ID, keys.c.created_at < bindparam("w_before", type_=keys.c.created_at.type)
    )
    .returning(keys.c.id)
)


@lru_cache(maxsize=2)
def _claim(dialect: str) -> Insert:
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    values: dict[str, Any] = {
        "id": _ID,
        "principal": _PRINCIPAL,
        "key": _KEY,
        "fingerprint": bindparam("v_fingerprint"),
        "created_at": bindparam("v_created_at", type_=keys.c.created_at.type),
    }
    return (
        insert(keys)
        .values(values)
        .on_conflict_do_nothing(index_elements=["principal", "key"])
        .returning(keys.c.id)
    )


async def claim(
    conn: AsyncConnection,
    *,
    principal: str,
    key: str,
    fingerprint: str,
    now: datetime,
    wait_seconds: float,
) -> uuid.UUID | None:
    """The new record's id; None when the key has a (committed) record already. Waits up to
    `wait_seconds` for an uncommitted twin, then raises KeyInFlight (PostgreSQL)."""
    if conn.dialect.name == "postgresql":
        # SET LOCAL: for this transaction only; a claim that waits longer is in flight
        await statements.command(
            conn, f"SET LOCAL lock_timeout = {max(1, int(wait_seconds * 1000))}"
        )
    params = {
        "w_id": uuid.uuid4(),
        "w_principal": principal,
        "w_key": key,
        "v_fingerprint": fingerprint,
        "v_created_at": now,
    }
    try:
        claimed = await statements.first(conn, _claim(conn.dialect.name), params, row=IdRow)
    except asyncpg.LockNotAvailableError:
        raise KeyInFlight(key) from None
    if conn.dialect.name == "postgresql":  # the request's own writes wait as they always do
        await statements.command(conn, "SET LOCAL lock_timeout TO DEFAULT")
    return None if claimed is None else claimed.id


async def keep_answer(conn: AsyncConnection, *, record_id: uuid.UUID, response: str) -> None:
    await statements.first(conn, _KEEP, {"w_id": record_id, "v_response": response}, row=IdRow)


async def find(conn: AsyncConnection, *, principal: str, key: str) -> StoredAnswer | None:
    params = {"w_principal": principal, "w_key": key}
    return await statements.first(conn, _FIND, params, row=StoredAnswer)


async def forget_expired(db: Database, *, record_id: uuid.UUID, before: datetime) -> None:
    """Removes one record if it is older than `before` (a twin may have removed it)."""
    async with db.single_write() as single:
        await single.first(_FORGET, {"w_id": record_id, "w_before": before}, row=IdRow)


def _prune_batch(limit: int) -> Delete:
    oldest = select(keys.c.id).where(
        keys.c.created_at < bindparam("w_before", type_=keys.c.created_at.type)
    )
    return delete(keys).where(keys.c.id.in_(oldest.order_by(keys.c.created_at).limit(limit)))


async def prune(db: Database, *, before: datetime, batch: int = 1000) -> int:
    """Deletes every record created before `before`, `batch` rows per transaction, walking
    the created_at index from the oldest: no scan of the whole table, no long lock."""
    removed = 0
    while True:
        async with db.write() as conn:
            result = await conn.execute(_prune_batch(batch), {"w_before": before})
        removed += result.rowcount
        if result.rowcount < batch:
            return removed
