"""Refuses request bodies over a size with 413, before anything parses them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.http.refusal import refusal
from gateway.http.request_id import current_request_id

CODE = "PAYLOAD_TOO_LARGE"


class BodyTooLarge(Exception):
    pass


# A front's own refusal for a path, if it has one: (status, code, message, request id) ->
# the response (the REST routes answer in their seed page's error body).
RefusalFor = Callable[[str], Callable[[int, str, str, str], Response] | None]


class BodyLimitMiddleware:
    def __init__(
        self, app: ASGIApp, *, max_bytes: int, refusal_for: RefusalFor | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.refusal_for = refusal_for

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """The app's own coroutine when there is nothing to count: no frame of ours stays
        between the server and the app for the whole request (every request has one)."""
        if scope["type"] != "http":
            return self.app(scope, receive, send)
        declared, chunked = _framing(scope)
        if declared is not None:
            if not declared.isdigit() or int(declared) > self.max_bytes:
                return self._refuse(scope, receive, send)
            if not chunked:
                # The server frames the body by its declared length: it cannot run over.
                return self.app(scope, receive, send)
        return self._counted(scope, receive, send)

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A body without a declared length (chunked), counted as it arrives."""
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
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        message = f"Request body too large: at most {self.max_bytes} bytes"
        request_id = current_request_id(scope)
        own = self.refusal_for(scope["path"]) if self.refusal_for is not None else None
        if own is not None:
            answer = own(413, CODE, message, request_id)
        else:
            answer = refusal(message, code=CODE, status=413, request_id=request_id)
        await answer(scope, receive, send)


def _framing(scope: Scope) -> tuple[bytes | None, bool]:
    """The declared Content-Length, and whether a Transfer-Encoding is declared too."""
    length, chunked = None, False
    for key, value in scope["headers"]:
        if key == b"content-length":
            length = bytes(value)
        elif key == b"transfer-encoding":
            chunked = True
    return length, chunked
