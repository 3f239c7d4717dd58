"""Leases under concurrency, on a redis-server of this module's own: points are never made
when the lease table is full, a busy lease does not stop the idle sweep, and no request
waits forever, whatever arrives while a lease is asking Redis or giving points back."""

from __future__ import annotations

import asyncio
import math
import random
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio

from gateway.throttle.leases import LeasedBuckets
from gateway.throttle.limits import Limit
from gateway.throttle.redis_buckets import RedisBuckets
from tests.own_servers import OwnRedis, own_redis

NEVER_REFILLED = Limit(maximum=1000.0, restore_rate=0.0)  # every point is accounted for


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnRedis]:
    with own_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
async def client(redis_server: OwnRedis) -> AsyncIterator[redis.asyncio.Redis]:
    connection = redis.asyncio.Redis.from_url(redis_server.url)
    yield connection
    await connection.aclose()


def leases(client: redis.asyncio.Redis, prefix: str, **options: float) -> LeasedBuckets:
    shared = RedisBuckets(client, prefix=prefix, on_unreachable=lambda: None)
    values = {"fraction": 0.02, "idle_seconds": 60.0} | options  # slices of 20 points
    return LeasedBuckets(shared, **values)  # type: ignore[arg-type]


async def points_in_redis(client: redis.asyncio.Redis, prefix: str, key: str) -> float:
    return float(await client.hget(f"{prefix}bucket:{key}", "p"))


async def test_a_lease_evicted_while_it_asks_gives_back_its_points_once(
    client: redis.asyncio.Redis,
) -> None:
    # given: room for one lease; k1 holds a slice (took 11 + 20, spent 11)
    prefix = f"races-{uuid.uuid4().hex}:"
    buckets = leases(client, prefix, max_leases=1)
    assert (await buckets.take("k1", 11, NEVER_REFILLED)).admitted
    # when: k1 asks for more than its lease holds, and k2 arrives while it asks
    asking = asyncio.create_task(buckets.take("k1", 30, NEVER_REFILLED))
    await asyncio.sleep(0)  # k1's request waits for its round trip
    assert (await buckets.take("k2", 5, NEVER_REFILLED)).admitted
    assert (await asking).admitted
    await buckets.return_idle(float("inf"))  # what a stopping gateway does
    # then: k1 spent 41 points, and Redis holds exactly the rest: none made twice
    assert await points_in_redis(client, prefix, "k1") == 1000 - 41


async def test_the_idle_sweep_passes_a_busy_lease_by(client: redis.asyncio.Redis) -> None:
    # given: k1's lease, then k2's, both with points; k1 asks Redis for more, and then k2 is
    # used (so the busy k1 comes first in the sweep's order, least recently used first)
    prefix = f"races-{uuid.uuid4().hex}:"
    buckets = leases(client, prefix)
    assert (await buckets.take("k1", 11, NEVER_REFILLED)).admitted
    assert (await buckets.take("k2", 11, NEVER_REFILLED)).admitted
    asking = asyncio.create_task(buckets.take("k1", 500, NEVER_REFILLED))
    await asyncio.sleep(0)
    assert (await buckets.take("k2", 1, NEVER_REFILLED)).admitted  # from its lease
    # when: the sweep runs while k1 asks
    await buckets.return_idle(float("inf"))
    await asyncio.wait_for(asking, 5)
    # then: k2's slice went back (it is idle, though it came after the busy one)
    assert await points_in_redis(client, prefix, "k2") == 1000 - 12


async def test_a_request_that_misses_while_a_lease_gives_back_is_answered(
    client: redis.asyncio.Redis,
) -> None:
    # given: a request of 100 points asks Redis, and its client goes away meanwhile, so its
    # points land in the lease beyond a slice and must go back to Redis: a round trip
    prefix = f"races-{uuid.uuid4().hex}:"
    buckets = leases(client, prefix)
    gone = asyncio.create_task(buckets.take("k1", 100, NEVER_REFILLED))
    await asyncio.sleep(0)  # waiting for its round trip, which the next pass sends
    await asyncio.sleep(0)
    gone.cancel()
    lease = buckets._leases["k1", NEVER_REFILLED]
    for _ in range(100_000):  # until the lease is giving its extra points back
        if lease.asking and not lease.waiting and lease.points == 20:
            break
        await asyncio.sleep(0)
    else:
        pytest.fail("the lease never gave its extra points back")
    # when: another request misses the lease during that round trip
    late = asyncio.create_task(buckets.take("k1", 200, NEVER_REFILLED))
    # then: it is answered (it waited forever: nobody asked Redis for it)
    assert (await asyncio.wait_for(late, 5)).admitted


