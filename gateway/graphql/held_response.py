"""ASGI pieces of idempotent answers: a response held back until its transaction is done,
a body read once and given again, and the JSON refusals."""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
from starlette.types import Message, Receive, Scope, Send

from gateway.graphql.transport import JSON_HEADERS, encode_json
from gateway.http.request_id import current_request_id


@dataclass
class HeldResponse:
    """The response the request would send, held back until its transaction is done."""

    start: Message | None = None
    chunks: list[bytes] = field(default_factory=list)

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))

    def text(self) -> str:
        return b"".join(self.chunks).decode()

    def is_answer(self) -> bool:
        """A 200 with data and no top-level error: what a retry must get again."""
        if self.start is None or self.start["status"] != 200:
            return False
        try:
            body = orjson.loads(b"".join(self.chunks))
        except orjson.JSONDecodeError:
            return False
        return isinstance(body, dict) and "data" in body and "errors" not in body

    async def forward(self, send: Send) -> None:
        if self.start is None:
            return
        await send(self.start)
        await send({"type": "http.response.body", "body": b"".join(self.chunks)})


def body_then(body: bytes, receive: Receive) -> Receive:
    """The body already read, then the connection's own messages (a disconnect)."""
    given = False

    async def replay() -> Message:
        nonlocal given
        if given:
            return await receive()
        given = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def refuse(scope: Scope, send: Send, status: int, code: str, message: str) -> None:
    extensions = {"code": code, "requestId": current_request_id(scope)}
    await send_json(
        send, status, encode_json({"errors": [{"message": message, "extensions": extensions}]})
    )


async def send_json(send: Send, status: int, body: bytes, *extra: tuple[bytes, bytes]) -> None:
    headers = [*JSON_HEADERS, (b"content-length", b"%d" % len(body)), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
