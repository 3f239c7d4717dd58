"""Automatic persisted queries, in Apollo's protocol.

A client sends `extensions.persistedQuery.sha256Hash` instead of the document; the first
time, the server answers PersistedQueryNotFound and the client sends both, which the
server checks and keeps. Each process keeps the documents it has seen, bounded by entries
and by bytes; with PATCHBAY_REDIS_URL they are kept in Redis too, so that a document
registered through one replica is served by every other (docs/deploy.md). A Redis that
cannot be reached costs nothing worse than asking the client for the document again, and
is counted (`patchbay_persisted_query_store_fallbacks_total`).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client.metrics_core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector
from redis.asyncio import Redis
from redis.exceptions import RedisError

from gateway.observe.metrics import multiprocess_mode

NOT_FOUND = "PersistedQueryNotFound"
# A document no client has asked for in this long leaves Redis; a client that sends its
# hash later is asked for the document once, as on a first visit.
SHARED_TTL_SECONDS = 7 * 24 * 3600
log = logging.getLogger("patchbay")


@dataclass(frozen=True)
class PersistedQueryError(Exception):
    message: str
    code: str
    status: int


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


class PersistedQueries:
    def __init__(
        self,
        *,
        max_entries: int = 2000,
        max_bytes: int = 16 * 1024 * 1024,
        shared: SharedDocuments | None = None,
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.shared = shared
        self._documents: OrderedDict[str, str] = OrderedDict()
        self._sizes: dict[str, int] = {}  # UTF-8 bytes of each document
        self._bytes = 0

    async def resolve(self, query: Any, persisted: Any) -> str:
        """The document to run for a request carrying `extensions.persistedQuery`."""
        if not isinstance(persisted, dict) or persisted.get("version") != 1:
            raise PersistedQueryError(
                "Unsupported persisted query version", "PERSISTED_QUERY_NOT_SUPPORTED", 400
            )
        digest = persisted.get("sha256Hash")
        if not isinstance(digest, str):
            raise PersistedQueryError("sha256Hash is missing", "BAD_REQUEST", 400)
        digest = digest.lower()
        if not isinstance(query, str):
            return await self._known(digest)
        try:
            encoded = query.encode()
        except UnicodeEncodeError:  # a lone surrogate: no document has that hash
            raise PersistedQueryError("the query is not valid UTF-8", "BAD_REQUEST", 400) from None
        if hashlib.sha256(encoded).hexdigest() != digest:
            raise PersistedQueryError(
                "provided sha does not match query", "PERSISTED_QUERY_HASH_MISMATCH", 400
            )
        if digest not in self._documents and self.shared is not None:
            await self.shared.put(digest, query)  # before the answer: the next may go elsewhere
        self._keep(digest, query, len(encoded))
        return query

    async def _known(self, digest: str) -> str:
        known = self._documents.get(digest)
        if known is not None:
            self._documents.move_to_end(digest)
            return known
        if self.shared is not None:
            known = await self.shared.get(digest)
            if known is not None:
                self._keep(digest, known, len(known.encode()))
                return known
        raise PersistedQueryError(NOT_FOUND, "PERSISTED_QUERY_NOT_FOUND", 200)

    def _keep(self, digest: str, query: str, size: int) -> None:
        if digest in self._documents:
            self._documents.move_to_end(digest)
            return
        self._documents[digest] = query
        self._sizes[digest] = size
        self._bytes += size
        while len(self._documents) > self.max_entries or self._bytes > self.max_bytes:
            dropped, _ = self._documents.popitem(last=False)
            self._bytes -= self._sizes.pop(dropped)

    def __len__(self) -> int:
        return len(self._documents)
