"""updateGuardrailPool: rename a pool or change its slug, one UPDATE … RETURNING."""

from __future__ import annotations

from datetime import UTC, datetime

from db import guardrail_pools as store
from db.database import Database
from db.errors import UniqueViolation
from db.rows import PoolRow
from resolvers import ids
from resolvers.access import ADMIN_WRITE, authorize
from resolvers.errors import Conflict, FieldCode, FieldIssue, NotFound, ValidationFailed
from resolvers.patches import PoolPatch
from resolvers.pool_rules import check_pool_patch
from resolvers.principal import Principal

SLUG_TAKEN = FieldIssue("slug", "another pool of the organization has this slug", FieldCode.TAKEN)
STALE = FieldIssue("expectedUpdatedAt", "the pool changed since this time", FieldCode.STALE)


async def update_guardrail_pool(
    *, db: Database, principal: Principal | None, raw_id: str, patch: PoolPatch
) -> PoolRow:
    caller = authorize(principal, ADMIN_WRITE)
    values, issues = check_pool_patch(patch)
    if issues:
        raise ValidationFailed(issues)
    pool_id = ids.pool_id(raw_id)
    if pool_id is None:
        raise NotFound("guardrailPool", raw_id)
    expected = (
        patch.expected_updated_at if isinstance(patch.expected_updated_at, datetime) else None
    )
    row: PoolRow | None = None
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
