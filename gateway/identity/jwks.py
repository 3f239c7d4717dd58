"""Public keys from a JWKS URL, fetched without blocking the event loop.

Keys fetched before stay usable while the endpoint is down; an unknown `kid` triggers at
most one refetch per `min_refetch` seconds, so random kids cannot flood the endpoint.
A known `kid` never waits: once the set is older than `refresh`, one background task
refreshes it while requests go on with the keys they have.

One fetch at a time, bounded as a whole (connect, headers and every read of the body) by
`timeout`: a request that needs a fetch joins the one in flight, so no request waits longer
than `timeout` for keys, however slowly the endpoint answers.

`kid` is optional (RFC 7517): a token without one tries every key of its algorithm; a token
whose kid no key has tries the keys published without a kid. A key that cannot be used is
logged once, as a warning, with the reason.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from jwt import PyJWK, PyJWTError

log = logging.getLogger("patchbay.jwks")
MAX_JWKS_BYTES = 1024 * 1024
MAX_REMEMBERED_WARNINGS = 1024
RSA_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"})
EC_ALGORITHMS = {"P-256": "ES256", "P-384": "ES384", "P-521": "ES512"}


@dataclass(frozen=True, slots=True)
class _Key:
    kid: str | None
    algorithms: frozenset[str]  # those it may verify, within the configured ones
    key: Any  # a `cryptography` public key


class JwksCache:
    def __init__(
        self,
        url: str,
        *,
        refresh: float,
        min_refetch: float,
        timeout: float = 5.0,
        algorithms: Iterable[str] = (*RSA_ALGORITHMS, *EC_ALGORITHMS.values(), "EdDSA"),
    ) -> None:
        self.url = url
        self.refresh = refresh
        self.min_refetch = min_refetch
        self.timeout = timeout
        self.algorithms = frozenset(algorithms)
        self._keys: tuple[_Key, ...] = ()
        self._fetched_at = 0.0
        self._tried_at = -float("inf")
        self._fetching: asyncio.Task[None] | None = None  # referenced: not collected
        self._warned: set[str] = set()  # fingerprints of keys already logged as unusable

    async def keys(self, kid: str | None, algorithm: str) -> tuple[Any, ...]:
        """The keys a token with this `kid` and `alg` may be verified with, best first."""
        if not self._covers(kid, algorithm):  # only then wait for a fetch (`timeout` at most)
            await self._refetch()
        elif time.monotonic() - self._fetched_at > self.refresh:
            self._refresh_in_background()
        return self._candidates(kid, algorithm)

    def _covers(self, kid: str | None, algorithm: str) -> bool:
        """Whether the keys known can answer: the kid is known, or (no kid) some key fits."""
        if kid is not None:
            return any(k.kid == kid for k in self._keys)
        return any(algorithm in k.algorithms for k in self._keys)

    def _candidates(self, kid: str | None, algorithm: str) -> tuple[Any, ...]:
        named: Iterable[_Key] = self._keys
        if kid is not None:
            named = [k for k in self._keys if k.kid == kid]
            if not named:  # a kid no key has: the keys published without one
                named = [k for k in self._keys if k.kid is None]
        return tuple(k.key for k in named if algorithm in k.algorithms)

    def _refresh_in_background(self) -> None:
        """Starts one refresh task, unless a fetch runs or `min_refetch` has not passed."""
        if self._fetching is None and time.monotonic() - self._tried_at >= self.min_refetch:
            self._start_fetch()

    async def _refetch(self) -> None:
        """Joins the fetch in flight, or starts one unless `min_refetch` has not passed."""
        task = self._fetching
        if task is None:
            if time.monotonic() - self._tried_at < self.min_refetch:
                return
            task = self._start_fetch()
        await asyncio.shield(task)  # a caller that leaves does not cancel the others' fetch

    def _start_fetch(self) -> asyncio.Task[None]:
        self._tried_at = time.monotonic()
        task = asyncio.create_task(self._fetch())
        self._fetching = task
        task.add_done_callback(self._fetched)
        return task

    def _fetched(self, task: asyncio.Task[None]) -> None:
        self._fetching = None
        if not task.cancelled() and (error := task.exception()) is not None:
            log.warning("JWKS fetch failed, keeping %d known keys: %r", len(self._keys), error)

    async def _fetch(self) -> None:
        try:
            async with asyncio.timeout(self.timeout):
                document = await self._download()
            keys = self._usable(document)
        except (httpx.HTTPError, ValueError, RecursionError, TimeoutError) as error:
            reason = str(error) or type(error).__name__
            if isinstance(error, TimeoutError):
                reason = f"no complete answer within {self.timeout:g}s"
            log.warning("JWKS fetch failed, keeping %d known keys: %s", len(self._keys), reason)
            return
        self._keys = keys
        self._fetched_at = time.monotonic()

    async def _download(self) -> Any:
        async with (
            httpx.AsyncClient(timeout=self.timeout) as client,
            client.stream("GET", self.url) as response,
        ):
            response.raise_for_status()
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_JWKS_BYTES:
                    raise ValueError(f"JWKS larger than {MAX_JWKS_BYTES} bytes")
        return json.loads(body)

    def _usable(self, document: Any) -> tuple[_Key, ...]:
        """The usable keys of a JWK set; each unusable one is logged once, with why."""
        listed = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(listed, list):
            raise ValueError("not a JWK set (no list of keys)")
        usable = []
        for index, data in enumerate(listed):
            key, reason = self._read(data)
            if key is not None:
                usable.append(key)
            elif reason is not None:
                self._warn_once(index, data, reason)
        if not usable:
            raise ValueError(f"none of its {len(listed)} keys is usable")
        return tuple(usable)

    def _read(self, data: Any) -> tuple[_Key | None, str | None]:
        """A key, or why it cannot verify tokens here."""
        if not isinstance(data, dict):
            return None, "not a JSON object"
        possible, reason = _algorithms_of(data)
        if reason is not None:
            return None, reason
        allowed = possible & self.algorithms
        if not allowed:
            return None, (
                f"its algorithms ({' '.join(sorted(possible))}) are not among those accepted "
                f"({' '.join(sorted(self.algorithms))}: PATCHBAY_JWT_ALGORITHMS)"
            )
        try:
            key = PyJWK(data, algorithm=min(allowed)).key
        except (PyJWTError, ValueError, TypeError, KeyError) as error:
            return None, f"its fields do not make a {data['kty']} public key ({error})"[:300]
        kid = data.get("kid")
        return _Key(kid if isinstance(kid, str) else None, frozenset(allowed), key), None

    def _warn_once(self, index: int, data: Any, reason: str) -> None:
        fingerprint = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
        if fingerprint in self._warned:
            return
        if len(self._warned) < MAX_REMEMBERED_WARNINGS:
            self._warned.add(fingerprint)
        kid = data.get("kid") if isinstance(data, dict) else None
        named = f"kid {kid!r}" if isinstance(kid, str) else "no kid"
        log.warning("JWKS key #%d (%s) is not usable: %s", index, named, reason)


def _algorithms_of(data: dict[str, Any]) -> tuple[frozenset[str], str | None]:
    """The algorithms a JWK may verify, by its `alg` or else its `kty` (and `crv`)."""
    kty, alg, use, ops = data.get("kty"), data.get("alg"), data.get("use"), data.get("key_ops")
    if use is not None and use != "sig":
        return frozenset(), f"it is for {use!r}, not for signatures ('sig')"
    if isinstance(ops, list) and "verify" not in ops:
        return frozenset(), "its key_ops do not include 'verify'"
    if "d" in data:
        return frozenset(), "it publishes private key material ('d')"
    by_type: dict[Any, frozenset[str]] = {
        "RSA": RSA_ALGORITHMS,
        "EC": frozenset({EC_ALGORITHMS[data["crv"]]} if data.get("crv") in EC_ALGORITHMS else ()),
        "OKP": frozenset({"EdDSA"} if data.get("crv") in ("Ed25519", "Ed448") else ()),
    }
    if kty == "oct":
        return frozenset(), "a symmetric ('oct') key has no place in a public key set"
    if kty not in by_type:
        return frozenset(), f"unsupported kty {kty!r}" if kty else "it has no kty"
    possible = by_type[kty]
    if not possible:
        return frozenset(), f"unsupported crv {data.get('crv')!r} for kty {kty!r}"
    if alg is None:
        return possible, None
    if alg not in possible:
        return frozenset(), f"unsupported alg {alg!r} for kty {kty!r}"
    return frozenset({alg}), None
