"""Charging a request's cost to its client's bucket, and giving back what it did not use."""

from __future__ import annotations

import asyncio
import math
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from db.errors import DatabaseUnavailable
from gateway.throttle.buckets import LimiterUnavailable, Verdict
from gateway.throttle.limits import Limit, client_key
from resolvers.principal import Principal

POLICY_NAME = "cost"  # the policy's name in the RateLimit and RateLimit-Policy headers
OVERRIDE_SECONDS = 30.0  # how long an organization's limits are trusted before re-reading
MAX_REMEMBERED_REFUSALS = 10_000


class Buckets(Protocol):
    async def take(
        self, key: str, cost: float, limit: Limit, *, drain: bool = False
    ) -> Verdict: ...

    # The verdict when it needs no round trip (None: ask `take`)
    def take_at_once(self, key: str, cost: float, limit: Limit) -> Verdict | None: ...

    # The points left when `cost` is taken at once; None, taking nothing: ask take_at_once
    def take_admitted(self, key: str, cost: float, limit: Limit) -> float | None: ...

    async def give_back(self, key: str, points: float, limit: Limit) -> float: ...


@dataclass(slots=True)
class Charge:
    """One request's charge: what was taken, and the bucket it came from."""

    key: str
    limit: Limit
    taken: float
    available: float  # points left after the take
    admitted: bool
    retry_after: float = 0.0
    unavailable: bool = False  # Redis could not be asked (fail-open admitted it anyway)

    def headers(self) -> tuple[tuple[bytes, bytes], ...]:
        """IETF RateLimit-Policy / RateLimit (draft-ietf-httpapi-ratelimit-headers):
        the quota, the window it refills in, what is left and when the bucket is full."""
        found = bucket_headers(self.limit, self.available)
        if not self.admitted and math.isfinite(self.retry_after):  # inf: it can never run
            return (*found, (b"retry-after", b"%d" % max(1, math.ceil(self.retry_after))))
        return found


Header = tuple[bytes, bytes]
_STATE_HEADER = b'"' + POLICY_NAME.encode() + b'";r=%d;t=%d'


# Kept by bucket state: a client under its limit finds its bucket full before each request,
# so in the same state after it, request after request.
@lru_cache(maxsize=4096)
def bucket_headers(limit: Limit, available: float) -> tuple[Header, Header]:
    left = math.floor(available) if available > 0 else 0
    full_in = (
        math.ceil((limit.maximum - available) / limit.restore_rate)
        if limit.restore_rate > 0 and available < limit.maximum
        else 0
    )
    window = math.ceil(limit.seconds_to_fill)
    policy = b'"%s";q=%d;w=%d' % (POLICY_NAME.encode(), math.floor(limit.maximum), window)
    return (b"ratelimit-policy", policy), (b"ratelimit", _STATE_HEADER % (left, full_in))


