"""Automatic persisted queries kept in Redis, so that a document registered through one
replica is served by every other. A Redis that cannot be reached costs nothing worse than
asking the client for the document again, and is counted
(`patchbay_persisted_query_store_fallbacks_total`). Imported only when PATCHBAY_REDIS_URL is
set: redis-py imports OpenTelemetry, which tracing keeps out of a process that does not trace.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Iterator

from prometheus_client.metrics_core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.observe.metrics import multiprocess_mode

# A document no client has asked for in this long leaves Redis; a client that sends its
# hash later is asked for the document once, as on a first visit.
SHARED_TTL_SECONDS = 7 * 24 * 3600
log = logging.getLogger("patchbay")


class SharedDocuments(Collector):
    """The documents every replica sees, in Redis under `<prefix>apq:<sha256>`."""

    def __init__(self, redis: Redis, *, prefix: str, max_chars: int) -> None:
        self.redis = redis
        self.prefix = prefix + "apq:"
        # A longer document is refused before it runs (PATCHBAY_MAX_DOCUMENT_CHARS): keeping
        # it would only let a client fill Redis. The keys expire, and Redis's maxmemory
        # with volatile-lru bounds the rest (docs/deploy.md).
        self.max_chars = max_chars
        self.fallbacks = 0  # commands that failed: the client was asked again, or will be

    async def get(self, digest: str) -> str | None:
        try:
            found = await self.redis.get(self.prefix + digest)
        except (RedisError, OSError) as error:
            self._fell_back(error)
            return None
        if not isinstance(found, bytes):
            return None
        query = found.decode(errors="replace")
        # Whoever can write to Redis must not choose what a hash runs: the hash is checked.
        if hashlib.sha256(query.encode()).hexdigest() != digest:
            return None
        return query

    async def put(self, digest: str, query: str) -> None:
        if len(query) > self.max_chars:
            return
        try:
            await self.redis.set(self.prefix + digest, query.encode(), ex=SHARED_TTL_SECONDS)
        except (RedisError, OSError) as error:
            self._fell_back(error)

    def _fell_back(self, error: Exception) -> None:
        self.fallbacks += 1
        log.warning("persisted-query store in Redis unavailable (%s)", type(error).__name__)

    def collect(self) -> Iterator[Metric]:
        """For /metrics (a prometheus_client collector)."""
        labels = {"pid": str(os.getpid())} if multiprocess_mode() else {}
        family = CounterMetricFamily(
            "patchbay_persisted_query_store_fallbacks",
            "Persisted-query lookups and registrations that Redis did not answer (the "
            "client is asked for the document again)",
            labels=list(labels),
        )
        family.add_metric(list(labels.values()), float(self.fallbacks))
        yield family
