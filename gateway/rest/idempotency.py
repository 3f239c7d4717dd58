"""Idempotency-Key on a REST PATCH, exactly as on GraphQL's mutations (docs/safe-writes.md).

The key is the caller's; the request's fingerprint is its method, path, Content-Type, If-Match
and body.
The first request claims the key and runs inside one unit of work with the claim, and its
answer (status, ETag, body) is stored in the same transaction as its write. A retry with the
same key and request gets that answer again with `Idempotent-Replayed: true`; the same key with
another request (or a GraphQL request) is 422; a twin still running past half the database
timeout is 409. Server errors, 503s and 415s (a body not read at all) are not stored: a
retry runs again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import orjson
from starlette.requests import Request
from starlette.responses import Response

from db import idempotency as store
from db.database import Database
from gateway.http.idempotency_key import REPLAYED
from resolvers.principal import Principal

JSON = "application/json"
ATTEMPTS = 3  # a twin rolled back, or an expired record was removed: claim again


class KeyRefused(Exception):
    """The key cannot answer this request: reused for another request, or still in flight."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


REUSED = KeyRefused(
    422, "IDEMPOTENCY_KEY_REUSED", "this Idempotency-Key was used for a different request"
)
IN_FLIGHT = KeyRefused(
    409,
    "IDEMPOTENCY_KEY_IN_FLIGHT",
    "a request with this Idempotency-Key is still running: retry it with the same key shortly",
)


class RestIdempotency:
    def __init__(self, *, db: Database, ttl_seconds: float) -> None:
        self.db = db
        self.ttl = timedelta(seconds=ttl_seconds)
        self.wait_seconds = db.timeout_seconds / 2

    async def answer(
        self,
        request: Request,
        principal: Principal,
        key: str,
        run: Callable[[], Awaitable[Response]],
    ) -> Response:
        """The answer for this key: run once (and kept), or the one kept. Raises KeyRefused."""
        fingerprint = await _fingerprint(request)
        for _ in range(ATTEMPTS):
            now = datetime.now(UTC)
            try:
                ran = await self._run_claimed(principal.scope_key, key, fingerprint, now, run)
            except store.KeyInFlight:
                raise IN_FLIGHT from None
            if ran is not None:
                return ran
            async with self.db.read() as conn:
                stored = await store.find(conn, principal=principal.scope_key, key=key)
            if stored is None or stored.response is None:
                continue  # the first rolled back: this one may run
            if stored.created_at < now - self.ttl:
                await store.forget_expired(self.db, record_id=stored.id, before=now - self.ttl)
                continue
            if stored.fingerprint != fingerprint:
                raise REUSED
            return _replayed(stored.response)
        raise IN_FLIGHT

    async def _run_claimed(
        self,
        principal: str,
        key: str,
        fingerprint: str,
        now: datetime,
        run: Callable[[], Awaitable[Response]],
    ) -> Response | None:
        """Claims the key and runs the write in one unit of work; None: the key had a
        committed record already (nothing ran)."""
        async with self.db.unit() as outcome:
            unit = self.db.current_unit()
            assert unit is not None
            record_id = await store.claim(
                unit.conn,
                principal=principal,
                key=key,
                fingerprint=fingerprint,
                now=now,
                wait_seconds=self.wait_seconds,
            )
            if record_id is None:
                outcome.discard()
                return None
            response = await run()
            # Not an answer: a server error or a body that could not be read as a patch at all
            # (415) is rolled back with its claim, and a retry, fixed or not, runs again.
            if response.status_code >= 500 or response.status_code == 415:
                outcome.discard()
                return response
            kept = {
                "status": response.status_code,
                "etag": response.headers.get("etag"),
                "body": bytes(response.body).decode(),
            }
            answer = orjson.dumps(kept).decode()
            await store.keep_answer(unit.conn, record_id=record_id, response=answer)
        return response


def _replayed(stored: str) -> Response:
    try:
        kept = orjson.loads(stored)
        status, etag, body = int(kept["status"]), kept.get("etag"), str(kept["body"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        raise REUSED from None  # a GraphQL answer under this key: another request
    headers = {REPLAYED[0].decode(): REPLAYED[1].decode()}
    if etag:
        headers["etag"] = etag
    return Response(body, status, headers, media_type=JSON)


async def _fingerprint(request: Request) -> str:
    """The same request: method, path, Content-Type, If-Match and body (as sent)."""
    digest = hashlib.sha256()
    headers = request.headers
    parts = (request.method, request.url.path, headers.get("content-type", ""))
    for part in (*parts, headers.get("if-match", "")):
        digest.update(part.encode() + b"\0")
    digest.update(await request.body())
    return digest.hexdigest()
