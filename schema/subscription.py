"""The Subscription root: promptChanged and guardrailPoolChanged, over graphql-transport-ws.

A subscription starts with the caller's read scope for the kind, in the caller's
organization only (the feed filters by organization before anything is queued). Each
change reaches the subscriber once its credential is re-checked and still holds, with the
kind's read scope in the change's organization: an expired or revoked credential ends the
stream, and so does a quiet stretch of `recheck_seconds` after which the credential no
longer holds. The change itself is read once per process (the feed's Delivery) and made
into its GraphQL object once, for every subscriber that receives it: the object's fields
read nothing of a subscriber's own, but `history`, which reads with the subscriber's.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Annotated, TypeVar

import strawberry
from graphql import GraphQLError

from resolvers import errors as domain
from resolvers import ids
from resolvers.access import authorize
from resolvers.history import GUARDRAIL_POOL, PROMPT, READ_SCOPES, ChangedState
from resolvers.principal import Principal
from schema.changes import ChangeFeed, Delivery, SubscriberFellBehind, TooManySubscriptions
from schema.context import Context
from schema.guardrail_pool import GuardrailPool
from schema.history import HistoryEntry
from schema.prompt import Prompt
from schema.shared_events import SharedResults

Info = strawberry.Info[Context, None]
FELL_BEHIND = (4008, "subscriber fell behind")  # the close code docs/history.md documents
ID_ARGUMENT = "Only this entity's changes; null: every one of the kind the caller may read."
T = TypeVar("T")


@strawberry.type(description="A prompt changed: the history entry, and the prompt after it.")
class PromptChange:
    entry: HistoryEntry = strawberry.field(description="What changed, who changed it, when.")
    prompt: Prompt = strawberry.field(description="The prompt as it is after the change.")
    # Its results by selection, for every subscriber of the process (schema/shared_events.py)
    shared_results: strawberry.Private[SharedResults] = dataclasses.field(
        default_factory=SharedResults
    )


@strawberry.type(description="A pool changed: the history entry, and the pool after it.")
class GuardrailPoolChange:
    entry: HistoryEntry = strawberry.field(description="What changed, who changed it, when.")
    guardrail_pool: GuardrailPool = strawberry.field(
        description="The pool as it is after the change."
    )
    shared_results: strawberry.Private[SharedResults] = dataclasses.field(
        default_factory=SharedResults
    )


class StreamEnded(GraphQLError):
    def __init__(self, message: str, code: str) -> None:
        super().__init__(message, extensions={"code": code})


async def _changes(ctx: Context, kind: str, entity_id: str | None) -> AsyncIterator[Delivery]:
    """The kind's changes the caller may see, each once the credential holds now."""
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
                    delivery = await asyncio.wait_for(anext(waiting), feed.recheck_seconds)
                except TimeoutError:
                    _checked(await ctx.authenticate(), kind, ctx)
                    continue
                caller = _checked(await ctx.authenticate(), kind, ctx)
                if caller.org_id == delivery.change.org_id:  # as queued: the org subscribed
                    yield delivery
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


async def _made(
    ctx: Context, kind: str, entity_id: str | None, make: Callable[[ChangedState], T]
) -> AsyncIterator[T]:
    """Each change the caller may see, made once per change in this process (by the first
    of its subscribers to reach it); none for a change without an entry to deliver."""
    key = (kind, ctx.prompts_url)
    async for delivery in _changes(ctx, kind, entity_id):
        if key not in delivery.made:
            state = await delivery.state()  # every subscriber of the change awaits the read
            if key not in delivery.made:  # the first one back makes it
                delivery.made[key] = None if state is None else make(state)
        made = delivery.made[key]
        if made is not None:  # pruned already, or the entity is gone
            yield made


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

        def make(state: ChangedState) -> PromptChange:
            return PromptChange(
                entry=HistoryEntry.from_row(state.entry),
                prompt=Prompt.from_row(state.entity, ctx.prompts_url),
            )

        async for change in _made(ctx, PROMPT, id, make):
            yield change

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

        def make(state: ChangedState) -> GuardrailPoolChange:
            return GuardrailPoolChange(
                entry=HistoryEntry.from_row(state.entry),
                guardrail_pool=GuardrailPool.from_row(state.entity),
            )

        async for change in _made(ctx, GUARDRAIL_POOL, id, make):
            yield change
