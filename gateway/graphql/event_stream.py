"""GraphQL over Server-Sent Events, the graphql-sse protocol's distinct connections mode: a
POST to /graphql with `Accept: text/event-stream` runs one operation and streams
its results as `event: next` and then `event: complete` (Strawberry's SSE transport).

Such a request is an HTTP request like any other up to the stream: the same authentication,
trusted-documents policy, rate limit's look before parsing and refusals (as JSON, with their
status, before anything streams); the operation-cost cap and the rate-limit charge come
when the operation starts, and a refusal then is the stream's one `next` event. It is not
planned (the fast path answers JSON) and not idempotent (nothing to replay), which is why only
subscriptions stream: a query or mutation sent this way is refused; a subscription keeps
what it was charged (docs/history.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from strawberry.http.streaming import SSETransport
from strawberry.types.graphql import OperationType

from gateway.graphql.negotiation import media_ranges

EVENT_STREAM = "text/event-stream"


class SubscriptionsOnly(SSETransport):
    """Only subscriptions stream. Strawberry's transport streams queries and mutations too,
    and a mutation streamed here would miss what the JSON path gives it (Idempotency-Key,
    the fast path): it is refused, as over WebSocket, and goes over plain HTTP instead."""

    def allowed_operation_types(
        self, allowed_operation_types: set[OperationType]
    ) -> Iterable[OperationType]:
        return (OperationType.SUBSCRIPTION,)

    def accepts(self, accept: str) -> bool:
        # Strawberry's test reads the type alone: it streamed to `text/event-stream;q=0`,
        # which says "not this" (RFC 9110, 12.4.2). Its view and ours both ask this class.
        return _accepts_event_stream(accept)


@lru_cache(maxsize=64)  # asked two or three times a request, of the same few header values
def _accepts_event_stream(accept: str) -> bool:
    return any(media == EVENT_STREAM and weight > 0 for media, weight in media_ranges(accept))


_SSE = SubscriptionsOnly()


def wants_event_stream(accept: str) -> bool:
    """The caller asked for a stream of events (the test Strawberry's view makes too, so
    both agree)."""
    # the substring first, cheaply (most requests); any case, as Strawberry's own test
    return "event-stream" in accept.lower() and _SSE.accepts(accept)
