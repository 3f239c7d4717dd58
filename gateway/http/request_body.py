"""A request's body, read without Starlette's stream generator (several µs per request)."""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request
from starlette.types import Receive

# Scope state: the body an outer layer read already (gateway/graphql/idempotency.py), for
# the view to take instead of a replaying `receive` and a second read of it
BODY_READ = "body_read"


async def read_body(receive: Receive) -> bytes:
    """The whole request body (what Request.body does, without its stream generator)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


class BodyRequest(Request):
    """A Request whose body() reads with read_body, kept where Starlette keeps it (its
    stream() and every later body() read that copy)."""

    async def body(self) -> bytes:
        if not hasattr(self, "_body"):
            self._body = await read_body(self._receive)
        return self._body


def header(request: Request, name: bytes) -> str | None:
    """The first value of a header (`name` in lower case), as Headers.get gives it, without
    building the Headers object."""
    for key, value in request.scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None
