"""The Query root: reads, each answering with a union of the object and its errors."""

from __future__ import annotations

from typing import Annotated

import strawberry

from resolvers import guardrail_pools, prompts, viewer
from schema.connection import Connection
from schema.context import Context
from schema.errors import ForbiddenError, NotFoundError, UnauthorizedError, answer
from schema.guardrail_pool import GuardrailPool
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


@strawberry.type(description="Reads. Every field answers for the caller's organization only.")
class Query:
    @strawberry.field(description="Who the credential says you are.")
    async def viewer(self, info: Info) -> ViewerResult:
        ctx = info.context
        work = viewer.get_viewer(db=ctx.db, principal=await ctx.principal())
        return await answer(  # type: ignore[return-value]
            ctx, work, lambda found: Viewer.from_principal(*found)
        )

    @strawberry.field(description="One prompt by id. Needs prompts:read or prompts:write.")
    async def prompt(self, info: Info, id: strawberry.ID) -> PromptResult:
        ctx = info.context
        work = prompts.get_prompt(db=ctx.db, principal=await ctx.principal(), raw_id=id)
        return await answer(  # type: ignore[return-value]
            ctx, work, lambda row: Prompt.from_row(row, ctx.prompts_url)
        )

    @strawberry.field(description="Prompts, a page at a time. Needs prompts:read or prompts:write.")
    async def prompts(
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> PromptConnectionResult:
        ctx = info.context
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

    @strawberry.field(
        description="One guardrail pool by id. Needs org:admin:read or org:admin:write."
    )
    async def guardrail_pool(self, info: Info, id: strawberry.ID) -> GuardrailPoolResult:
        ctx = info.context
        work = guardrail_pools.get_pool(db=ctx.db, principal=await ctx.principal(), raw_id=id)
        return await answer(  # type: ignore[return-value]
            ctx, work, GuardrailPool.from_row
        )

    @strawberry.field(
        description="Guardrail pools, a page at a time. Needs org:admin:read or org:admin:write."
    )
    async def guardrail_pools(
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> GuardrailPoolConnectionResult:
        ctx = info.context
        work = guardrail_pools.list_pools(
            db=ctx.db, principal=await ctx.principal(), first=first, after=after
        )
        return await answer(  # type: ignore[return-value]
            ctx,
            work,
            lambda page: Connection[GuardrailPool].from_page(page, GuardrailPool.from_row),
            success="GuardrailPoolConnection",
        )
