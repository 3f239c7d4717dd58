"""Token buckets kept in this process: exact, no round trip, one budget per process."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

from gateway.throttle.limits import Limit


class LimiterUnavailable(Exception):
    """The shared buckets could not be asked; the caller applies the fail-open or
    fail-closed setting."""


@dataclass(slots=True)  # not frozen: one per request, and frozen ones cost 5 times as much
class Verdict:
    admitted: bool
    available: float  # points left after this take (or now, when refused)
    retry_after: float  # seconds until `cost` points are available (0 when admitted)


class LocalBuckets:
    """Buckets by client key, bounded: the least recently used is forgotten first (a
    forgotten bucket is a full one, so forgetting only ever errs towards the client)."""

    def __init__(self, *, max_clients: int = 100_000) -> None:
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # (points, at)

    async def take(self, key: str, cost: float, limit: Limit, *, drain: bool = False) -> Verdict:
        return self.take_at_once(key, cost, limit, drain=drain)

    def take_admitted(self, key: str, cost: float, limit: Limit) -> float | None:
        """The points left once `cost` is taken; None when it cannot be (nothing taken)."""
        now = time.monotonic()
        buckets = self._buckets
        kept = buckets.get(key)  # what _points_at does, a call less on every request
        points = (
            limit.maximum
            if kept is None
            else min(limit.maximum, kept[0] + (now - kept[1]) * limit.restore_rate)
        )
        if points < cost:
            return None
        buckets[key] = (points - cost, now)  # what _store does
        buckets.move_to_end(key)
        if kept is None and len(buckets) > self.max_clients:
            buckets.popitem(last=False)
        return points - cost

    def take_at_once(self, key: str, cost: float, limit: Limit, *, drain: bool = False) -> Verdict:
        available = self.take_admitted(key, cost, limit)
        if available is not None:
            return Verdict(True, available, 0.0)
        now = time.monotonic()
        points = self._points_at(now, key, limit)
        if points >= cost:  # refilled since take_admitted looked: it takes them now
            return self.take_at_once(key, cost, limit, drain=drain)
        if drain and cost > limit.maximum:  # it could never run: what it cost empties it
            self._store(now, key, 0.0)
            points = 0.0
        wait = (cost - points) / limit.restore_rate if limit.restore_rate > 0 else 0.0
        return Verdict(False, points, wait if cost <= limit.maximum else float("inf"))

    async def give_back(self, key: str, points: float, limit: Limit) -> float:
        now = time.monotonic()
        now_points = min(limit.maximum, self._points_at(now, key, limit) + points)
        self._store(now, key, now_points)
        return now_points

    def _points_at(self, now: float, key: str, limit: Limit) -> float:
        kept = self._buckets.get(key)
        if kept is None:
            return limit.maximum
        points, at = kept
        return min(limit.maximum, points + (now - at) * limit.restore_rate)

    def _store(self, now: float, key: str, points: float) -> None:
        self._buckets[key] = (points, now)
        self._buckets.move_to_end(key)
        if len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
