"""Refuses request bodies over a size with 413, before anything parses them."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.http.refusal import refusal
from gateway.http.request_id import current_request_id


class BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared, chunked = _framing(scope)
        if declared is not None:
            if not declared.isdigit() or int(declared) > self.max_bytes:
                await _refuse(scope, receive, send, self.max_bytes)
                return
            if not chunked:
                # The server frames the body by its declared length: it cannot run over.
                await self.app(scope, receive, send)
                return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:  # chunked bodies declare no length
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _refuse(scope, receive, send, self.max_bytes)


def _framing(scope: Scope) -> tuple[bytes | None, bool]:
    """The declared Content-Length, and whether a Transfer-Encoding is declared too."""
    length, chunked = None, False
    for key, value in scope["headers"]:
        if key == b"content-length":
            length = bytes(value)
        elif key == b"transfer-encoding":
            chunked = True
    return length, chunked


async def _refuse(scope: Scope, receive: Receive, send: Send, max_bytes: int) -> None:
    answer = refusal(
        f"Request body too large: at most {max_bytes} bytes",
        code="PAYLOAD_TOO_LARGE",
        status=413,
        request_id=current_request_id(scope),
    )
    await answer(scope, receive, send)
