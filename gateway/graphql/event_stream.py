"""GraphQL over Server-Sent Events, the graphql-sse protocol's distinct connections mode: a
POST to /graphql with `Accept: text/event-stream` runs one operation and streams
its results as `event: next` and then `event: complete` (Strawberry's SSE transport).

Such a request is an HTTP request like any other up to the stream: the same authentication,
trusted-documents policy, rate limit's look before parsing and refusals (as JSON, with their
status, before anything streams); the operation-cost cap and the rate-limit charge come
when the operation starts, and a refusal then is the stream's one `next` event. It is not
planned (the fast path answers JSON) and not idempotent (nothing to replay); a subscription
keeps what it was charged (docs/history.md).
"""

from __future__ import annotations

from strawberry.http.streaming import SSETransport

_SSE = SSETransport()


def wants_event_stream(accept: str) -> bool:
    """The caller asked for a stream of events (Strawberry's own test, so both agree)."""
    return "event-stream" in accept and _SSE.accepts(accept)
