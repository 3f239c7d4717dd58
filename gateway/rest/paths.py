"""The REST front's paths: a resource's `{id}` is one segment of the path as the caller sent
it, percent-decoded (a prompt id may hold a `/`, sent as `%2F`); any other path under a
resource's prefix is that resource's 404 (or 405), in its own error dialect, never
Starlette's text/plain page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Scope

from gateway.http.request_id import current_request_id

# (status, code, message, request id): the route's failure in its dialect (gateway/rest/front.py)
Refuse = Callable[[int, str, str, str], Response]
NO_ROUTE = "no route matches this path: see /openapi.json"
NOT_ALLOWED = "this path serves GET and PATCH"


class IdRoute(Route):
    """A resource's route, `{prefix}/{id}`. Starlette matches the decoded path, where
    `/prompts/a%2Fb` is two segments and no route; this route also matches the path as
    sent, where it is the one id `a/b`."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, endpoint, **kwargs)
        self.prefix = path.partition("{")[0]  # "/prompts/"
        if path != self.prefix + "{id}":
            raise ValueError(f"an id route's path ends in its one parameter, {{id}}: {path}")

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        # The common case without Starlette's regular expression and its dicts (~1.5 µs a
        # request): what `^{prefix}(?P<id>[^/]+)$` matches, at the app's root.
        if scope["type"] == "http" and not scope.get("root_path") and "path_params" not in scope:
            path: str = scope["path"]
            segment = path[len(self.prefix) :]
            if path.startswith(self.prefix) and segment and "/" not in segment:
                found: Scope = {"endpoint": self.endpoint, "path_params": {"id": segment}}
                if self.methods and scope["method"] not in self.methods:
                    return Match.PARTIAL, found
                return Match.FULL, found
        match, child = super().matches(scope)
        if match is not Match.NONE or scope["type"] != "http":
            return match, child
        raw_id = encoded_id(scope, self.prefix)
        if raw_id is None:
            return Match.NONE, {}
        child = {"endpoint": self.endpoint, "path_params": {"id": raw_id}}
        if self.methods and scope["method"] not in self.methods:
            return Match.PARTIAL, child
        return Match.FULL, child


def encoded_id(scope: Scope, prefix: str) -> str | None:
    """The id of a path `prefix` + one percent-encoded segment holding a `/`; None for any
    other path."""
    raw = scope.get("raw_path")
    # the common case, cheaply (find, not `in`: bytes' `in` formats and drops a TypeError)
    if not raw or raw.lower().find(b"%2f") < 0:
        return None
    route_path = _route_path(scope)
    if not route_path.startswith(prefix):
        return None
    segment = raw.split(b"?", 1)[0].rsplit(b"/", 1)[-1]
    raw_id = unquote(segment.decode("latin-1"))  # as the server decoded the whole path
    return raw_id if raw_id and prefix + raw_id == route_path else None


def _route_path(scope: Scope) -> str:
    """The path the router matches: below the app's root path, as Starlette's own."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def unmatched_routes(route: IdRoute, refuse: Refuse) -> list[Route]:
    """Every other path under the route's prefix (and the prefix itself), any method: a 405
    where the route matched all but the method, else a 404, each in the route's dialect."""

    async def unmatched(request: Request) -> Response:
        request_id = current_request_id(request.scope)
        match, _ = route.matches(request.scope)
        if match is not Match.PARTIAL:
            return refuse(404, "NOT_FOUND", NO_ROUTE, request_id)
        response = refuse(405, "METHOD_NOT_ALLOWED", NOT_ALLOWED, request_id)
        response.headers["allow"] = ", ".join(sorted(route.methods or ()))
        return response

    prefix = route.prefix
    return [_AnyMethod(path, unmatched) for path in (prefix + "{rest:path}", prefix.rstrip("/"))]


class _AnyMethod(Route):
    """A route of every method (Starlette gives a function's route GET alone, and answers
    any other with its own text/plain 405)."""

    def __init__(self, path: str, endpoint: Callable[..., Any]) -> None:
        super().__init__(path, endpoint)
        self.methods = None


def under(path: str, prefix: str) -> bool:
    """The path is the prefix's, or under it."""
    return path.startswith(prefix) or path == prefix.rstrip("/")
