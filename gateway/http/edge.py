"""The outermost layer: a request id on every response, a masked 500 for a bug of ours,
and one call to `on_finished` per request (the access line and the metrics hang there)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from db.history import REQUEST_ID
from gateway.http.masked_errors import internal_error
from gateway.http.request_id import HEADER, request_id_of

log = logging.getLogger("patchbay")
CLIENT_CLOSED_REQUEST = 499  # nginx's status for a client that closed the connection first
# (scope, status, seconds): called once per HTTP request, after its response.
Finished = Callable[[Scope, int, float], None]


class EdgeMiddleware:
    """One ASGI layer for the three jobs every request needs: a layer each would cost a
    wrapper per response message (see README: performance)."""

    def __init__(self, app: ASGIApp, on_finished: Finished | None = None) -> None:
        self.app = app
        self.on_finished = on_finished

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        REQUEST_ID.set(request_id)  # for the history entries the request's writes record
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                # ASGI header names are lower-case: a plain comparison finds ours
                headers = [(k, v) for k, v in message.get("headers", ()) if k != HEADER]
                message["headers"] = [*headers, (HEADER, request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except ClientDisconnect:
            # The caller went away before its body arrived: its event, not a failure of
            # ours. Nothing can be answered; the access line and metrics say 499.
            status = CLIENT_CLOSED_REQUEST
            log.info("client disconnected before its request was read request_id=%s", request_id)
        except asyncio.CancelledError:
            # The server cancelled the request (the client is gone, or a shutdown): no
            # answer was sent, and it was no failure of ours either.
            if not response_started:
                status = CLIENT_CLOSED_REQUEST
            raise
        except Exception:
            # A bug of ours escaped every handler: log it under the request id and answer a
            # masked 500 that still carries the id (Starlette's own 500 page would not).
            log.exception("unhandled error request_id=%s", request_id)
            if response_started:
                raise
            await internal_error(request_id)(scope, receive, send_with_id)
        finally:
            if self.on_finished is not None:
                self.on_finished(scope, status, time.perf_counter() - started)
