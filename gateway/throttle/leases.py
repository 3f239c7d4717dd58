"""Leases: slices of a client's shared (Redis) bucket that one process spends without asking.

A take that the process's lease cannot cover asks Redis, in the same one round trip, for the
rest of the cost plus a slice (a fraction of the client's maximum), or the rest alone when
the bucket cannot give the slice too; later requests are charged to the slice in process,
and refunds go into it. Every point spent here was taken from Redis, so points are never
made; but while a lease is held, Redis refills the bucket as if those points were spent,
so a process may admit up to one slice beyond what a single bucket would, per client.

A lease holds at most one slice (refunds beyond go back to Redis), leases are kept for the
most recently used clients only, and a lease left unused for `idle_seconds` is given back
to Redis by `keep_returning` (run with the app's lifespan), so that a client's budget
follows it to another replica. A lease belongs to the (client key, limit) it was taken
under: an organization's new limit starts a new lease, and the old one goes back when idle.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from contextlib import suppress
from dataclasses import dataclass, field

from gateway.throttle.buckets import LimiterUnavailable, Verdict
from gateway.throttle.limits import Limit
from gateway.throttle.redis_buckets import RedisBuckets

MAX_LEASES = 10_000  # clients whose leases a process keeps; the least recently used go back


@dataclass(slots=True)
class Lease:
    points: float = 0.0  # spendable here: taken from Redis, not yet spent
    shared: float = 0.0  # the Redis bucket's points after the last round trip
    at: float = field(default_factory=time.monotonic)  # when that was, and the last use
    asking: int = 0  # takes of this lease in flight to Redis


class LeasedBuckets:
    def __init__(
        self,
        shared: RedisBuckets,
        *,
        fraction: float,
        idle_seconds: float,
        max_leases: int = MAX_LEASES,
    ) -> None:
        self.shared = shared
        self.fraction = fraction
        self.idle_seconds = idle_seconds
        self.max_leases = max_leases
        self._leases: OrderedDict[tuple[str, Limit], Lease] = OrderedDict()
        self._evicted: list[tuple[str, Limit, float]] = []  # to go back with the next sweep

    async def take(self, key: str, cost: float, limit: Limit, *, drain: bool = False) -> Verdict:
        lease = self._lease(key, limit)
        if cost <= lease.points:
            lease.points -= cost
            return Verdict(True, self._view(lease, limit), 0.0)
        if cost > limit.maximum:  # never admitted; the lease does not lower what is asked
            verdict = await self.shared.take(key, cost, limit, drain=drain)
            if drain:
                lease.points = 0.0  # the whole bucket empties, this part of it too
            return verdict
        return await self._ask(key, lease, cost, limit, drain=drain)

    async def _ask(
        self, key: str, lease: Lease, cost: float, limit: Limit, *, drain: bool
    ) -> Verdict:
        held, lease.points = lease.points, 0.0  # reserved for this request while it asks
        need = cost - held
        # One slice per lease at a time: requests that miss together ask for their need only
        extra = self.fraction * limit.maximum if lease.asking == 0 else 0.0
        lease.asking += 1
        try:
            verdict, taken = await self.shared.take_more(key, need, extra, limit, drain=drain)
        except LimiterUnavailable:
            lease.points += held  # Redis took nothing that is known: the lease is still ours
            raise
        finally:
            lease.asking -= 1
        lease.shared, lease.at = verdict.available, time.monotonic()
        if not verdict.admitted:
            lease.points += held
            return Verdict(False, self._view(lease, limit), verdict.retry_after)
        lease.points += taken - need
        await self._keep_bounded(key, lease, limit)
        return Verdict(True, self._view(lease, limit), 0.0)

    async def give_back(self, key: str, points: float, limit: Limit) -> float:
        lease = self._lease(key, limit)
        lease.points += points
        await self._keep_bounded(key, lease, limit)
        return self._view(lease, limit)

    async def _keep_bounded(self, key: str, lease: Lease, limit: Limit) -> None:
        beyond = lease.points - self.fraction * limit.maximum
        if beyond > 0:
            lease.points -= beyond
            try:
                lease.shared = await self.shared.give_back(key, beyond, limit)
            except LimiterUnavailable:
                return  # the points stay spent: errs towards the other clients
            lease.at = time.monotonic()

    def _lease(self, key: str, limit: Limit) -> Lease:
        lease = self._leases.get((key, limit))
        if lease is None:
            lease = self._leases[key, limit] = Lease(shared=limit.maximum)
            if len(self._leases) > self.max_leases:
                (old_key, old_limit), old = self._leases.popitem(last=False)
                if old.points > 0:
                    self._evicted.append((old_key, old_limit, old.points))
        else:
            self._leases.move_to_end((key, limit))
        return lease

    def _view(self, lease: Lease, limit: Limit) -> float:
        """This process's view of the client's points: Redis's at the last round trip,
        refilled since, plus the lease (other processes' leases are not seen)."""
        now = time.monotonic()
        shared = min(limit.maximum, lease.shared + (now - lease.at) * limit.restore_rate)
        lease.at = now
        lease.shared = shared
        return min(limit.maximum, shared + lease.points)

    async def keep_returning(self) -> None:
        """Gives idle leases back to Redis, until cancelled (the app's lifespan runs it)."""
        while True:
            await asyncio.sleep(max(0.05, self.idle_seconds / 2))
            await self.return_idle(time.monotonic() - self.idle_seconds)

    async def return_idle(self, before: float) -> None:
        """Gives back every lease last used before `before` (all of them: +inf)."""
        going = self._evicted
        self._evicted = []
        while self._leases:
            (key, limit), lease = next(iter(self._leases.items()))
            if lease.at >= before or lease.asking:
                break
            del self._leases[key, limit]
            if lease.points > 0:
                going.append((key, limit, lease.points))
        for key, limit, points in going:
            with suppress(LimiterUnavailable):  # lost: errs towards the other clients
                await self.shared.give_back(key, points, limit)
