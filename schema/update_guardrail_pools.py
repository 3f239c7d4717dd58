"""updateGuardrailPools: many pool updates in one request, with a result per item."""

from __future__ import annotations

from typing import Annotated, cast

import strawberry

from resolvers.access import ADMIN_WRITE
from resolvers.bulk_update import ErrorPolicy
from resolvers.patches import PoolPatch
from resolvers.update_guardrail_pool import update_guardrail_pool as update_one
from schema.bulk import ITEMS, POLICY, bulk_answer
from schema.context import Context
from schema.dry_run import DRY_RUN
from schema.errors import ForbiddenError, UnauthorizedError, ValidationError
from schema.guardrail_pool import GuardrailPool
from schema.update_guardrail_pool import (
    UpdateGuardrailPoolInput,
    UpdateGuardrailPoolResult,
    UpdateGuardrailPoolSuccess,
)


@strawberry.input(description="One update of a bulk updateGuardrailPools.")
class UpdateGuardrailPoolItem:
    id: strawberry.ID = strawberry.field(description="Id of the pool to update.")
    input: UpdateGuardrailPoolInput = strawberry.field(description="What to change.")


@strawberry.type(description="The outcome of each item of an updateGuardrailPools, in input order.")
class UpdateGuardrailPoolsPayload:
    results: list[UpdateGuardrailPoolResult] = strawberry.field(
        description="What updateGuardrailPool would answer for each item: a success (see "
        "its written field) or the item's documented failure."
    )
    written_count: int = strawberry.field(description="How many items were stored.")


UpdateGuardrailPoolsResult = Annotated[
    UpdateGuardrailPoolsPayload | ValidationError | UnauthorizedError | ForbiddenError,
    strawberry.union(
        "UpdateGuardrailPoolsResult",
        description="Per-item results; or a failure of the whole request: a missing scope, "
        "or too many items (ValidationError on `items`, TOO_MANY).",
    ),
]


async def update_guardrail_pools_body(
    ctx: Context,
    *,
    items: list[UpdateGuardrailPoolItem],
    error_policy: ErrorPolicy | None = ErrorPolicy.REJECT_EVERYTHING,
    dry_run: bool | None = False,
) -> UpdateGuardrailPoolsResult:
    """The field's body, for Strawberry's resolver and for the planned executor alike."""
    answered = await bulk_answer(
        ctx,
        items=items,
        error_policy=error_policy,
        dry_run=dry_run,
        scope=ADMIN_WRITE,
        update_one=update_one,
        patch=PoolPatch,
        success=lambda row, written: UpdateGuardrailPoolSuccess(
            guardrail_pool=GuardrailPool.from_row(row), written=written
        ),
        payload=lambda results, count: UpdateGuardrailPoolsPayload(
            results=results, written_count=count
        ),
    )
    return cast(UpdateGuardrailPoolsResult, answered)


async def update_guardrail_pools(
    info: strawberry.Info[Context, None],
    items: Annotated[list[UpdateGuardrailPoolItem], strawberry.argument(description=ITEMS)],
    error_policy: Annotated[ErrorPolicy | None, strawberry.argument(description=POLICY)] = (
        ErrorPolicy.REJECT_EVERYTHING
    ),
    dry_run: Annotated[bool | None, strawberry.argument(description=DRY_RUN)] = False,
) -> UpdateGuardrailPoolsResult:
    return await update_guardrail_pools_body(
        info.context, items=items, error_policy=error_policy, dry_run=dry_run
    )
