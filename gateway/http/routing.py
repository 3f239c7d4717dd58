"""Starlette, with shortcuts: the busiest paths skip the router."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.http.request_body import BodyRequest


class Gateway(Starlette):
    """A request for exactly `hot_path` skips Starlette's router and its own error and
    exception layers (a few percent of the CPU of a request): the same middleware as every
    other route, then the endpoint. Anything else, the path with a trailing slash or under
    a root_path included, takes Starlette's way to the same endpoint.

    A request that one of `direct_routes` matches fully (path and method, as the router
    would match it) skips the same layers to that route's endpoint: a function of a
    Request that answers every failure itself (the REST front's), so the exception layers
    have nothing to catch there. A partial match (another method) takes Starlette's way."""

    def __init__(
        self,
        *,
        hot_path: str,
        hot_endpoint: ASGIApp,
        direct_routes: Sequence[Route] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        middleware = kwargs.get("middleware") or []
        self.hot_path = hot_path
        self.hot_endpoint = _wrapped(hot_endpoint, middleware)
        # each with the static head of its path: most requests are told apart by that alone
        self.direct_routes = tuple((route.path.partition("{")[0], route) for route in direct_routes)
        self.direct_endpoint = _wrapped(_direct, middleware)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if scope["path"] == self.hot_path:
                scope["app"] = self
                await self.hot_endpoint(scope, receive, send)
                return
            path = scope["path"]
            for head, route in self.direct_routes:
                if not path.startswith(head):
                    continue  # a cheap test first; the route's own match decides
                match, child = route.matches(scope)
                if match is Match.FULL:
                    scope["app"] = self
                    scope.update(child)  # the endpoint and its path parameters
                    await self.direct_endpoint(scope, receive, send)
                    return
        await super().__call__(scope, receive, send)


async def _direct(scope: Scope, receive: Receive, send: Send) -> None:
    """What Starlette's request_response does, less its exception layer."""
    response = await scope["endpoint"](BodyRequest(scope, receive, send))
    await response(scope, receive, send)


def _wrapped(app: ASGIApp, middleware: list[Middleware]) -> ASGIApp:
    for cls, args, kwargs in reversed(middleware):
        app = cls(app, *args, **kwargs)
    return app
