"""The Query root: reads, each answering with a union of the object and its errors."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Annotated, Any, cast

import strawberry

from db.rows import PoolRow, PromptRow
from resolvers import guardrail_pools, prompts, viewer
from schema.connection import Connection
from schema.context import Context
from schema.errors import ForbiddenError, NotFoundError, UnauthorizedError, answer
from schema.guardrail_pool import GuardrailPool
from schema.planned.plan import RootBody
from schema.prompt import Prompt, PromptRecord, prompt_columns
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


async def prompt_body(
    ctx: Context, *, id: strawberry.ID, records: bool = False, selected: Selected | None = None
) -> PromptResult:
    read = _read(selected, "Prompt")
    row_class, present = _prompt_presenter(ctx.prompts_url, records, read)
    work = prompts.get_prompt(
        db=ctx.db,
        principal=await ctx.principal(),
        raw_id=id,
        columns=prompt_columns(read),
        row_class=row_class,
    )
    return await answer(  # type: ignore[return-value]
        ctx, work, present, success="Prompt"
    )


async def prompts_body(
    ctx: Context,
    *,
    first: int | None = 20,
    after: str | None = None,
    records: bool = False,
    selected: Selected | None = None,
) -> PromptConnectionResult:
    read = _read(selected, "Prompt")
    row_class, present = _prompt_presenter(ctx.prompts_url, records, read)
    work = prompts.list_prompts(
        db=ctx.db,
        principal=await ctx.principal(),
        first=first,
        after=after,
        columns=prompt_columns(read),
        row_class=row_class,
    )
    return await answer(  # type: ignore[return-value]
        ctx,
        work,
        (
            (
                (lambda page: Connection.of_records(page, None, own_edges=True))
                if present is _same  # PromptRecords (links not read)
                else (lambda page: Connection.of_records(page, present))
            )
            if records
            else (lambda page: Connection[Prompt].from_page(page, present))
        ),
        success="PromptConnection",
    )


async def guardrail_pool_body(
    ctx: Context, *, id: strawberry.ID, records: bool = False, selected: Selected | None = None
) -> GuardrailPoolResult:
    columns = _read(selected, "GuardrailPool")
    work = guardrail_pools.get_pool(
        db=ctx.db, principal=await ctx.principal(), raw_id=id, columns=columns
    )
    present: Callable[[PoolRow], Any] = _same if records else GuardrailPool.from_row
    return await answer(  # type: ignore[return-value]
        ctx, work, present, success="GuardrailPool"
    )


async def guardrail_pools_body(
    ctx: Context,
    *,
    first: int | None = 20,
    after: str | None = None,
    records: bool = False,
    selected: Selected | None = None,
) -> GuardrailPoolConnectionResult:
    work = guardrail_pools.list_pools(
        db=ctx.db,
        principal=await ctx.principal(),
        first=first,
        after=after,
        columns=_read(selected, "GuardrailPool"),  # a pool row's fields are its attributes
    )
    return await answer(  # type: ignore[return-value]
        ctx,
        work,
        (
            (lambda page: Connection.of_records(page, None))
            if records
            else (lambda page: Connection[GuardrailPool].from_page(page, GuardrailPool.from_row))
        ),
        success="GuardrailPoolConnection",
    )


# What the planned executor's writers read, by object type name (schema/planned/compiler.py):
# with it, a read fetches only the columns the document asks for; None reads every column.
Selected = Mapping[str, frozenset[str]]


def _read(selected: Selected | None, type_name: str) -> frozenset[str] | None:
    return None if selected is None else selected.get(type_name, frozenset())


def _prompt_presenter(
    url: str, records: bool, read: frozenset[str] | None
) -> tuple[type[PromptRow], Callable[[PromptRow], Any]]:
    """The class of the rows to read, and row -> what the answer is written from: a
    Prompt (Strawberry's path) or a record (planned). A planned answer that does not read
    `links` gets its records straight from the database (links None), with no copy."""
    if not records:
        return PromptRow, lambda row: Prompt.from_row(row, url)
    if read is not None and "links" not in read:
        return cast("type[PromptRow]", PromptRecord), _same  # PromptRow's fields, then links
    return PromptRow, lambda row: PromptRecord.from_row(row, url)


def _same(row: Any) -> Any:
    """A pool row has GuardrailPool's attributes, ids as UUIDs (the ID scalar writes them
    as str() does), and a prompt record Prompt's: the planned executor writes it as it is."""
    return row


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
# The reads answer with records (rows, or tuples of a row and what is derived from it) in
# place of Strawberry objects: see QUERY_RECORDS.
QUERY_BODIES: dict[str, RootBody] = {
    "viewer": viewer_body,
    "prompt": partial(prompt_body, records=True),
    "prompts": partial(prompts_body, records=True),
    "guardrailPool": partial(guardrail_pool_body, records=True),
    "guardrailPools": partial(guardrail_pools_body, records=True),
}
# Classes that stand in for an object type's own in those answers, by GraphQL type name
QUERY_RECORDS: dict[str, tuple[type, ...]] = {
    "Prompt": (PromptRecord,),
    "GuardrailPool": (PoolRow,),
}
