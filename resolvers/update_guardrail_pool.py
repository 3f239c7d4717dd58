"""updateGuardrailPool: rename a pool or change its slug, one UPDATE … RETURNING."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from db import guardrail_pools as store
from db.database import Database
from db.errors import UniqueViolation
from db.rows import PoolRow
from resolvers import ids
from resolvers.access import ADMIN_WRITE, authorize
from resolvers.errors import Conflict, FieldCode, FieldIssue, NotFound, ValidationFailed
from resolvers.patches import PoolPatch
from resolvers.pool_rules import check_pool_patch
from resolvers.principal import Principal, actor_of

SLUG_TAKEN = FieldIssue("slug", "another pool of the organization has this slug", FieldCode.TAKEN)
STALE = FieldIssue("expectedUpdatedAt", "the pool changed since this time", FieldCode.STALE)
STALE_VERSION = FieldIssue("expectedVersion", "the pool has a newer version", FieldCode.STALE)


async def update_guardrail_pool(
    *,
    db: Database,
    principal: Principal | None,
    raw_id: str,
    patch: PoolPatch,
    dry_run: bool = False,
) -> PoolRow:
    """A dry run makes every check and the write itself, in a transaction it rolls back."""
    db.note_mutation(dry_run=dry_run)
    caller = authorize(principal, ADMIN_WRITE)
    values, issues = check_pool_patch(patch)
    if issues:
        raise ValidationFailed(issues)
    pool_id = ids.pool_id(raw_id)
    if pool_id is None:
        raise NotFound("guardrailPool", raw_id)
    guards = _Guards(patch)
    if not dry_run:
        return await _apply(db, caller, pool_id, raw_id, values, guards)
    async with db.unit() as outcome:
        outcome.discard()
        return await _apply(db, caller, pool_id, raw_id, values, guards)


class _Guards:
    def __init__(self, patch: PoolPatch) -> None:
        expected, version = patch.expected_updated_at, patch.expected_version
        self.updated_at = expected if isinstance(expected, datetime) else None
        self.version = version if isinstance(version, int) else None


async def _apply(
    db: Database,
    caller: Principal,
    pool_id: uuid.UUID,
    raw_id: str,
    values: dict[str, Any],
    guards: _Guards,
) -> PoolRow:
    org_id = caller.org_id
    row: PoolRow | None = None
    if values:
        async with db.single_write() as single:
            try:
                row = await store.update_pool(
                    single,
                    org_id=org_id,
                    pool_id=pool_id,
                    values=values | {"updated_at": datetime.now(UTC)},
                    expected_updated_at=guards.updated_at,
                    expected_version=guards.version,
                    actor=actor_of(caller),
                )
            except UniqueViolation:
                raise Conflict("a pool with this slug already exists", [SLUG_TAKEN]) from None
        if row is not None:
            return row
    # Empty input (a no-op), or the UPDATE matched nothing: read the row to say why.
    async with db.read() as conn:
        row = await store.fetch_pool(conn, org_id=org_id, pool_id=pool_id)
    if row is None:
        raise NotFound("guardrailPool", raw_id)
    for stale, issue in (
        (guards.updated_at is not None and row.updated_at != guards.updated_at, STALE),
        (guards.version is not None and row.version != guards.version, STALE_VERSION),
    ):
        if stale:
            raise Conflict(
                "the pool was changed by someone else",
                [issue],
                current_version=row.version,
                current_updated_at=row.updated_at,
            )
    if values:
        raise RuntimeError("pool update matched no row, and no rule explains why")
    return row
