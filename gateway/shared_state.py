"""The one Redis client of a process, for state that every replica must share.

Built lazily from PATCHBAY_REDIS_URL; every command is bounded by a short socket timeout so
that an unreachable Redis costs a request milliseconds, and the caller decides what its
fallback is (see each user of `redis_client`).
"""

from __future__ import annotations

from redis.asyncio import Redis


def redis_client(url: str, *, timeout_seconds: float) -> Redis:
    return Redis.from_url(
        url,
        socket_timeout=timeout_seconds,
        socket_connect_timeout=timeout_seconds,
        # A retry would double the wait on a Redis that is down; callers fall back instead.
        retry_on_timeout=False,
        health_check_interval=30,
    )
