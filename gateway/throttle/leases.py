"""Leases: slices of a client's shared (Redis) bucket that one process spends without asking.

A take that the process's lease cannot cover asks Redis, in the same one round trip, for the
rest of the cost plus a slice (a fraction of the client's maximum), or the rest alone when
the bucket cannot give the slice too; later requests are charged to the slice in process,
and refunds go into it. Every point spent here was taken from Redis, so points are never
made; but while a lease is held, Redis refills the bucket as if those points were spent,
so a process may admit up to one slice beyond what a single bucket would, per client.

A lease holds at most one slice (refunds beyond go back to Redis with its next round trip,
or at once when they are more than a slice), leases are kept for the most recently used
clients only, and a lease left unused for `idle_seconds` is given back to Redis by
`keep_returning` (run with the app's lifespan), so that a client's budget follows it to
another replica. A lease belongs to the (client key, limit) it was taken
under: an organization's new limit starts a new lease, and the old one goes back when idle.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from gateway.throttle.buckets import LimiterUnavailable, Verdict
from gateway.throttle.limits import Limit
from gateway.throttle.redis_buckets import RedisBuckets

MAX_LEASES = 10_000  # clients whose leases a process keeps; the least recently used go back


@dataclass(slots=True)
class Waiter:
    cost: float
    verdict: asyncio.Future[Verdict]


@dataclass(slots=True)
class Lease:
    points: float = 0.0  # spendable here: taken from Redis, not yet spent
    owed: float = 0.0  # refunds beyond a slice, for Redis with the next round trip
    shared: float = 0.0  # the Redis bucket's points after the last round trip
    at: float = field(default_factory=time.monotonic)  # when that was, and the last use
    waiting: list[Waiter] = field(default_factory=list)  # for points from Redis, in order
    asking: bool = False  # a task is asking Redis for the waiting requests


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
        self._asking: set[asyncio.Task[None]] = set()  # the loop keeps weak references only

    def take_at_once(self, key: str, cost: float, limit: Limit) -> Verdict | None:
        """Admitted from the lease, when it covers the cost and no request waits before."""
        available = self.take_admitted(key, cost, limit)
        return None if available is None else Verdict(True, available, 0.0)

    def take_admitted(self, key: str, cost: float, limit: Limit) -> float | None:
        """take_at_once's points left, without a Verdict; None when it would not admit."""
        lease = self._lease(key, limit)
        if cost <= lease.points and not lease.waiting:
            lease.points -= cost
            return self._view(lease, limit)
        return None

    async def take(self, key: str, cost: float, limit: Limit, *, drain: bool = False) -> Verdict:
        at_once = self.take_at_once(key, cost, limit)
        if at_once is not None:
            return at_once
        lease = self._lease(key, limit)
        if cost > limit.maximum:  # never admitted; the lease does not lower what is asked
            verdict = await self.shared.take(key, cost, limit, drain=drain)
            if drain:  # the whole bucket empties, these parts of it too: what the lease
                lease.points = lease.owed = 0.0  # holds, and refunds it owes Redis
            return verdict
        # Requests that miss together wait for one round trip that asks for all of them
        waiter = Waiter(cost, asyncio.get_running_loop().create_future())
        lease.waiting.append(waiter)
        if not lease.asking:
            lease.asking = True
            task = asyncio.create_task(self._ask(key, lease, limit))
            self._asking.add(task)
            task.add_done_callback(self._asking.discard)
        return await waiter.verdict

    async def _ask(self, key: str, lease: Lease, limit: Limit) -> None:
        """Asks Redis for what the waiting requests need beyond the lease, plus a slice; when
        the bucket cannot give them all, for the first one's need alone, which is refused
        only when Redis cannot give that. Requests that wait meanwhile go with the next."""
        try:
            while True:
                await self._ask_while_waiting(key, lease, limit)
                await self._keep_bounded(key, lease, limit)  # a round trip, at times:
                if not lease.waiting:  # requests that missed meanwhile are served here too
                    break
        except Exception as error:  # a bug: the waiting requests fail, rather than hang
            _fail_all(lease, error)
            raise
        finally:
            lease.asking = False

    async def _ask_while_waiting(self, key: str, lease: Lease, limit: Limit) -> None:
        """Round trips until every waiting request is admitted or refused."""
        alone = False
        while self._serve(lease, limit):
            asked = lease.waiting[:1] if alone else self._batch(lease, limit)
            need = sum(waiter.cost for waiter in asked) - lease.points
            back, lease.owed = lease.owed, 0.0
            slice_ = self.fraction * limit.maximum
            try:
                verdict, taken = await self.shared.take_more(key, need, slice_, limit, back=back)
            except LimiterUnavailable:  # what was owed stays spent: errs towards others
                self._fail(lease)
                return
            lease.shared, lease.at = verdict.available, time.monotonic()
            if verdict.admitted:
                lease.points += taken
                alone = False
            elif len(asked) > 1:
                alone = True
            else:
                refused = lease.waiting.pop(0)
                view = self._view(lease, limit)
                rate = limit.restore_rate
                wait = max(0.0, refused.cost - view) / rate if rate > 0 else 0.0
                _settle(refused, Verdict(False, view, wait))

    def _batch(self, lease: Lease, limit: Limit) -> list[Waiter]:
        """The first waiting requests, as many as Redis had points for at the last round
        trip (refilled since): a batch Redis must refuse would cost a round trip for
        nothing."""
        room = min(limit.maximum, lease.shared + (time.monotonic() - lease.at) * limit.restore_rate)
        room += lease.points
        count, total = 0, 0.0
        for waiter in lease.waiting:
            if count and total + waiter.cost > room:
                break
            count, total = count + 1, total + waiter.cost
        return lease.waiting[:count]

    def _serve(self, lease: Lease, limit: Limit) -> bool:
        """Admits the waiting requests the lease covers, in order: True if some still wait."""
        while lease.waiting:
            first = lease.waiting[0]
            if first.verdict.done():  # its request is gone: nothing to charge
                lease.waiting.pop(0)
            elif first.cost <= lease.points:
                lease.points -= first.cost
                lease.waiting.pop(0)
                _settle(first, Verdict(True, self._view(lease, limit), 0.0))
            else:
                return True
        return False

    def _fail(self, lease: Lease) -> None:
        """Redis cannot be asked: each waiting request gets today's answer (fail-open or
        closed, counted once per request); the lease stays here, to be spent."""
        for _ in lease.waiting[1:]:
            self.shared.on_unreachable()  # the round trip counted the first
        _fail_all(lease, LimiterUnavailable())

    async def give_back(self, key: str, points: float, limit: Limit) -> float:
        lease = self._lease(key, limit)
        lease.points += points
        await self._keep_bounded(key, lease, limit)
        return self._view(lease, limit)

    async def _keep_bounded(self, key: str, lease: Lease, limit: Limit) -> None:
        """Points beyond a slice are no longer spendable here: they go back to Redis with
        the next round trip, or now once they are more than a slice."""
        slice_ = self.fraction * limit.maximum
        beyond = lease.points - slice_
        if beyond > 0:
            lease.points -= beyond
            lease.owed += beyond
        if lease.owed > slice_:
            back, lease.owed = lease.owed, 0.0
            try:
                lease.shared = await self.shared.give_back(key, back, limit)
            except LimiterUnavailable:
                return  # the points stay spent: errs towards the other clients
            lease.at = time.monotonic()

    def _lease(self, key: str, limit: Limit) -> Lease:
        lease = self._leases.get((key, limit))
        if lease is None:
            if len(self._leases) >= self.max_leases:  # room first: never the one made here
                self._evict_one()
            lease = self._leases[key, limit] = Lease(shared=limit.maximum)
        else:
            self._leases.move_to_end((key, limit))
        return lease

    def _evict_one(self) -> None:
        """The least recently used lease that no request waits on goes back with the next
        sweep (a busy one is still being spent and given back by its own round trips:
        returning its points here too would make points). All busy: the table grows by one
        for a while."""
        for (key, limit), old in self._leases.items():
            if not (old.asking or old.waiting):
                del self._leases[key, limit]
                if old.points + old.owed > 0:
                    self._evicted.append((key, limit, old.points + old.owed))
                return

    def _view(self, lease: Lease, limit: Limit) -> float:
        """This process's view of the client's points: Redis's at the last round trip,
        refilled since, plus the lease and what it owes Redis (other processes' leases are
        not seen)."""
        now = time.monotonic()
        shared = min(limit.maximum, lease.shared + (now - lease.at) * limit.restore_rate)
        lease.at = now
        lease.shared = shared
        return min(limit.maximum, shared + lease.points + lease.owed)

    async def keep_returning(self) -> None:
        """Gives idle leases back to Redis, until cancelled (the app's lifespan runs it)."""
        while True:
            await asyncio.sleep(max(0.05, self.idle_seconds / 2))
            await self.return_idle(time.monotonic() - self.idle_seconds)

    async def return_idle(self, before: float) -> None:
        """Gives back every lease last used before `before` (all of them: +inf)."""
        going = self._evicted
        self._evicted = []
        for (key, limit), lease in list(self._leases.items()):  # least recently used first
            if lease.at >= before:
                break
            if lease.asking or lease.waiting:  # being spent: its own round trips settle it
                continue
            del self._leases[key, limit]
            if lease.points + lease.owed > 0:
                going.append((key, limit, lease.points + lease.owed))
        for sent, (key, limit, points) in enumerate(going, start=1):
            try:
                await self.shared.give_back(key, points, limit)
            except LimiterUnavailable:  # the rest are lost too (errs towards the other
                return  # clients): a stopping process must not wait a timeout for each
            except asyncio.CancelledError:  # the process stops: its last sweep gives back
                self._evicted += going[sent:]  # the rest (not the one sent: it may be there)
                raise


def _settle(waiter: Waiter, verdict: Verdict) -> None:
    if not waiter.verdict.done():
        waiter.verdict.set_result(verdict)


def _fail_all(lease: Lease, error: Exception) -> None:
    waiting, lease.waiting = lease.waiting, []
    for waiter in waiting:
        if not waiter.verdict.done():
            waiter.verdict.set_exception(error)
