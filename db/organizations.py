"""SQL for organizations."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from sqlalchemy import Row, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from db.models import organizations


async def fetch_organization(conn: AsyncConnection, *, org_id: uuid.UUID) -> Row[Any] | None:
    query = select(organizations).where(organizations.c.id == org_id)
    return (await conn.execute(query)).first()


async def find_organization(conn: AsyncConnection, *, slug_or_id: str) -> Row[Any] | None:
    condition = organizations.c.slug == slug_or_id
    with contextlib.suppress(ValueError):
        condition = or_(condition, organizations.c.id == uuid.UUID(slug_or_id))
    return (await conn.execute(select(organizations).where(condition))).first()
