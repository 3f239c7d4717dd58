"""SQL for organizations' own rate limits."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection

from db.models import organization_rate_limits as limits

_OF_ORG = select(limits.c.maximum, limits.c.restore_rate).where(
    limits.c.org_id == bindparam("w_org", type_=limits.c.org_id.type)
)


async def rate_limit_of(conn: AsyncConnection, *, org_id: uuid.UUID) -> tuple[float, float] | None:
    """(maximum, restore rate) when the organization has its own; None for the default."""
    row = (await conn.execute(_OF_ORG, {"w_org": org_id})).first()
    return (float(row[0]), float(row[1])) if row is not None else None


async def set_rate_limit(
    conn: AsyncConnection, *, org_id: uuid.UUID, maximum: float, restore_rate: float
) -> None:
    await clear_rate_limit(conn, org_id=org_id)
    await conn.execute(
        limits.insert().values(org_id=org_id, maximum=maximum, restore_rate=restore_rate)
    )


async def clear_rate_limit(conn: AsyncConnection, *, org_id: uuid.UUID) -> bool:
    result = await conn.execute(delete(limits).where(limits.c.org_id == org_id))
    return bool(result.rowcount)
