"""What subscriptions need from the process that serves them: a feed of committed changes
(gateway/changes/ provides it) and the errors that end a stream."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from db.history import Change


class SubscriberFellBehind(Exception):
    """The subscriber's queue filled up: its stream ends rather than buffer without bound."""


class TooManySubscriptions(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} open subscriptions per principal")


class ChangeFeed(Protocol):
    # How often a quiet subscription re-checks its credential (expired, revoked).
    recheck_seconds: float

    def subscribe(
        self, *, org_id: uuid.UUID, subject: str, kind: str, entity_id: str | None
    ) -> AbstractAsyncContextManager[AsyncIterator[Change]]: ...
