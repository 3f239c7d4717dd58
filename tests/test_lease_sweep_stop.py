"""The idle sweep of rate-limit leases (gateway/throttle/leases.py), stopped mid-way as a
stopping process stops it: what it had not given back yet goes back with the last sweep
(the app's lifespan runs return_idle(inf) after cancelling keep_returning)."""

from __future__ import annotations

import asyncio
import math

from gateway.throttle.buckets import Verdict
from gateway.throttle.leases import LeasedBuckets
from gateway.throttle.limits import Limit

LIMIT = Limit(maximum=1000.0, restore_rate=0.0)


class SharedBuckets:
    """Redis's side, in memory: gives every slice asked; a give-back never answers while
    `holding` (a round trip in flight when the sweep is stopped)."""

    def __init__(self) -> None:
        self.given: list[str] = []
        self.holding = True
        self.in_flight = asyncio.Event()

    async def take_more(
        self, key: str, need: float, slice_: float, limit: Limit, *, back: float
    ) -> tuple[Verdict, float]:
        return Verdict(True, limit.maximum, 0.0), need + slice_

    async def give_back(self, key: str, points: float, limit: Limit) -> float:
        if self.holding:
            self.in_flight.set()
            await asyncio.Event().wait()
        self.given.append(key)
        return limit.maximum


async def test_a_sweep_stopped_mid_way_leaves_the_rest_for_the_last_sweep() -> None:
    # given: three clients' leases, each holding part of a slice
    shared = SharedBuckets()
    buckets = LeasedBuckets(shared, fraction=0.02, idle_seconds=60.0)  # type: ignore[arg-type]
    for key in ("k1", "k2", "k3"):
        assert (await buckets.take(key, 1, LIMIT)).admitted
    # when: the sweep is stopped while it gives k1's back, then the last sweep runs
    sweep = asyncio.create_task(buckets.return_idle(math.inf))
    await shared.in_flight.wait()
    sweep.cancel()
    await asyncio.gather(sweep, return_exceptions=True)
    shared.holding = False
    await buckets.return_idle(math.inf)
    # then: k2 and k3 went back (k1's may have reached Redis: not sent twice, which could
    # make points)
    assert shared.given == ["k2", "k3"]
