"""SQL for guardrail pools."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from db.errors import UniqueViolation, is_unique_violation
from db.models import guardrail_pools


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
    conn: AsyncConnection,
    *,
    org_id: uuid.UUID,
    pool_id: uuid.UUID,
    values: Mapping[str, Any],
    expected_updated_at: datetime | None,
) -> Row[Any] | None:
    """UPDATE … RETURNING; None when the id or the expected timestamp matched no row."""
    conditions = [guardrail_pools.c.id == pool_id, guardrail_pools.c.org_id == org_id]
    if expected_updated_at is not None:
        conditions.append(guardrail_pools.c.updated_at == expected_updated_at)
    statement = (
        update(guardrail_pools)
        .where(*conditions)
        .values(dict(values))
        .returning(*guardrail_pools.c)
    )
    try:
        return (await conn.execute(statement)).first()
    except IntegrityError as error:
        if is_unique_violation(error):
            raise UniqueViolation(str(error.orig)) from error
        raise