class Throttle:
    def __init__(
        self,
        buckets: Buckets,
        *,
        default: Limit,
        anonymous: Limit,
        overrides: Callable[[uuid.UUID], Awaitable[Limit | None]],
        fail_open: bool,
        hold_seconds: float = 0.0,
    ) -> None:
        self.buckets = buckets
        self.default = default
        self.anonymous = anonymous
        self.overrides = overrides
        self.fail_open = fail_open
        self.hold_seconds = hold_seconds
        # by the organization's UUID as an int: a UUID hashes in a Python call
        self._by_org: dict[int, tuple[Limit, float]] = {}
        # key → (until, the refusal); empty while no client is out of points. Never replaced:
        # the GraphQL view reads its emptiness directly, a call less per request
        self.refused: dict[str, tuple[float, Charge]] = {}

    async def hold(self, charge: Charge) -> None:
        """A throttled request's answer waits until its points are back, at most
        `hold_seconds`: a client that ignores Retry-After on a connection is made to wait
        on it, instead of taking the event loop with refusal after refusal."""
        if self.hold_seconds > 0 and not charge.admitted and not charge.unavailable:
            # Up to half as long again, at random: a client's refused connections all wait
            # for the same refill, and would come back at one moment, to be served back to
            # back beside everyone else's requests (a spike in their latency) — spread out,
            # each arrives alone.
            spread = charge.retry_after * (1 + random.random() / 2)  # noqa: S311 (no secret)
            await asyncio.sleep(min(spread, self.hold_seconds))

    @property
    def refuses_some(self) -> bool:
        """Some client was refused moments ago (`refusing` may answer for it)."""
        return bool(self.refused)

    def refusing(self, principal: Principal | None, address: str | None) -> Charge | None:
        """The refusal a client had moments ago, while it cannot have enough points again:
        answered without parsing its document or asking Redis."""
        if not self.refused:  # the common case: no client is out of points
            return None
        key = client_key(principal, address)
        refused = self.refused.get(key)
        if refused is None:
            return None
        until, charge = refused
        wait = until - time.monotonic()
        if wait <= 0:
            del self.refused[key]
            return None
        return Charge(key, charge.limit, 0.0, charge.available, False, wait)

    async def charge(
        self,
        principal: Principal | None,
        address: str | None,
        cost: float,
        *,
        drain: bool = False,
    ) -> Charge:
        """Takes `cost` points, or refuses. `drain`: a cost beyond the whole bucket (a
        document too long to parse for this client) empties the bucket as it is refused."""
        key = client_key(principal, address)
        limit = await self.limit_of(principal)
        try:
            verdict = await self.buckets.take(key, cost, limit, drain=drain)
        except LimiterUnavailable:
            return Charge(
                key, limit, 0.0, limit.maximum, self.fail_open, retry_after=1.0, unavailable=True
            )
        return self._charged(key, limit, cost, verdict)

    def charge_at_once(
        self, principal: Principal | None, address: str | None, cost: float
    ) -> Charge | None:
        """`charge`, when it needs no read of the client's limit nor a round trip (most
        requests): None when it does."""
        limit = self._known_limit(principal)
        if limit is None:
            return None
        key = client_key(principal, address)
        available = self.buckets.take_admitted(key, cost, limit)
        if available is not None:  # the common case, without a Verdict
            return Charge(key, limit, cost, available, True)
        verdict = self.buckets.take_at_once(key, cost, limit)
        return self._charged(key, limit, cost, verdict) if verdict is not None else None

    def _charged(self, key: str, limit: Limit, cost: float, verdict: Verdict) -> Charge:
        if not verdict.admitted:
            refused = Charge(key, limit, 0.0, verdict.available, False, verdict.retry_after)
            if verdict.available < 1 and limit.restore_rate > 0:  # empty: no request can pass
                self._remember_refusal(key, refused, (1 - verdict.available) / limit.restore_rate)
            return refused
        return Charge(key, limit, cost, verdict.available, True)

    async def give_back(self, charge: Charge, points: float) -> None:
        """Gives back points charged beyond what the operation used."""
        if not charge.admitted or charge.unavailable or points <= 0:
            return
        try:
            charge.available = await self.buckets.give_back(charge.key, points, charge.limit)
        except LimiterUnavailable:
            return  # the points stay spent: errs towards the other clients

    def _remember_refusal(self, key: str, charge: Charge, seconds: float) -> None:
        self.refused[key] = (time.monotonic() + seconds, charge)
        if len(self.refused) > MAX_REMEMBERED_REFUSALS:
            self.refused.pop(next(iter(self.refused)))

    def _known_limit(self, principal: Principal | None) -> Limit | None:
        """The client's limit without a read (None: it must be read)."""
        if principal is None:
            return self.anonymous
        kept = self._by_org.get(principal.org_id.int)
        return kept[0] if kept is not None and kept[1] > time.monotonic() else None

    async def limit_of(self, principal: Principal | None) -> Limit:
        known = self._known_limit(principal)
        if known is not None:
            return known
        assert principal is not None  # the anonymous limit is always known
        kept = self._by_org.get(principal.org_id.int)
        now = time.monotonic()
        try:
            limit = await self.overrides(principal.org_id) or self.default
        except DatabaseUnavailable:  # the last limit known, or the default, until it is back
            return kept[0] if kept is not None else self.default
        self._by_org[principal.org_id.int] = (limit, now + OVERRIDE_SECONDS)
        return limit
