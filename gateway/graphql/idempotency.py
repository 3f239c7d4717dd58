"""Idempotency-Key on a mutation request: a retry gets the first answer, never a second write.

The key is the caller's (scoped to the authenticated principal). The first request claims
it and runs inside one unit of work (db/unit.py) with the claim; its answer is stored in
the same transaction as its writes, and sent only once that transaction committed. A retry
with the same key and the same request (operation, document, variables) gets the stored
answer with `Idempotent-Replayed: true`; the same key with another request is refused (422).
A twin that arrives while the first still runs waits for it (up to half the database
timeout), then gets the stored answer; past that wait, IDEMPOTENCY_KEY_IN_FLIGHT (409).

Answers with top-level errors (a server error, SERVICE_UNAVAILABLE) are rolled back with
their writes and not kept: a retry runs again. Documented failures (union members) are
answers like successes. Dry runs keep nothing. Queries and requests without a principal
run as if no key were sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send

from db import idempotency as store
from db.database import Database
from db.errors import DatabaseUnavailable, WriteOutcomeUnknown
from gateway.authorization import authorization_header
from gateway.graphql.held_response import HeldResponse, body_then, refuse, send_json
from gateway.graphql.persisted_queries import PersistedQueries, PersistedQueryError
from gateway.graphql.transport import (
    BODY_DECODED,
    PERSISTED_QUERY_MISSED,
    decode_json,
    encode_json,
)
from gateway.graphql.trusted_documents import TrustedDocuments
from gateway.http.idempotency_key import KEY, REPLAYED, idempotency_key
from gateway.http.request_body import BODY_READ, read_body
from gateway.identity.authenticator import Authenticator
from schema.idempotent import mutation_key
from schema.request_errors import MASKED_MESSAGES

DIRECTIVE = "idempotent"  # GraphQL lets ignored tokens stand between `@` and the name
Serve = Callable[[Scope, Receive, Send], Awaitable[None]]


def _may_carry_the_directive(data: object) -> bool:
    """The request may hold @idempotent: its document names it (read from the decoded body,
    so a JSON escape cannot hide the name), or it names a stored document (a trusted
    documentId, a persisted-query hash) that may."""
    if not isinstance(data, dict):
        return False
    query, extensions = data.get("query"), data.get("extensions")
    return (
        (isinstance(query, str) and DIRECTIVE in query)
        or "documentId" in data
        or (isinstance(extensions, dict) and "persistedQuery" in extensions)
    )


def _hand_over(scope: Scope, body: bytes, data: object) -> None:
    """The body, and what it decoded to, for the view to take instead of reading and
    decoding it again."""
    state = scope.setdefault("state", {})
    state[BODY_READ] = body
    if data is not None:
        state[BODY_DECODED] = data


@dataclass(frozen=True, slots=True)
class _Request:
    principal: str
    key: str
    fingerprint: str


class Idempotency:
    def __init__(
        self,
        *,
        db: Database,
        authenticator: Authenticator,
        ttl_seconds: float,
        persisted: PersistedQueries,
        trusted: TrustedDocuments,
    ) -> None:
        self.db = db
        self.trusted = trusted
        self.authenticator = authenticator
        self.ttl = timedelta(seconds=ttl_seconds)
        self.persisted = persisted
        self.wait_seconds = db.timeout_seconds / 2

    async def __call__(self, scope: Scope, receive: Receive, send: Send, serve: Serve) -> None:
        """Every POST: one with the header or the @idempotent directive is answered once per
        key; any other is served as it came."""
        header = idempotency_key(scope)
        body = await read_body(receive)
        try:
            data = decode_json(body)
        except ValueError:  # the view refuses it, in its own words
            data = None
        if header is None and not _may_carry_the_directive(data):
            _hand_over(scope, body, data)
            await serve(scope, receive, send)
            return
        try:
            request = await self._identify(scope, data, header)
        except _InvalidKey:
            message = "Idempotency-Key must be 1-255 visible ASCII characters"
            await refuse(scope, send, 400, "IDEMPOTENCY_KEY_INVALID", message)
            return
        if request is None:
            _hand_over(scope, body, data)
            await serve(scope, receive, send)
            return
        try:
            for _ in range(3):  # a twin rolled back, or an expired record was removed: again
                if await self._answer(request, scope, body_then(body, receive), send, serve):
                    return
        except DatabaseUnavailable:  # reading the stored answer
            await refuse(scope, send, 503, "SERVICE_UNAVAILABLE", UNAVAILABLE)
            return
        await refuse(scope, send, 409, "IDEMPOTENCY_KEY_IN_FLIGHT", IN_FLIGHT)

    async def _identify(self, scope: Scope, data: object, header: str | None) -> _Request | None:
        """The key, caller and fingerprint of an authenticated mutation; None for anything
        else (a query, no principal, a body Strawberry must refuse itself)."""
        if header is not None and not KEY.fullmatch(header):
            raise _InvalidKey
        if not isinstance(data, dict):
            return None
        document = await self._document(data, scope.setdefault("state", {}))
        operation_name, variables = data.get("operationName"), data.get("variables")
        if document is None or not isinstance(operation_name, str | None):
            return None
        if header is None and DIRECTIVE not in document:  # (a stored one without it)
            return None
        directive_key = mutation_key(document, operation_name, variables)
        if directive_key is None:
            return None  # not a mutation: nothing to run twice
        key = header if header is not None else directive_key.key
        if key is None:
            return None
        if not KEY.fullmatch(key):
            raise _InvalidKey
        principal = await self.authenticator.authenticate(authorization_header(scope["headers"]))
        if principal is None:
            return None
        fingerprint = _fingerprint(document, operation_name, variables)
        return _Request(principal.scope_key, key, fingerprint)

    async def _document(self, data: dict[str, Any], state: dict[str, Any]) -> str | None:
        """The document the body runs: its query, the trusted document its documentId names,
        or the one its persisted-query hash stands for (None: the view refuses the request
        itself). Nothing is registered here: the view does that when the request runs; a
        hash the store does not know is marked in `state`, for the view not to ask again."""
        query, extensions = data.get("query"), data.get("extensions")
        document_id = data.get("documentId")
        if isinstance(document_id, str) and query is None:
            return self.trusted.body_of(document_id)
        if isinstance(extensions, dict) and "persistedQuery" in extensions:
            persisted = extensions["persistedQuery"]
            try:
                if isinstance(query, str):
                    return PersistedQueries.verify(query, persisted)
                # as the view resolves it: a trusted document by its hash, whatever the
                # extension's version says, then the automatic store (which checks it)
                digest = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
                trusted = self.trusted.body_of(digest) if isinstance(digest, str) else None
                if trusted is not None or self.trusted.policy == "enforce":
                    return trusted  # (enforce: the view asks no store either)
                return await self.persisted.resolve(None, persisted)
            except PersistedQueryError as error:
                if error.code == "PERSISTED_QUERY_NOT_FOUND":  # (or the store unavailable)
                    state[PERSISTED_QUERY_MISSED] = True
                return None
        return query if isinstance(query, str) else None

    async def _answer(
        self, request: _Request, scope: Scope, receive: Receive, send: Send, serve: Serve
    ) -> bool:
        """Runs the request under its claim, or replays the stored answer. False: no answer
        yet (the key's record came and went meanwhile), try again."""
        now = datetime.now(UTC)
        captured = HeldResponse()
        try:
            claimed = await self._run_claimed(request, now, scope, receive, captured, serve)
        except store.KeyInFlight:
            await refuse(scope, send, 409, "IDEMPOTENCY_KEY_IN_FLIGHT", IN_FLIGHT)
            return True
        except DatabaseUnavailable:
            await refuse(scope, send, 503, "SERVICE_UNAVAILABLE", UNAVAILABLE)
            return True
        except WriteOutcomeUnknown:
            await refuse(scope, send, 503, "OUTCOME_UNKNOWN", OUTCOME_UNKNOWN)
            return True
        if claimed:
            await captured.forward(send)  # only now: its writes and answer are committed
            return True
        async with self.db.read() as conn:
            stored = await store.find(conn, principal=request.principal, key=request.key)
        if stored is None or stored.response is None:
            return False  # the first rolled back (a server error): this one may run
        if stored.created_at < now - self.ttl:
            await store.forget_expired(self.db, record_id=stored.id, before=now - self.ttl)
            return False
        if stored.fingerprint != request.fingerprint:
            message = "this Idempotency-Key was used for a different request"
            await refuse(scope, send, 422, "IDEMPOTENCY_KEY_REUSED", message)
            return True
        await send_json(send, 200, stored.response.encode(), REPLAYED)
        return True

    async def _run_claimed(
        self,
        request: _Request,
        now: datetime,
        scope: Scope,
        receive: Receive,
        captured: HeldResponse,
        serve: Serve,
    ) -> bool:
        """Claims the key and runs the request in one unit of work. False: the key had a
        committed record already (nothing ran)."""
        async with self.db.unit() as outcome:
            unit = self.db.current_unit()
            assert unit is not None
            record_id = await store.claim(
                unit.conn,
                principal=request.principal,
                key=request.key,
                fingerprint=request.fingerprint,
                now=now,
                wait_seconds=self.wait_seconds,
            )
            if record_id is None:
                outcome.discard()
                return False
            await serve(scope, receive, captured)
            if unit.keeps_answer and captured.is_answer():
                await store.keep_answer(unit.conn, record_id=record_id, response=captured.text())
            else:
                outcome.discard()  # a dry run, or top-level errors: nothing kept
        return True


IN_FLIGHT = (
    "a request with this Idempotency-Key is still running: retry it with the same key shortly"
)
UNAVAILABLE = MASKED_MESSAGES["SERVICE_UNAVAILABLE"]
OUTCOME_UNKNOWN = (
    "The database stopped answering while the write was committed: retry with the same "
    "Idempotency-Key, which answers whether it was applied"
)


class _InvalidKey(Exception):
    """The key sent is not 1-255 visible ASCII characters."""


def _fingerprint(document: str, operation_name: str | None, variables: Any) -> str:
    """The same request: operation, document (by its hash) and variables (keys sorted)."""
    digest = hashlib.sha256(document.encode("utf-8", "surrogatepass")).hexdigest()
    try:
        canonical = orjson.dumps([operation_name, digest, variables], option=orjson.OPT_SORT_KEYS)
    except TypeError:  # what orjson refuses (a lone surrogate, a huge integer): the stdlib
        canonical = encode_json([operation_name, digest, variables])
    return hashlib.sha256(canonical).hexdigest()
