"""updatePrompt: its input, its success type, its result union and its resolver."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry

from resolvers.patches import PromptPatch
from resolvers.update_prompt import update_prompt as run_update
from schema.context import Context
from schema.errors import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    UnauthorizedError,
    ValidationError,
    answer,
)
from schema.inputs import patch_from_input
from schema.prompt import Prompt


@strawberry.input(
    description="Fields to change. An absent field is left unchanged; null clears it where "
    "noted; an empty input changes nothing."
)
class UpdatePromptInput:
    # Maybe[str | None]: null must reach our rules (REQUIRED) instead of failing coercion.
    name: strawberry.Maybe[str | None] = strawberry.field(
        description="New name, unique in the organization; trimmed, 1-100 characters. "
        "Cannot be null."
    )
    title: strawberry.Maybe[str | None] = strawberry.field(
        description="New title, 1-200 characters; null clears it."
    )
    description: strawberry.Maybe[str | None] = strawberry.field(
        description="New description, at most 1000 characters; null clears it."
    )
    content: strawberry.Maybe[str | None] = strawberry.field(
        description="New text content, at most 20000 characters; null clears it."
    )
    model: strawberry.Maybe[str | None] = strawberry.field(
        description="New model, 1-100 characters; null clears it."
    )
    tags: strawberry.Maybe[list[str] | None] = strawberry.field(
        description="Replaces the tags: at most 20, each trimmed, 1-50 characters; duplicates "
        "are dropped keeping the first. null clears them."
    )
    request_id: strawberry.Maybe[str | None] = strawberry.field(
        description="Attach the audio uploaded under this request id: sets assetId, sets type "
        "to ASSET and takes the upload's file name unless fileName is given."
    )
    file_name: strawberry.Maybe[str | None] = strawberry.field(
        description="The audio file's name, ending in .mp3, .wav or .ogg; without requestId it "
        "renames the audio file of a prompt that has one."
    )
    expected_updated_at: strawberry.Maybe[datetime | None] = strawberry.field(
        description="Optional guard: fail with ConflictError if the prompt's updatedAt differs."
    )


@strawberry.type(description="The prompt after the update.")
class UpdatePromptSuccess:
    prompt: Prompt = strawberry.field(description="The updated prompt.")


UpdatePromptResult = Annotated[
    UpdatePromptSuccess
    | ValidationError
    | UnauthorizedError
    | ForbiddenError
    | NotFoundError
    | ConflictError,
    strawberry.union(
        "UpdatePromptResult", description="The updated prompt, or the documented failure."
    ),
]


async def update_prompt_body(
    ctx: Context, *, id: strawberry.ID, input: UpdatePromptInput
) -> UpdatePromptResult:
    """The field's body, for Strawberry's resolver and for the planned executor alike."""
    patch = patch_from_input(input, PromptPatch)
    work = run_update(db=ctx.db, principal=await ctx.principal(), raw_id=id, patch=patch)
    return await answer(
        ctx,
        work,
        lambda row: UpdatePromptSuccess(prompt=Prompt.from_row(row, ctx.prompts_url)),
    )


async def update_prompt(
    info: strawberry.Info[Context, None],
    id: Annotated[strawberry.ID, strawberry.argument(description="Id of the prompt to update.")],
    input: Annotated[UpdatePromptInput, strawberry.argument(description="What to change.")],
) -> UpdatePromptResult:
    return await update_prompt_body(info.context, id=id, input=input)
