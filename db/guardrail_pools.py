"""SQL for guardrail pools."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import Row, Update, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from db.models import guardrail_pools
from db.single_write import SingleWrite

# A pool as read (SQLAlchemy's Row) or as written (db.direct's named tuple): the columns as
# attributes either way.
PoolRow = Any


async def fetch_pool(
    conn: AsyncConnection, *, org_id: uuid.UUID, pool_id: uuid.UUID
) -> Row[Any] | None:
    query = select(guardrail_pools).where(
        guardrail_pools.c.id == pool_id, guardrail_pools.c.org_id == org_id
    )
    return (await conn.execute(query)).first()


async def page_of_pools(
    conn: AsyncConnection, *, org_id: uuid.UUID, after: uuid.UUID | None, limit: int
) -> Sequence[Row[Any]]:
    query = select(guardrail_pools).where(guardrail_pools.c.org_id == org_id)
    if after is not None:
        query = query.where(guardrail_pools.c.id > after)
    return (await conn.execute(query.order_by(guardrail_pools.c.id).limit(limit))).all()


async def update_pool(
    single: SingleWrite,
    *,
    org_id: uuid.UUID,
    pool_id: uuid.UUID,
    values: Mapping[str, Any],
    expected_updated_at: datetime | None,
) -> PoolRow | None:
    """UPDATE … RETURNING; None when the id or the expected timestamp matched no row."""
    statement = _update_statement(tuple(sorted(values)), expected=expected_updated_at is not None)
    params = {f"v_{column}": value for column, value in values.items()}
    params |= {"w_id": pool_id, "w_org": org_id, "w_expected": expected_updated_at}
    return await single.first(statement, params)  # UniqueViolation on a taken slug


@lru_cache(maxsize=64)  # one per shape of change: a few column sets x 2
def _update_statement(columns: tuple[str, ...], *, expected: bool) -> Update:
    """Built once per shape, with bind parameters: no statement construction per request."""
    table = guardrail_pools
    values = {c: bindparam(f"v_{c}", type_=table.c[c].type) for c in columns}
    conditions = [
        table.c.id == bindparam("w_id", type_=table.c.id.type),
        table.c.org_id == bindparam("w_org", type_=table.c.org_id.type),
    ]
    if expected:
        conditions.append(table.c.updated_at == bindparam("w_expected"))
    return update(table).where(*conditions).values(values).returning(*table.c)
