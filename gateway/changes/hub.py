"""One process's subscribers, and the changes published to them.

A change reaches only the subscribers of its own organization and kind (and id, when the
subscription names one): tenant filtering happens here, before anything is queued. What a
change delivers (its entry, and the entity as its write left it) is read once per process
and shared by every subscriber it is queued for: a Delivery, read by the hub's one reader,
which takes every change waiting at once and reads each entity among them once. Each
subscriber has a bounded queue: one that falls behind is marked, and its stream ends with
SubscriberFellBehind (the WebSocket closes with FELL_BEHIND_CLOSE_CODE) instead of
buffering without bound.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from contextlib import asynccontextmanager, suppress
from types import WrapperDescriptorType
from typing import Any

from db.history import Change
from resolvers.history import ChangedState
from schema.changes import SubscriberFellBehind, TooManySubscriptions

# What the changes of one entity deliver, by version (resolvers/history.py changed_states):
# (organization, kind, entity id, versions)
Read = Callable[[uuid.UUID, str, str, Collection[int]], Awaitable[Mapping[int, ChangedState]]]
log = logging.getLogger("patchbay.changes")

FELL_BEHIND_CLOSE_CODE = 4008  # documented in docs/history.md


class Delivery:
    """One change, as every subscriber of this process that receives it shares it."""

    __slots__ = ("_failed", "_read", "_state", "change", "made")

    def __init__(self, change: Change) -> None:
        self.change = change
        self.made: dict[Any, Any] = {}  # what the schema makes of it once (schema/subscription.py)
        self._read = asyncio.Event()
        self._state: ChangedState | None = None
        self._failed: BaseException | None = None

    async def state(self) -> ChangedState | None:
        """The entry and the entity; None when there is none (pruned, or the entity gone).
        The read's failure, if it failed (the database down), for each subscriber alike."""
        await self._read.wait()
        if self._failed is not None:
            raise _own_copy(self._failed)
        return self._state

    @property
    def settled(self) -> bool:
        return self._read.is_set()

    def settle(self, state: ChangedState | None, failed: BaseException | None = None) -> None:
        self._state, self._failed = state, failed
        self._read.set()


def _own_copy(error: BaseException) -> BaseException:
    """The read's failure for one stream: its type, message, attributes, cause and traceback,
    in an exception of its own (one raised in every stream would chain their tracebacks).
    Not copy.copy: it calls the class with the exception's args, which are not its
    constructor's for many (DatabaseUnavailable's message became "str")."""
    try:
        own = _rebuilt(error)
    except Exception:  # a class that cannot be rebuilt from its parts: its message, wrapped
        own = ChangeReadFailed(f"{type(error).__name__}: {error}")
        own.__cause__ = error
        return own
    own.__dict__.update(error.__dict__)
    own.__cause__, own.__context__ = error.__cause__, error.__context__
    own.__suppress_context__ = error.__suppress_context__
    return own.with_traceback(error.__traceback__)


def _rebuilt(error: BaseException) -> BaseException:
    """A new exception of the error's type: as pickle would make it (OSError keeps its
    filename), else from its args without the class's own __init__."""
    kind = type(error)
    with suppress(Exception):
        reduced: Any = error.__reduce_ex__(4)  # (callable, args, state) for exceptions
        own = reduced[0](*reduced[1])
        if type(own) is kind and own.args == error.args:
            return own
    own = kind.__new__(kind, *error.args)  # args as they are, without a class's own __init__
    if isinstance(kind.__init__, WrapperDescriptorType):  # a built-in's: fields from its args
        kind.__init__(own, *error.args)
    return own


class ChangeReadFailed(Exception):
    """A change's shared read failed with an exception that could not be copied per stream."""


class Subscriber:
    def __init__(self, org_id: uuid.UUID, kind: str, entity_id: str | None, limit: int) -> None:
        self.org_id = org_id
        self.kind = kind
        self.entity_id = entity_id
        self.queue: asyncio.Queue[Delivery] = asyncio.Queue(limit)
        self.behind = False

    def wants(self, change: Change) -> bool:
        return change.kind == self.kind and self.entity_id in (None, change.entity_id)

    def offer(self, delivery: Delivery) -> bool:
        """Whether the delivery was queued."""
        if self.behind:
            return False
        try:
            self.queue.put_nowait(delivery)
        except asyncio.QueueFull:
            self.behind = True  # its stream ends at its next read
            return False
        return True

    def __aiter__(self) -> Subscriber:
        return self

    async def __anext__(self) -> Delivery:
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
        read: Read,
        start: Callable[[Hub], Awaitable[None]] | None = None,
    ) -> None:
        self.recheck_seconds = recheck_seconds  # a quiet subscription's credential re-check
        self.pending_limit = pending_limit  # changes queued per subscriber at most
        self.per_principal = per_principal  # open subscriptions per principal at most
        self._read = read
        self._start = start  # the PostgreSQL listener, started with the first subscriber
        self._started = False
        self._starting = asyncio.Lock()
        self._by_org: dict[uuid.UUID, set[Subscriber]] = {}
        self._per_principal: dict[tuple[uuid.UUID, str], int] = {}
        self._unread: list[Delivery] = []  # published, waiting for the reader
        self._reader: asyncio.Task[None] | None = None

    def publish(self, change: Change) -> None:
        delivery = None
        queued = False
        for subscriber in tuple(self._by_org.get(change.org_id, ())):
            if subscriber.wants(change):
                delivery = delivery or Delivery(change)
                queued = subscriber.offer(delivery) or queued
        if delivery is None or not queued:  # nobody can take it: nothing to read, or keep
            return
        # Only what some queue holds waits here: a subscriber that fell behind (or a slow
        # read) cannot make it grow past the queues' bound.
        self._unread.append(delivery)
        if self._reader is None or self._reader.done():
            # a context of its own: not the request that wrote (SQLite publishes in it),
            # whose request id and trace the process's reads are no part of
            self._reader = asyncio.create_task(self._read_all(), context=contextvars.Context())

    async def _read_all(self) -> None:
        """Reads what every delivery waiting delivers, one read per entity among them, in
        the order they were published; until none waits."""
        waiting: list[Delivery] = []
        try:
            while self._unread:
                waiting, self._unread = self._unread, []
                by_entity: dict[tuple[uuid.UUID, str, str], list[Delivery]] = {}
                for delivery in waiting:
                    change = delivery.change
                    entity = (change.org_id, change.kind, change.entity_id)
                    by_entity.setdefault(entity, []).append(delivery)
                for entity, deliveries in by_entity.items():
                    await self._read_one(*entity, deliveries)
        finally:  # cancelled (the process stops): nobody waits for ever
            for delivery in (*waiting, *self._unread):
                if not delivery.settled:
                    delivery.settle(None)
            self._unread = []

    async def _read_one(
        self, org_id: uuid.UUID, kind: str, entity_id: str, deliveries: list[Delivery]
    ) -> None:
        versions = {delivery.change.version for delivery in deliveries}
        try:
            states = await self._read(org_id, kind, entity_id, versions)
        except Exception as error:  # each subscriber's stream ends with it
            log.warning("reading a change failed: %r", error)
            for delivery in deliveries:
                delivery.settle(None, error)
            return
        for delivery in deliveries:
            delivery.settle(states.get(delivery.change.version))

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