async def test_no_request_waits_forever(client: redis.asyncio.Redis) -> None:
    # given: clients sharing small buckets, with refunds, misses and requests given up on,
    # in every order the event loop makes of them
    prefix = f"races-{uuid.uuid4().hex}:"
    buckets = leases(client, prefix)
    limit = Limit(maximum=400.0, restore_rate=2000.0)
    chance = random.Random(7)

    async def one(key: str) -> None:
        cost = chance.choice([1, 3, 11, 25, 60])
        charge = asyncio.create_task(buckets.take(key, cost, limit))
        if chance.random() < 0.1:  # the client went away while it waited
            await asyncio.sleep(0)
            charge.cancel()
            return
        verdict = await charge
        if verdict.admitted and chance.random() < 0.5:
            await buckets.give_back(key, chance.uniform(0, cost) * 3, limit)

    async def client_of(key: str) -> None:
        for _ in range(150):
            await asyncio.gather(*(one(key) for _ in range(chance.randint(1, 6))))

    # when / then: every request gets its answer (a hang times out here)
    await asyncio.wait_for(asyncio.gather(*(client_of(f"c{n}") for n in range(4))), 60)


async def test_a_drain_empties_what_the_lease_owes_redis_too(client: redis.asyncio.Redis) -> None:
    # given: a lease of 20 points that also owes Redis 15 given back (refunds beyond a slice
    # wait for the next round trip)
    prefix = f"races-{uuid.uuid4().hex}:"
    buckets = leases(client, prefix)
    assert (await buckets.take("k1", 11, NEVER_REFILLED)).admitted  # Redis: 1000 - 31
    await buckets.give_back("k1", 15, NEVER_REFILLED)
    # when: a document too long for the whole bucket drains it
    drained = await buckets.take("k1", 5000, NEVER_REFILLED, drain=True)
    after = await buckets.take("k1", 1, NEVER_REFILLED)
    await buckets.return_idle(float("inf"))  # what a stopping gateway does
    # then: the client has nothing left, here or in Redis, as with one bucket
    assert not drained.admitted
    assert not after.admitted
    assert await points_in_redis(client, prefix, "k1") == 0


async def test_a_huge_bucket_keeps_every_refill_however_small(
    client: redis.asyncio.Redis,
) -> None:
    # given: a bucket of 1e12 points refilled at 1 point/s (the settings bound neither), and
    # a client whose round trips come every fraction of a millisecond: each refills a
    # fraction of a thousandth of a point, below what 14 significant digits of 1e12 keep
    prefix = f"precision-{uuid.uuid4().hex}:"
    shared = RedisBuckets(client, prefix=prefix, on_unreachable=lambda: None)
    huge = Limit(maximum=1e12, restore_rate=1.0)
    assert (await shared.take("k1", 1000, huge)).admitted
    first = await bucket_time(client, prefix, "k1")
    started = time.monotonic()
    takes = 0
    while time.monotonic() - started < 1.5:
        assert (await shared.take("k1", 1, huge)).admitted
        takes += 1
    last = await bucket_time(client, prefix, "k1")
    # then: the bucket refilled by the time that passed on Redis's clock, less at most what a
    # double near 1e12 rounds away in each round trip (half of 1/8192 of a point), not by
    # next to nothing
    refilled = await points_in_redis(client, prefix, "k1") - (1e12 - 1000 - takes)
    rounding = (takes + 1) * math.ulp(1e12) / 2
    assert abs(refilled - (last - first)) <= rounding + 0.001, (refilled, last - first, takes)


async def bucket_time(client: redis.asyncio.Redis, prefix: str, key: str) -> float:
    """When the bucket was last written, by Redis's clock."""
    return float(await client.hget(f"{prefix}bucket:{key}", "t"))
