"""Public keys from a JWKS URL, fetched without blocking the event loop.

Keys fetched before stay usable while the endpoint is down; an unknown `kid` triggers at
most one refetch per `min_refetch` seconds, so random kids cannot flood the endpoint.
A known `kid` never waits: once the set is older than `refresh`, one background task
refreshes it while requests go on with the keys they have.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
from jwt import PyJWK, PyJWKSet
from jwt.exceptions import PyJWKSetError

log = logging.getLogger("patchbay.jwks")


class JwksCache:
    def __init__(
        self, url: str, *, refresh: float, min_refetch: float, timeout: float = 5.0
    ) -> None:
        self.url = url
        self.refresh = refresh
        self.min_refetch = min_refetch
        self.timeout = timeout
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at = 0.0
        self._tried_at = -float("inf")
        self._lock = asyncio.Lock()
        self._refreshing: asyncio.Task[None] | None = None  # referenced: not collected

    async def key(self, kid: str | None) -> PyJWK | None:
        known = self._known(kid)
        if known is None:  # only an unknown kid waits for a fetch (bounded by `timeout`)
            await self._refetch()
            return self._known(kid)
        if time.monotonic() - self._fetched_at > self.refresh:
            self._refresh_in_background()
        return known

    def _known(self, kid: str | None) -> PyJWK | None:
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    def _refresh_in_background(self) -> None:
        """Starts one refresh task, unless one runs or `min_refetch` has not passed."""
        if self._refreshing is not None or time.monotonic() - self._tried_at < self.min_refetch:
            return
        self._refreshing = asyncio.create_task(self._refetch())
        self._refreshing.add_done_callback(self._refreshed)

    def _refreshed(self, task: asyncio.Task[None]) -> None:
        self._refreshing = None
        if not task.cancelled() and (error := task.exception()) is not None:
            log.warning("JWKS refresh failed, keeping %d known keys: %r", len(self._keys), error)

    async def _refetch(self) -> None:
        fetched_at = self._fetched_at
        async with self._lock:
            if self._fetched_at != fetched_at:  # a fetch finished while this one waited
                return
            if time.monotonic() - self._tried_at < self.min_refetch:
                return
            self._tried_at = time.monotonic()
            try:
                async with httpx.AsyncClient(timeout=self.timeout) as client:
                    response = await client.get(self.url)
                    response.raise_for_status()
                    document: Any = response.json()
                keys = PyJWKSet.from_dict(document).keys
            except (httpx.HTTPError, ValueError, PyJWKSetError) as error:
                log.warning("JWKS fetch failed, keeping %d known keys: %s", len(self._keys), error)
                return
            self._keys = {k.key_id: k for k in keys if k.key_id}
            self._fetched_at = time.monotonic()
