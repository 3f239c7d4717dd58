"""SQL for organizations."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from sqlalchemy import Row, bindparam, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from db import statements
from db.models import organizations
from db.rows import OrganizationRow

_BY_ID = select(organizations).where(
    organizations.c.id == bindparam("w_id", type_=organizations.c.id.type)
)


async def fetch_organization(conn: AsyncConnection, *, org_id: uuid.UUID) -> OrganizationRow | None:
    return await statements.first(conn, _BY_ID, {"w_id": org_id}, row=OrganizationRow)


async def find_organization(conn: AsyncConnection, *, slug_or_id: str) -> Row[Any] | None:
    condition = organizations.c.slug == slug_or_id
    with contextlib.suppress(ValueError):
        condition = or_(condition, organizations.c.id == uuid.UUID(slug_or_id))
    return (await conn.execute(select(organizations).where(condition))).first()
