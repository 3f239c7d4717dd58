"""The Subscription root: promptChanged and guardrailPoolChanged, over graphql-transport-ws.

A subscription starts with the caller's read scope for the kind, in the caller's
organization only (the feed filters by organization before anything is queued). Each
change is read back with the subscriber's own credential, re-checked first: an expired or
revoked credential ends the stream, and so does a quiet stretch of `recheck_seconds` after
which the credential no longer holds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Annotated, Any, TypeVar

import strawberry
from graphql import GraphQLError

from db.history import Change
from resolvers import errors as domain
from resolvers import guardrail_pools, ids, prompts
from resolvers.access import authorize
from resolvers.history import GUARDRAIL_POOL, PROMPT, READ_SCOPES, entry_of
from resolvers.principal import Principal
from schema.changes import ChangeFeed, SubscriberFellBehind, TooManySubscriptions
from schema.context import Context
from schema.guardrail_pool import GuardrailPool
from schema.history import HistoryEntry
from schema.prompt import Prompt

Info = strawberry.Info[Context, None]
FELL_BEHIND = (4008, "subscriber fell behind")  # the close code docs/history.md documents
ID_ARGUMENT = "Only this entity's changes; null: every one of the kind the caller may read."
T = TypeVar("T")


@strawberry.type(description="A prompt changed: the history entry, and the prompt after it.")
class PromptChange:
    entry: HistoryEntry = strawberry.field(description="What changed, who changed it, when.")
    prompt: Prompt = strawberry.field(description="The prompt as it is after the change.")


@strawberry.type(description="A pool changed: the history entry, and the pool after it.")
class GuardrailPoolChange:
    entry: HistoryEntry = strawberry.field(description="What changed, who changed it, when.")
    guardrail_pool: GuardrailPool = strawberry.field(
        description="The pool as it is after the change."
    )


class StreamEnded(GraphQLError):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message, extensions={"code": code})


async def _changes(
    ctx: Context, kind: str, entity_id: str | None
) -> AsyncIterator[tuple[Principal, Change]]:
    """The kind's changes the caller may see, each with the credential as it holds now."""
    caller = _checked(await ctx.principal(), kind, ctx)
    entity_id = _canonical(kind, entity_id)
    feed: ChangeFeed | None = ctx.changes
    if feed is None:
        raise StreamEnded(
            "subscriptions are served over WebSocket or Server-Sent Events only", "BAD_REQUEST"
        )
    try:
        subscription = feed.subscribe(
            org_id=caller.org_id, subject=caller.subject, kind=kind, entity_id=entity_id
        )
        async with subscription as changes:
            waiting = aiter(changes)
            while True:
                try:
                    change = await asyncio.wait_for(anext(waiting), feed.recheck_seconds)
                except TimeoutError:
                    _checked(await ctx.authenticate(), kind, ctx)
                    continue
                yield _checked(await ctx.authenticate(), kind, ctx), change
    except TooManySubscriptions as error:
        raise StreamEnded(str(error), "TOO_MANY_SUBSCRIPTIONS") from None
    except SubscriberFellBehind:
        if ctx.close is not None:
            await ctx.close(*FELL_BEHIND)
        raise StreamEnded(FELL_BEHIND[1], "FELL_BEHIND") from None


def _canonical(kind: str, raw: str | None) -> str | None:
    """The id as changes carry it (a pool's UUID in its canonical form, however the caller
    spelled it); one that cannot name anything is NOT_FOUND, as a query says."""
    if raw is None:
        return None
    if kind == PROMPT:
        found = ids.prompt_id(raw)
        if found is not None:
            return found
        raise StreamEnded("prompt not found", "NOT_FOUND")
    pool = ids.pool_id(raw)
    if pool is not None:
        return str(pool)
    raise StreamEnded("guardrailPool not found", "NOT_FOUND")


def _checked(principal: Principal | None, kind: str, ctx: Context | None = None) -> Principal:
    try:
        return authorize(principal, *READ_SCOPES[kind])
    except domain.Unauthorized:
        if ctx is not None:
            ctx.credential_ended = True  # the transport closes the connection (4403)
        raise StreamEnded("the credential is missing, expired or revoked", "UNAUTHORIZED") from None
    except domain.Forbidden as error:
        raise StreamEnded(error.message, "FORBIDDEN") from None


async def _entries(
    ctx: Context,
    kind: str,
    entity_id: str | None,
    read: Callable[[Principal, str], Awaitable[T]],
) -> AsyncIterator[tuple[HistoryEntry, T]]:
    async for principal, change in _changes(ctx, kind, entity_id):
        entry = await entry_of(
            db=ctx.db,
            principal=principal,
            kind=kind,
            entity_id=change.entity_id,
            version=change.version,
        )
        if entry is None:  # pruned already, or never visible to this caller
            continue
        try:
            entity = await read(principal, change.entity_id)
        except domain.NotFound:
            continue
        yield HistoryEntry.from_row(entry), entity


@strawberry.type(
    description="Live changes, over WebSocket (graphql-transport-ws) or Server-Sent Events "
    "(graphql-sse: POST with Accept: text/event-stream)."
)
class Subscription:
    @strawberry.subscription(
        description="Each change of a prompt of the caller's organization. Needs "
        "prompts:read or prompts:write."
    )
    async def prompt_changed(
        self,
        info: Info,
        id: Annotated[strawberry.ID | None, strawberry.argument(description=ID_ARGUMENT)] = None,
    ) -> AsyncGenerator[PromptChange, None]:
        ctx = info.context

        async def read(principal: Principal, prompt_id: str) -> Any:
            row = await prompts.get_prompt(db=ctx.db, principal=principal, raw_id=prompt_id)
            return Prompt.from_row(row, ctx.prompts_url)

        async for entry, prompt in _entries(ctx, PROMPT, id, read):
            yield PromptChange(entry=entry, prompt=prompt)

    @strawberry.subscription(
        description="Each change of a guardrail pool of the caller's organization. Needs "
        "org:admin:read or org:admin:write."
    )
    async def guardrail_pool_changed(
        self,
        info: Info,
        id: Annotated[strawberry.ID | None, strawberry.argument(description=ID_ARGUMENT)] = None,
    ) -> AsyncGenerator[GuardrailPoolChange, None]:
        ctx = info.context

        async def read(principal: Principal, pool_id: str) -> Any:
            row = await guardrail_pools.get_pool(db=ctx.db, principal=principal, raw_id=pool_id)
            return GuardrailPool.from_row(row)

        async for entry, pool in _entries(ctx, GUARDRAIL_POOL, id, read):
            yield GuardrailPoolChange(entry=entry, guardrail_pool=pool)
