"""SQL for API keys: looked up by their visible prefix, never by the secret."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from db.models import api_keys


async def find_active_key(conn: AsyncConnection, *, prefix: str) -> Row[Any] | None:
    query = select(api_keys).where(api_keys.c.prefix == prefix, api_keys.c.revoked_at.is_(None))
    return (await conn.execute(query)).first()


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
