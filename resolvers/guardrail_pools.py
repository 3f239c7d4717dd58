"""Reading guardrail pools: own organization only, with an admin read or write scope."""

from __future__ import annotations

import uuid

from db import guardrail_pools as store
from db.database import Database
from db.rows import PoolRow
from resolvers import ids
from resolvers.access import ADMIN_READ, ADMIN_WRITE, authorize
from resolvers.errors import InvalidArgument, NotFound
from resolvers.pagination import Page, decode_cursor, make_page, page_size
from resolvers.principal import Principal


async def get_pool(
    *, db: Database, principal: Principal | None, raw_id: str, columns: frozenset[str] | None = None
) -> PoolRow:
    caller = authorize(principal, ADMIN_READ, ADMIN_WRITE)
    pool_id = ids.pool_id(raw_id)
    if pool_id is not None:
        row = await store.fetch_pool(db, org_id=caller.org_id, pool_id=pool_id, columns=columns)
        if row is not None:
            return row
    raise NotFound("guardrailPool", raw_id)


async def list_pools(
    *,
    db: Database,
    principal: Principal | None,
    first: int | None,
    after: str | None,
    columns: frozenset[str] | None = None,
) -> Page[PoolRow]:
    caller = authorize(principal, ADMIN_READ, ADMIN_WRITE)
    size = page_size(first)
    start = decode_cursor(after)
    try:
        start_id = uuid.UUID(start) if start is not None else None
    except ValueError:
        raise InvalidArgument("`after` is not a cursor from this API") from None
    rows = await store.page_of_pools(
        db, org_id=caller.org_id, after=start_id, limit=size + 1, columns=columns
    )
    return make_page(rows, size, key=lambda row: str(row.id))
