"""Organizations' own rate limits, read from the database (`patchbay ratelimit set`)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from db.database import Database
from db.rate_limits import rate_limit_of
from gateway.throttle.limits import Limit


def organization_limits(db: Database) -> Callable[[uuid.UUID], Awaitable[Limit | None]]:
    async def limit_of(org_id: uuid.UUID) -> Limit | None:
        async with db.read() as conn:
            found = await rate_limit_of(conn, org_id=org_id)
        return Limit(*found) if found is not None else None

    return limit_of
