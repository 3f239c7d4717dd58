"""updatePrompts: many prompt updates in one request, with a result per item."""

from __future__ import annotations

from typing import Annotated, cast

import strawberry

from resolvers.access import PROMPTS_WRITE
from resolvers.bulk_update import ErrorPolicy
from resolvers.patches import PromptPatch
from resolvers.update_prompt import update_prompt as update_one
from schema.bulk import ITEMS, POLICY, bulk_answer
from schema.context import Context
from schema.dry_run import DRY_RUN
from schema.errors import ForbiddenError, UnauthorizedError, ValidationError
from schema.prompt import Prompt
from schema.update_prompt import UpdatePromptInput, UpdatePromptResult, UpdatePromptSuccess


@strawberry.input(description="One update of a bulk updatePrompts.")
class UpdatePromptItem:
    id: strawberry.ID = strawberry.field(description="Id of the prompt to update.")
    input: UpdatePromptInput = strawberry.field(description="What to change.")


@strawberry.type(description="The outcome of each item of an updatePrompts, in input order.")
class UpdatePromptsPayload:
    results: list[UpdatePromptResult] = strawberry.field(
        description="What updatePrompt would answer for each item: a success (see its written "
        "field) or the item's documented failure."
    )
    written_count: int = strawberry.field(description="How many items were stored.")


UpdatePromptsResult = Annotated[
    UpdatePromptsPayload | ValidationError | UnauthorizedError | ForbiddenError,
    strawberry.union(
        "UpdatePromptsResult",
        description="Per-item results; or a failure of the whole request: a missing scope, "
        "or too many items (ValidationError on `items`, TOO_MANY).",
    ),
]


async def update_prompts_body(
    ctx: Context,
    *,
    items: list[UpdatePromptItem],
    error_policy: ErrorPolicy | None = ErrorPolicy.REJECT_EVERYTHING,
    dry_run: bool | None = False,
) -> UpdatePromptsResult:
    """The field's body, for Strawberry's resolver and for the planned executor alike."""
    answered = await bulk_answer(
        ctx,
        items=items,
        error_policy=error_policy,
        dry_run=dry_run,
        scope=PROMPTS_WRITE,
        update_one=update_one,
        patch=PromptPatch,
        success=lambda row, written: UpdatePromptSuccess(
            prompt=Prompt.from_row(row, ctx.prompts_url), written=written
        ),
        payload=lambda results, count: UpdatePromptsPayload(results=results, written_count=count),
    )
    return cast(UpdatePromptsResult, answered)


async def update_prompts(
    info: strawberry.Info[Context, None],
    items: Annotated[list[UpdatePromptItem], strawberry.argument(description=ITEMS)],
    error_policy: Annotated[ErrorPolicy | None, strawberry.argument(description=POLICY)] = (
        ErrorPolicy.REJECT_EVERYTHING
    ),
    dry_run: Annotated[bool | None, strawberry.argument(description=DRY_RUN)] = False,
) -> UpdatePromptsResult:
    return await update_prompts_body(
        info.context, items=items, error_policy=error_policy, dry_run=dry_run
    )
