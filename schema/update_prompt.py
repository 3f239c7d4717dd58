"""updatePrompt: its input, its success type, its result union and its resolver."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import strawberry

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

    def changes(self) -> dict[str, Any]:
        """The fields the caller sent, by API name; absent fields are left out."""
        sent = {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "content": self.content,
            "model": self.model,
            "tags": self.tags,
            "requestId": self.request_id,
            "fileName": self.file_name,
            "expectedUpdatedAt": self.expected_updated_at,
        }
        return {field: some.value for field, some in sent.items() if some is not None}


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


async def update_prompt_result(
    ctx: Context, raw_id: str, changes: dict[str, Any]
) -> UpdatePromptResult:
    """The mutation's body; `changes` maps sent input fields (API names) to values."""
    work = run_update(db=ctx.db, principal=await ctx.principal(), raw_id=raw_id, changes=changes)
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
    return await update_prompt_result(info.context, id, input.changes())
