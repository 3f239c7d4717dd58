"""updatePrompts and updateGuardrailPools: many single updates in one transaction.

Each item is exactly the single update it stands for (the same rules, audit fields and
version), applied in order inside one unit of work (db/unit.py): the same id twice is two
writes. A failed item wrote nothing (its statement missed, or was rolled back to its
savepoint), so the policy only decides whether the others commit.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from db.database import Database
from db.errors import Contention
from resolvers.access import authorize
from resolvers.errors import DomainError, FieldCode, FieldIssue, ValidationFailed
from resolvers.principal import Principal

MAX_ITEMS = 100
ATTEMPTS = 3  # a batch the database rolled back to break a deadlock runs again
P = TypeVar("P")  # a patch
R = TypeVar("R")  # a row


class ErrorPolicy(StrEnum):
    REJECT_EVERYTHING = "REJECT_EVERYTHING"  # one failed item: nothing is written
    REJECT_FAILED_ROWS = "REJECT_FAILED_ROWS"  # failed items are skipped, the others written


@dataclass(frozen=True, slots=True)
class ItemOutcome(Generic[R]):
    row: R | None  # the object after the write (or as it would be), when the item succeeded
    error: DomainError | None
    written: bool  # stored: not a dry run, and not rolled back with a rejected batch


UpdateOne = Callable[..., Awaitable[R]]


async def update_many(
    *,
    db: Database,
    principal: Principal | None,
    scope: str,
    update_one: UpdateOne[R],
    items: Sequence[tuple[str, P]],
    policy: ErrorPolicy,
    dry_run: bool,
) -> list[ItemOutcome[R]]:
    """Outcomes in the items' order. The scope is checked once for the whole batch."""
    db.note_mutation(dry_run=dry_run)
    authorize(principal, scope)
    if len(items) > MAX_ITEMS:
        raise ValidationFailed(
            [FieldIssue("items", f"at most {MAX_ITEMS} items per request", FieldCode.TOO_MANY)]
        )
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await _update_all(db, principal, update_one, items, policy, dry_run)
        except Contention:
            # Rolled back whole. Inside a caller's transaction (an idempotent request) that
            # transaction is lost too: SERVICE_UNAVAILABLE, and the caller retries.
            if attempt == ATTEMPTS or db.current_unit() is not None:
                raise
    raise AssertionError("unreachable")


async def _update_all(
    db: Database,
    principal: Principal | None,
    update_one: UpdateOne[R],
    items: Sequence[tuple[str, P]],
    policy: ErrorPolicy,
    dry_run: bool,
) -> list[ItemOutcome[R]]:
    found: list[tuple[R | None, DomainError | None]] = []
    async with db.unit() as outcome:
        for raw_id, patch in items:
            try:
                # never a dry run itself: a dry batch sees its earlier items, as a real one does
                row = await update_one(db=db, principal=principal, raw_id=raw_id, patch=patch)
            except DomainError as error:
                found.append((None, error))
            else:
                found.append((row, None))
        failed = any(error is not None for _, error in found)
        if dry_run or (failed and policy is ErrorPolicy.REJECT_EVERYTHING):
            outcome.discard()
    return [
        ItemOutcome(row, error, written=error is None and not outcome.discarded)
        for row, error in found
    ]
