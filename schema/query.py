"""The Query root: reads, each answering with a union of the object and its errors."""

from __future__ import annotations

from typing import Annotated

import strawberry

from resolvers import guardrail_pools, prompts, viewer
from schema.connection import Connection
from schema.context import Context
from schema.errors import ForbiddenError, NotFoundError, UnauthorizedError, answer
from schema.guardrail_pool import GuardrailPool
from schema.planned.plan import RootBody
from schema.prompt import Prompt
from schema.viewer import Viewer

Info = strawberry.Info[Context, None]

ViewerResult = Annotated[
    Viewer | UnauthorizedError,
    strawberry.union("ViewerResult", description="The caller, or why the credential was refused."),
]
PromptResult = Annotated[
    Prompt | UnauthorizedError | ForbiddenError | NotFoundError,
    strawberry.union("PromptResult", description="A prompt, or why it cannot be read."),
]
PromptConnectionResult = Annotated[
    Connection[Prompt] | UnauthorizedError | ForbiddenError,
    strawberry.union(
        "PromptConnectionResult", description="A page of prompts, or why they cannot be listed."
    ),
]
GuardrailPoolResult = Annotated[
    GuardrailPool | UnauthorizedError | ForbiddenError | NotFoundError,
    strawberry.union(
        "GuardrailPoolResult", description="A guardrail pool, or why it cannot be read."
    ),
]
GuardrailPoolConnectionResult = Annotated[
    Connection[GuardrailPool] | UnauthorizedError | ForbiddenError,
    strawberry.union(
        "GuardrailPoolConnectionResult",
        description="A page of guardrail pools, or why they cannot be listed.",
    ),
]

FIRST = "Page size, at most 100; null means the default, 20."
AFTER = "Cursor of the item to start after (`pageInfo.endCursor`)."


# `answer` is typed with every error member; reads raise only the members their union
# lists (Unauthorized, Forbidden, NotFound), hence the return-value ignores below.
#
# Each field's body is a function of the context and the field's arguments, called by the
# Strawberry resolver and by the planned executor (schema/planned/) alike.


async def viewer_body(ctx: Context) -> ViewerResult:
    work = viewer.get_viewer(db=ctx.db, principal=await ctx.principal())
    return await answer(  # type: ignore[return-value]
        ctx, work, lambda found: Viewer.from_principal(*found)
    )


async def prompt_body(ctx: Context, *, id: strawberry.ID) -> PromptResult:
    work = prompts.get_prompt(db=ctx.db, principal=await ctx.principal(), raw_id=id)
    return await answer(  # type: ignore[return-value]
        ctx, work, lambda row: Prompt.from_row(row, ctx.prompts_url)
    )


async def prompts_body(
    ctx: Context, *, first: int | None = 20, after: str | None = None
) -> PromptConnectionResult:
    work = prompts.list_prompts(
        db=ctx.db, principal=await ctx.principal(), first=first, after=after
    )
    return await answer(  # type: ignore[return-value]
        ctx,
        work,
        lambda page: Connection[Prompt].from_page(
            page, lambda row: Prompt.from_row(row, ctx.prompts_url)
        ),
        success="PromptConnection",
    )


async def guardrail_pool_body(ctx: Context, *, id: strawberry.ID) -> GuardrailPoolResult:
    work = guardrail_pools.get_pool(db=ctx.db, principal=await ctx.principal(), raw_id=id)
    return await answer(  # type: ignore[return-value]
        ctx, work, GuardrailPool.from_row
    )


async def guardrail_pools_body(
    ctx: Context, *, first: int | None = 20, after: str | None = None
) -> GuardrailPoolConnectionResult:
    work = guardrail_pools.list_pools(
        db=ctx.db, principal=await ctx.principal(), first=first, after=after
    )
    return await answer(  # type: ignore[return-value]
        ctx,
        work,
        lambda page: Connection[GuardrailPool].from_page(page, GuardrailPool.from_row),
        success="GuardrailPoolConnection",
    )


@strawberry.type(description="Reads. Every field answers for the caller's organization only.")
class Query:
    @strawberry.field(description="Who the credential says you are.")
    async def viewer(self, info: Info) -> ViewerResult:
        return await viewer_body(info.context)

    @strawberry.field(description="One prompt by id. Needs prompts:read or prompts:write.")
    async def prompt(self, info: Info, id: strawberry.ID) -> PromptResult:
        return await prompt_body(info.context, id=id)

    @strawberry.field(description="Prompts, a page at a time. Needs prompts:read or prompts:write.")
    async def prompts(
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> PromptConnectionResult:
        return await prompts_body(info.context, first=first, after=after)

    @strawberry.field(
        description="One guardrail pool by id. Needs org:admin:read or org:admin:write."
    )
    async def guardrail_pool(self, info: Info, id: strawberry.ID) -> GuardrailPoolResult:
        return await guardrail_pool_body(info.context, id=id)

    @strawberry.field(
        description="Guardrail pools, a page at a time. Needs org:admin:read or org:admin:write."
    )
    async def guardrail_pools(
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> GuardrailPoolConnectionResult:
        return await guardrail_pools_body(info.context, first=first, after=after)


# Query root fields the planned executor may run, by GraphQL name (see schema/roots.py).
QUERY_BODIES: dict[str, RootBody] = {
    "viewer": viewer_body,
    "prompt": prompt_body,
    "prompts": prompts_body,
    "guardrailPool": guardrail_pool_body,
    "guardrailPools": guardrail_pools_body,
}
