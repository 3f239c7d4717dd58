"""updateGuardrailPools: many pool updates in one request, with a result per item."""

from __future__ import annotations

from typing import Annotated, cast

import strawberry

from resolvers.access import ADMIN_WRITE
from resolvers.bulk_update import ErrorPolicy, update_many
from resolvers.patches import PoolPatch
from resolvers.update_guardrail_pool import update_guardrail_pool as update_one
from schema.bulk import ITEMS, POLICY, item_results
from schema.context import Context
from schema.dry_run import DRY_RUN
from schema.errors import ForbiddenError, UnauthorizedError, ValidationError, answer
from schema.guardrail_pool import GuardrailPool
from schema.inputs import patch_from_input
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
    work = update_many(
        db=ctx.db,
        principal=await ctx.principal(),
        scope=ADMIN_WRITE,
        update_one=update_one,
        items=[(item.id, patch_from_input(item.input, PoolPatch)) for item in items],
        policy=error_policy or ErrorPolicy.REJECT_EVERYTHING,  # null: the default
        dry_run=bool(dry_run),
    )
    # update_many raises only Unauthorized, Forbidden and ValidationFailed: all members
    answered = await answer(
        ctx,
        work,
        lambda outcomes: UpdateGuardrailPoolsPayload(
            results=item_results(
                ctx,
                outcomes,
                lambda row, written: UpdateGuardrailPoolSuccess(
                    guardrail_pool=GuardrailPool.from_row(row), written=written
                ),
            ),
            written_count=sum(outcome.written for outcome in outcomes),
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
