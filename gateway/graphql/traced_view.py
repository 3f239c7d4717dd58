"""The GraphQL view when tracing is on: one span per GraphQL request, around either executor,
named after the operation and carrying what the access line carries (operation, results,
principal kind) and the document's SHA-256 (never its text, nor the variables). No span per
field: the database spans nest directly under it.

A separate class, so that with tracing off the view makes no OpenTelemetry call at all."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from starlette.types import Message, Receive, Scope, Send

from gateway.graphql.transport import decode_json
from gateway.graphql.view import PatchbayGraphQL
from gateway.observe.observed import STATE_KEY, Observed

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

MAX_OPERATION_CHARS = 100  # a caller chooses it: keep span names short


class TracedGraphQL(PatchbayGraphQL):
    def __init__(self, *args: Any, tracer: Tracer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        body = bytearray()

        async def recording_receive() -> Message:  # the document's hash needs the body
            message = await receive()
            body.extend(message.get("body", b""))
            return message

        with self.tracer.start_as_current_span("graphql") as span:
            if not span.is_recording():  # not sampled: nothing to describe
                await super().__call__(scope, receive, send)
                return
            await super().__call__(scope, recording_receive, send)
            _describe(span, scope.get("state", {}).get(STATE_KEY), _digest(scope, bytes(body)))


def _describe(span: Span, observed: Observed | None, digest: str | None) -> None:
    if digest is not None:
        span.set_attribute("graphql.document.sha256", digest)
    if observed is None:  # refused before anything ran
        return
    if observed.operation:
        name = observed.operation[:MAX_OPERATION_CHARS]
        span.update_name(f"graphql {name}")
        span.set_attribute("graphql.operation.name", name)
    span.set_attribute("patchbay.results", sorted(observed.results))
    principal = observed.authenticated_principal
    if principal is not None:
        span.set_attribute("patchbay.principal.kind", principal.kind.value)


def _digest(scope: Scope, body: bytes) -> str | None:
    """The SHA-256 of the document, as persisted queries name it; a persisted query's own
    hash when only that was sent."""
    if scope["method"] == "GET":
        params = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        query: Any = params.get("query", [None])[0]
        extensions: Any = params.get("extensions", [None])[0]
    else:
        try:
            data = decode_json(body)
        except ValueError:
            return None
        query = data.get("query") if isinstance(data, dict) else None
        extensions = data.get("extensions") if isinstance(data, dict) else None
    if isinstance(query, str) and query:
        return hashlib.sha256(query.encode("utf-8", "surrogatepass")).hexdigest()
    return _persisted_hash(extensions)


def _persisted_hash(extensions: Any) -> str | None:
    if isinstance(extensions, str):
        try:
            extensions = decode_json(extensions)
        except ValueError:
            return None
    persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
    digest = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
    return digest.lower() if isinstance(digest, str) else None
