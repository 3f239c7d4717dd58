"""One process's subscribers, and the changes published to them.

A change reaches only the subscribers of its own organization and kind (and id, when the
subscription names one): tenant filtering happens here, before anything is queued. Each
subscriber has a bounded queue: one that falls behind is marked, and its stream ends with
SubscriberFellBehind (the WebSocket closes with FELL_BEHIND_CLOSE_CODE) instead of
buffering without bound.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from db.history import Change
from schema.changes import SubscriberFellBehind, TooManySubscriptions

FELL_BEHIND_CLOSE_CODE = 4008  # documented in docs/history.md


class Subscriber:
    def __init__(self, org_id: uuid.UUID, kind: str, entity_id: str | None, limit: int) -> None:
        self.org_id = org_id
        self.kind = kind
        self.entity_id = entity_id
        self.queue: asyncio.Queue[Change] = asyncio.Queue(limit)
        self.behind = False

    def wants(self, change: Change) -> bool:
        return change.kind == self.kind and self.entity_id in (None, change.entity_id)

    def offer(self, change: Change) -> None:
        if self.behind:
            return
        try:
            self.queue.put_nowait(change)
        except asyncio.QueueFull:
            self.behind = True  # its stream ends at its next read

    def __aiter__(self) -> Subscriber:
        return self

    async def __anext__(self) -> Change:
        if self.behind:
            raise SubscriberFellBehind()
        return await self.queue.get()


class Hub:
    def __init__(
        self,
        *,
        pending_limit: int,
        per_principal: int,
        recheck_seconds: float,
        start: Callable[[Hub], Awaitable[None]] | None = None,
    ) -> None:
        self.recheck_seconds = recheck_seconds  # a quiet subscription's credential re-check
        self.pending_limit = pending_limit  # changes queued per subscriber at most
        self.per_principal = per_principal  # open subscriptions per principal at most
        self._start = start  # the PostgreSQL listener, started with the first subscriber
        self._started = False
        self._starting = asyncio.Lock()
        self._by_org: dict[uuid.UUID, set[Subscriber]] = {}
        self._per_principal: dict[tuple[uuid.UUID, str], int] = {}

    def publish(self, change: Change) -> None:
        for subscriber in tuple(self._by_org.get(change.org_id, ())):
            if subscriber.wants(change):
                subscriber.offer(change)

    @property
    def subscribers(self) -> int:
        return sum(len(subscribers) for subscribers in self._by_org.values())

    @asynccontextmanager
    async def subscribe(
        self, *, org_id: uuid.UUID, subject: str, kind: str, entity_id: str | None
    ) -> AsyncIterator[Subscriber]:
        principal = (org_id, subject)
        if self._per_principal.get(principal, 0) >= self.per_principal:
            raise TooManySubscriptions(self.per_principal)
        # Reserved before the first await: concurrent first subscribes, all waiting for the
        # listener to start, would otherwise each pass the check above.
        self._per_principal[principal] = self._per_principal.get(principal, 0) + 1
        subscriber = Subscriber(org_id, kind, entity_id, self.pending_limit)
        try:
            await self._ensure_started()
            self._by_org.setdefault(org_id, set()).add(subscriber)
            yield subscriber
        finally:
            subscribers = self._by_org.get(org_id)
            if subscribers is not None:
                subscribers.discard(subscriber)
                if not subscribers:
                    del self._by_org[org_id]
            self._per_principal[principal] -= 1
            if not self._per_principal[principal]:
                del self._per_principal[principal]

    async def _ensure_started(self) -> None:
        if self._started or self._start is None:
            return
        async with self._starting:
            if not self._started:
                await self._start(self)
                self._started = True
