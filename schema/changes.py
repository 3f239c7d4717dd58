"""What subscriptions need from the process that serves them: a feed of committed changes,
each read once for all its subscribers (gateway/changes/ provides it), and the errors that
end a stream."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from db.history import Change
from resolvers.history import ChangedState


class SubscriberFellBehind(Exception):
    """The subscriber's queue filled up: its stream ends rather than buffer without bound."""


class TooManySubscriptions(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} open subscriptions per principal")


class Delivery(Protocol):
    """A change, shared by every subscriber of the process it is queued for."""

    change: Change
    # What the schema makes of it, once for them all (keyed as the schema likes)
    made: dict[Any, Any]

    async def state(self) -> ChangedState | None:
        """Its entry and the entity as its write left it; None: none to deliver."""
        ...


class ChangeFeed(Protocol):
    # How often a quiet subscription re-checks its credential (expired, revoked).
    recheck_seconds: float

    def subscribe(
        self, *, org_id: uuid.UUID, subject: str, kind: str, entity_id: str | None
    ) -> AbstractAsyncContextManager[AsyncIterator[Delivery]]: ...
