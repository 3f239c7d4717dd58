"""What both bulk update mutations share: the error policy and the per-item answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import strawberry

from resolvers.bulk_update import ErrorPolicy, ItemOutcome
from schema.context import Context
from schema.errors import ErrorMember, error_member

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
