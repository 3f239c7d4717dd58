"""Public keys from a JWKS URL, fetched without blocking the event loop.

Keys fetched before stay usable while the endpoint is down; an unknown `kid` triggers at
most one refetch per `min_refetch` seconds, so random kids cannot flood the endpoint.
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

    async def key(self, kid: str | None) -> PyJWK | None:
        stale = time.monotonic() - self._fetched_at > self.refresh
        if kid not in self._keys or stale:
            await self._refetch()
        if kid is None and len(self._keys) == 1:
            return next(iter(self._keys.values()))
        return self._keys.get(kid) if kid is not None else None

    async def _refetch(self) -> None:
        async with self._lock:
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
