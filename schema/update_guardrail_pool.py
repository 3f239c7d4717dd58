"""updateGuardrailPool: its input, its success type, its result union and its resolver."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry

from resolvers.update_guardrail_pool import update_guardrail_pool as run_update
from schema.context import Context
from schema.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    UnauthorizedError,
    ValidationError,
    answer,
)
from schema.guardrail_pool import GuardrailPool


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

    def changes(self) -> dict[str, Any]:
        sent = {"name": self.name, "slug": self.slug, "expectedUpdatedAt": self.expected_updated_at}
        return {field: some.value for field, some in sent.items() if some is not None}


@strawberry.type(description="The pool after the update.")
class UpdateGuardrailPoolSuccess:
    guardrail_pool: GuardrailPool = strawberry.field(description="The updated pool.")


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


async def update_guardrail_pool_result(
    ctx: Context, raw_id: str, changes: dict[str, Any]
) -> UpdateGuardrailPoolResult:
    """The mutation's body; `changes` maps sent input fields (API names) to values."""
    work = run_update(db=ctx.db, principal=await ctx.principal(), raw_id=raw_id, changes=changes)
    return await answer(
        ctx,
        work,
        lambda row: UpdateGuardrailPoolSuccess(guardrail_pool=GuardrailPool.from_row(row)),
    )


async def update_guardrail_pool(
    info: strawberry.Info[Context, None],
    id: Annotated[strawberry.ID, strawberry.argument(description="Id of the pool to update.")],
    input: Annotated[UpdateGuardrailPoolInput, strawberry.argument(description="What to change.")],
) -> UpdateGuardrailPoolResult:
    return await update_guardrail_pool_result(info.context, id, input.changes())
