"""SQL for API keys: looked up by their visible prefix, never by the secret."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from db import statements
from db.models import api_keys
from db.rows import ApiKeyRow

_ACTIVE_BY_PREFIX = select(api_keys).where(
    api_keys.c.prefix == bindparam("w_prefix"), api_keys.c.revoked_at.is_(None)
)


async def find_active_key(conn: AsyncConnection, *, prefix: str) -> ApiKeyRow | None:
    return await statements.first(conn, _ACTIVE_BY_PREFIX, {"w_prefix": prefix}, row=ApiKeyRow)


async def insert_key(
    conn: AsyncConnection,
    *,
    org_id: uuid.UUID,
    name: str,
    prefix: str,
    secret_hash: str,
    scopes: Iterable[str],
) -> None:
    await conn.execute(
        insert(api_keys).values(
            id=uuid.uuid4(),
            org_id=org_id,
            name=name,
            prefix=prefix,
            secret_hash=secret_hash,
            scopes=list(scopes),
            created_at=datetime.now(UTC),
        )
    )


async def revoke_key(conn: AsyncConnection, *, prefix: str) -> bool:
    statement = (
        update(api_keys)
        .where(api_keys.c.prefix == prefix, api_keys.c.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    return (await conn.execute(statement)).rowcount == 1


async def list_keys(conn: AsyncConnection, *, org_id: uuid.UUID | None) -> list[ApiKeyRow]:
    """Every key (revoked ones too), oldest first; of one organization when given."""
    statement = select(api_keys).order_by(api_keys.c.created_at, api_keys.c.prefix)
    if org_id is not None:
        statement = statement.where(api_keys.c.org_id == org_id)
    return [ApiKeyRow._make(row) for row in (await conn.execute(statement)).all()]
