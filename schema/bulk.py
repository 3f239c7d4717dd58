"""What both bulk update mutations share: the error policy and the per-item answers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import strawberry

from resolvers.bulk_update import ErrorPolicy, ItemOutcome, UpdateOne, update_many
from resolvers.patches import Patch
from schema.context import Context
from schema.errors import ErrorMember, answer, error_member
from schema.inputs import patch_from_input

BulkErrorPolicy = strawberry.enum(
    ErrorPolicy,
    name="BulkErrorPolicy",
    description="What a bulk update does when some items fail.",
)
ITEMS = "The updates, applied in this order (the same id twice is two updates); at most 100."
POLICY = (
    "REJECT_EVERYTHING (default): one transaction, nothing is written if any item fails. "
    "REJECT_FAILED_ROWS: failed items are skipped and the others written."
)

R = TypeVar("R")
S = TypeVar("S")


class Item(Protocol):
    id: strawberry.ID
    input: Any


async def bulk_answer(
    ctx: Context,
    *,
    items: Sequence[Item],
    error_policy: ErrorPolicy | None,
    dry_run: bool | None,
    scope: str,
    update_one: UpdateOne[R],
    patch: type[Patch],
    success: Callable[[R, bool], S],
    payload: Callable[[list[S | ErrorMember], int], object],
) -> object:
    """A bulk mutation's body: the payload of per-item results, or the whole request's
    failure (update_many raises only Unauthorized, Forbidden and ValidationFailed)."""
    work = update_many(
        db=ctx.db,
        principal=await ctx.principal(),
        scope=scope,
        update_one=update_one,
        items=[(item.id, patch_from_input(item.input, patch)) for item in items],
        policy=error_policy or ErrorPolicy.REJECT_EVERYTHING,  # null: the default
        dry_run=bool(dry_run),
    )
    return await answer(
        ctx,
        work,
        lambda outcomes: payload(
            item_results(ctx, outcomes, success), sum(outcome.written for outcome in outcomes)
        ),
    )


def item_results(
    ctx: Context, outcomes: list[ItemOutcome[R]], success: Callable[[R, bool], S]
) -> list[S | ErrorMember]:
    """One union member per item, in input order: what a single update would answer."""
    results: list[S | ErrorMember] = []
    for outcome in outcomes:
        if outcome.error is not None:
            results.append(error_member(outcome.error, ctx.request_id))
        else:
            assert outcome.row is not None
            results.append(success(outcome.row, outcome.written))
    return results
