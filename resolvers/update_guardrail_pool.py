"""updateGuardrailPool: rename a pool or change its slug, one UPDATE … RETURNING."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from db import guardrail_pools as store
from db.database import Database
from db.errors import UniqueViolation
from resolvers import ids
from resolvers.access import ADMIN_WRITE, authorize
from resolvers.errors import Conflict, FieldIssue, NotFound, ValidationFailed
from resolvers.pool_rules import check_pool_changes
from resolvers.principal import Principal

SLUG_TAKEN = FieldIssue("slug", "another pool of the organization has this slug", "TAKEN")
STALE = FieldIssue("expectedUpdatedAt", "the pool changed since this time", "STALE")


async def update_guardrail_pool(
    *, db: Database, principal: Principal | None, raw_id: str, changes: Mapping[str, Any]
) -> store.PoolRow:
    caller = authorize(principal, ADMIN_WRITE)
    values, issues = check_pool_changes(changes)
    if issues:
        raise ValidationFailed(issues)
    pool_id = ids.pool_id(raw_id)
    if pool_id is None:
        raise NotFound("guardrailPool", raw_id)
    expected = changes.get("expectedUpdatedAt")
    row: store.PoolRow | None = None
    if values:
        async with db.single_write() as single:
            try:
                row = await store.update_pool(
                    single,
                    org_id=caller.org_id,
                    pool_id=pool_id,
                    values=values | {"updated_at": datetime.now(UTC)},
                    expected_updated_at=expected,
                )
            except UniqueViolation:
                raise Conflict("a pool with this slug already exists", [SLUG_TAKEN]) from None
        if row is not None:
            return row
    # Empty input (a no-op), or the UPDATE matched nothing: read the row to say why.
    async with db.read() as conn:
        row = await store.fetch_pool(conn, org_id=caller.org_id, pool_id=pool_id)
    if row is None:
        raise NotFound("guardrailPool", raw_id)
    if expected is not None and row.updated_at != expected:
        raise Conflict("the pool was changed by someone else", [STALE])
    if values:
        raise RuntimeError("pool update matched no row, and no rule explains why")
    return row
