"""Starlette, with one shortcut: the busiest path skips the router."""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send


class Gateway(Starlette):
    """A request for exactly `hot_path` skips Starlette's router and its own error and
    exception layers (a few percent of the CPU of a request): the same middleware as every
    other route, then the endpoint. Anything else, the path with a trailing slash or under
    a root_path included, takes Starlette's way to the same endpoint."""

    def __init__(self, *, hot_path: str, hot_endpoint: ASGIApp, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hot_path = hot_path
        self.hot_endpoint = _wrapped(hot_endpoint, kwargs.get("middleware") or [])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == self.hot_path:
            scope["app"] = self
            await self.hot_endpoint(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _wrapped(app: ASGIApp, middleware: list[Middleware]) -> ASGIApp:
    for cls, args, kwargs in reversed(middleware):
        app = cls(app, *args, **kwargs)
    return app
