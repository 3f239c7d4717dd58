"""updateGuardrailPool: its input, its success type, its result union and its resolver."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from resolvers.patches import PoolPatch
from resolvers.update_guardrail_pool import update_guardrail_pool as run_update
from schema.context import Context
from schema.dry_run import DRY_RUN
from schema.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    UnauthorizedError,
    ValidationError,
    answer,
)
from schema.guardrail_pool import GuardrailPool
from schema.inputs import patch_from_input


@strawberry.input(
    description="Fields to change; an absent field is left unchanged. A pool's brand cannot "
    "be changed, so there is no brand field."
)
class UpdateGuardrailPoolInput:
    name: strawberry.Maybe[str | None] = strawberry.field(
        description="New name; trimmed, 1-100 characters. Cannot be null."
    )
    slug: strawberry.Maybe[str | None] = strawberry.field(
        description="New slug, unique in the organization: 1-64 characters of lowercase "
        "letters and digits in words joined by '-'. Cannot be null."
    )
    expected_updated_at: strawberry.Maybe[datetime | None] = strawberry.field(
        description="Optional guard: fail with ConflictError if the pool's updatedAt differs."
    )
    expected_version: strawberry.Maybe[int | None] = strawberry.field(
        description="Optional guard, preferred to expectedUpdatedAt (no clock involved): fail "
        "with ConflictError if the pool's version differs."
    )


@strawberry.type(description="The pool after the update.")
class UpdateGuardrailPoolSuccess:
    guardrail_pool: GuardrailPool = strawberry.field(
        description="The updated pool; for a dry run or an update not written, the pool as "
        "the update would have left it."
    )
    written: bool = strawberry.field(
        default=True,
        description="Whether the update was stored: false for a dry run, and for the "
        "successful items of a bulk update rejected as a whole.",
    )


UpdateGuardrailPoolResult = Annotated[
    UpdateGuardrailPoolSuccess
    | ValidationError
    | UnauthorizedError
    | ForbiddenError
    | NotFoundError
    | ConflictError,
    strawberry.union(
        "UpdateGuardrailPoolResult", description="The updated pool, or the documented failure."
    ),
]


async def update_guardrail_pool_body(
    ctx: Context,
    *,
    id: strawberry.ID,
    input: UpdateGuardrailPoolInput,
    dry_run: bool | None = False,
) -> UpdateGuardrailPoolResult:
    """The field's body, for Strawberry's resolver and for the planned executor alike."""
    patch = patch_from_input(input, PoolPatch)
    principal = await ctx.principal()
    work = run_update(db=ctx.db, principal=principal, raw_id=id, patch=patch, dry_run=bool(dry_run))
    return await answer(
        ctx,
        work,
        lambda row: UpdateGuardrailPoolSuccess(
            guardrail_pool=GuardrailPool.from_row(row), written=not dry_run
        ),
    )


async def update_guardrail_pool(
    info: strawberry.Info[Context, None],
    id: Annotated[strawberry.ID, strawberry.argument(description="Id of the pool to update.")],
    input: Annotated[UpdateGuardrailPoolInput, strawberry.argument(description="What to change.")],
    dry_run: Annotated[bool | None, strawberry.argument(description=DRY_RUN)] = False,
) -> UpdateGuardrailPoolResult:
    return await update_guardrail_pool_body(info.context, id=id, input=input, dry_run=dry_run)
