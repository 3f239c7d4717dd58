"""Token buckets in Redis: one budget for every process and replica.

Each take or give-back is one round trip: a Lua script reads the bucket, refills it by the
time passed (Redis's own clock, the same for every replica), and writes it back, atomically.
A bucket expires once it would be full again, so idle clients cost Redis nothing. A take may
ask for extra points, a lease the process spends later without asking (gateway/throttle/
leases.py): granted whole when the bucket has them, else the take is of the cost alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.throttle.buckets import LimiterUnavailable, Verdict
from gateway.throttle.limits import Limit

log = logging.getLogger("patchbay.throttle")
KEY_SUFFIX = "bucket:"  # after the deployment's PATCHBAY_REDIS_KEY_PREFIX

# KEYS[1]: the bucket. ARGV: points, maximum, restore rate, "take", "give", or "drain" (a
# take whose refusal, for a cost beyond the maximum, empties the bucket), extra points a take
# also asks for when the bucket has them, and points given back first. Returns {admitted
# (1/0), points after, points taken}, the numbers as strings: Lua numbers reach Redis as
# integers. Numbers are written with 17 significant digits, which a double round-trips
# exactly: Lua's tostring keeps 14, and a bucket of 1e12 points then kept nothing below a
# hundredth of a point, so a client's many small refills vanished.
SCRIPT = """
local function exact(n) return string.format('%.17g', n) end
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local cost, maximum, rate = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local kept = redis.call('HMGET', KEYS[1], 'p', 't')
local points = maximum
if kept[1] then
  points = math.min(maximum, tonumber(kept[1]) + math.max(0, now - tonumber(kept[2])) * rate)
end
local admitted, extra, back, taken = 1, tonumber(ARGV[5]), tonumber(ARGV[6]), 0
points = math.min(maximum, points + back)
if ARGV[4] == 'give' then
  points = math.min(maximum, points + cost)
elseif points >= cost + extra then
  taken = cost + extra
elseif points >= cost then
  taken = cost
else
  admitted = 0
  if ARGV[4] == 'drain' and cost > maximum then points = 0 end
end
if admitted == 1 or ARGV[4] == 'drain' or back > 0 then
  points = points - taken
  redis.call('HSET', KEYS[1], 'p', exact(points), 't', exact(now))
  local ttl = 86400000
  if rate > 0 then ttl = math.ceil((maximum - points) / rate * 1000) + 1000 end
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return {admitted, exact(points), exact(taken)}
"""


class RedisBuckets:
    def __init__(self, client: Redis, *, prefix: str, on_unreachable: Callable[[], None]) -> None:
        self.prefix = prefix + KEY_SUFFIX
        self.on_unreachable = on_unreachable
        self._script = client.register_script(SCRIPT)

    async def take(self, key: str, cost: float, limit: Limit, *, drain: bool = False) -> Verdict:
        verdict, _ = await self.take_more(key, cost, 0.0, limit, drain=drain)
        return verdict

    def take_at_once(self, key: str, cost: float, limit: Limit) -> Verdict | None:
        return None  # every take is a round trip

    def take_admitted(self, key: str, cost: float, limit: Limit) -> float | None:
        return None

    async def take_more(
        self,
        key: str,
        cost: float,
        extra: float,
        limit: Limit,
        *,
        drain: bool = False,
        back: float = 0.0,
    ) -> tuple[Verdict, float]:
        """Gives `back` points, then takes `cost` points and, when the bucket has them too,
        `extra`: the verdict on the cost, and the points taken (0, cost, or cost + extra)."""
        admitted, points, taken = await self._run(
            key, cost, limit, "drain" if drain else "take", extra, back
        )
        if admitted:
            return Verdict(True, points, 0.0), taken
        wait = (cost - points) / limit.restore_rate if limit.restore_rate > 0 else 0.0
        return Verdict(False, points, wait if cost <= limit.maximum else float("inf")), 0.0

    async def give_back(self, key: str, points: float, limit: Limit) -> float:
        _, after, _ = await self._run(key, points, limit, "give")
        return after

    async def _run(
        self, key: str, points: float, limit: Limit, mode: str, extra: float = 0, back: float = 0
    ) -> tuple[bool, float, float]:
        args = [repr(float(points)), repr(limit.maximum), repr(limit.restore_rate), mode]
        try:
            admitted, after, taken = await self._script(
                keys=[self.prefix + key], args=[*args, repr(float(extra)), repr(float(back))]
            )
        except (TimeoutError, RedisError, OSError) as error:
            self.on_unreachable()
            log.warning("rate limiter: Redis unreachable (%s)", type(error).__name__)
            raise LimiterUnavailable from error
        return bool(admitted), float(after), float(taken)
