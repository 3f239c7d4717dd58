"""SQL for guardrail pools."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Select, Update, bindparam, update

from db import history
from db.database import Source, first_row, read_rows
from db.history import Actor, Recording
from db.models import guardrail_pools as pools
from db.reads import reads_of
from db.rows import PoolRow
from db.single_write import SingleWrite
from db.stamps import audited

# The whole row by id, for a history entry's before values (db/history.py).
_BY_ID = reads_of(pools, None).by_id
_ID = bindparam("w_id", type_=pools.c.id.type)
_ORG = bindparam("w_org", type_=pools.c.org_id.type)


async def fetch_pool(
    source: Source,
    *,
    org_id: uuid.UUID,
    pool_id: uuid.UUID,
    columns: frozenset[str] | None = None,
) -> PoolRow | None:
    """The pool; with `columns`, only those columns (and the id) are read, others None."""
    params = {"w_id": pool_id, "w_org": org_id}
    statement = reads_of(pools, columns).by_id
    return await first_row(source, statement, params, row=PoolRow, partial=True)


async def page_of_pools(
    source: Source,
    *,
    org_id: uuid.UUID,
    after: uuid.UUID | None,
    limit: int,
    columns: frozenset[str] | None = None,
) -> list[PoolRow]:
    """A page in id order; with `columns`, only those columns (and the id) are read."""
    reads = reads_of(pools, columns)
    statement = reads.first_page if after is None else reads.next_page
    params = {"w_org": org_id, "w_after": after, "w_limit": limit}
    return await read_rows(source, statement, params, row=PoolRow, partial=True)


async def update_pool(
    single: SingleWrite,
    *,
    org_id: uuid.UUID,
    pool_id: uuid.UUID,
    values: Mapping[str, Any],
    expected_updated_at: datetime | None,
    expected_version: int | None = None,
    actor: Actor | None = None,  # who writes; None records no history
) -> PoolRow | None:
    """UPDATE … RETURNING; None when the id or an expected timestamp or version matched no
    row. The change is recorded in the history in the write's transaction (db/history.py)."""
    shape = (
        tuple(sorted(values)),
        expected_updated_at is not None,
        expected_version is not None,
    )
    statement = _update_statement(*shape)
    params = {f"v_{column}": value for column, value in values.items()}
    params |= {
        "w_id": pool_id,
        "w_org": org_id,
        "w_expected": expected_updated_at,
        "w_version": expected_version,
    }
    # UniqueViolation: the slug is taken
    recording = (
        None
        if actor is None
        else Recording.of("GUARDRAIL_POOL", _BY_ID, _recorded_statement(*shape), actor)
    )
    return await single.first(
        statement, params, row=PoolRow, may_collide="slug" in values, recording=recording
    )


@lru_cache(maxsize=64)  # one per shape of change: a few column sets x 4
def _update_statement(columns: tuple[str, ...], expected: bool, versioned: bool) -> Update:
    """Built once per shape, with bind parameters: no statement construction per request."""
    return _built_update(columns, expected, versioned)[0]


@lru_cache(maxsize=64)
def _recorded_statement(columns: tuple[str, ...], expected: bool, versioned: bool) -> Select[Any]:
    """The same write with its history entry, in one statement (PostgreSQL)."""
    update, written = _built_update(columns, expected, versioned)
    return history.one_statement(update, pools, _BY_ID, written=written)


def _built_update(
    columns: tuple[str, ...], expected: bool, versioned: bool
) -> tuple[Update, frozenset[str]]:
    """The UPDATE, and the columns it sets."""
    values = audited(  # a new version only when something changes
        pools, {c: bindparam(f"v_{c}", type_=pools.c[c].type) for c in columns}
    )
    conditions = [pools.c.id == _ID, pools.c.org_id == _ORG]
    if expected:
        conditions.append(pools.c.updated_at == bindparam("w_expected"))
    if versioned:
        conditions.append(pools.c.version == bindparam("w_version", type_=pools.c.version.type))
    statement = update(pools).where(*conditions).values(values).returning(*pools.c)
    return statement, frozenset(values)
