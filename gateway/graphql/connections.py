"""Open connections per principal in this process: WebSocket connections
(gateway/graphql/websocket.py, one more is closed with 4029) and Server-Sent Events streams
(event_stream.py, one more is refused with 429 TOO_MANY_CONNECTIONS before it streams)
count together against `connections_per_principal`."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from gateway.graphql.refusals import Refusal

TOO_MANY_CONNECTIONS = Refusal(
    "Too many open connections for this principal: close one (WebSocket or event stream)",
    "TOO_MANY_CONNECTIONS",
    429,
)


class Connections:
    """Open connections per principal (organization, subject) in this process."""

    def __init__(self, per_principal: int) -> None:
        self.per_principal = per_principal
        self._open: dict[tuple[Any, str], int] = {}

    def claim(self, key: tuple[Any, str]) -> bool:
        if self._open.get(key, 0) >= self.per_principal:
            return False
        self._open[key] = self._open.get(key, 0) + 1
        return True

    def release(self, key: tuple[Any, str]) -> None:
        self._open[key] -= 1
        if not self._open[key]:
            del self._open[key]


class CountedStream(StreamingResponse):
    """An event stream that holds one of its principal's connections from its first byte
    to its end, however it ends (completed, the client gone, the server stopping); refused
    with `refusal` when the principal has none left. A stream without a principal is not
    counted: it ends at once with UNAUTHORIZED."""

    def __init__(
        self,
        content: AsyncIterator[str],
        headers: Mapping[str, str],
        *,
        connections: Connections,
        key: tuple[Any, str] | None,
        refusal: Response,
    ) -> None:
        super().__init__(content, headers=dict(headers))
        self.connections = connections
        self.key = key
        self.refusal = refusal

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.key is None:
            await super().__call__(scope, receive, send)
            return
        if not self.connections.claim(self.key):
            await self.refusal(scope, receive, send)
            return
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.connections.release(self.key)
