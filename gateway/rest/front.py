"""The REST front's routes: each resource's GET and PATCH, every other path under its prefix
(404 or 405 in its dialect, gateway/rest/paths.py), and the OpenAPI document."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from db.database import Database
from gateway.identity.authenticator import Authenticator
from gateway.rest.endpoints import Endpoints
from gateway.rest.failures import Failure
from gateway.rest.openapi import dumps
from gateway.rest.paths import under, unmatched_routes
from gateway.rest.resources import RESOURCES, Resource
from gateway.throttle.throttle import Throttle

OPENAPI_PATH = "/openapi.json"
# A refusal made before any route runs (the body limit's 413): (status, code, message,
# request id) -> the response.
EdgeRefusal = Callable[[int, str, str, str], Response]
_PREFIXES = [(resource.path.partition("{")[0], resource) for resource in RESOURCES]


def rest_routes(
    *,
    db: Database,
    authenticator: Authenticator,
    prompts_url: str,
    throttle: Throttle | None = None,
    idempotency_ttl_seconds: float = 86_400.0,
) -> list[Route]:
    endpoints = Endpoints(
        db=db,
        authenticator=authenticator,
        prompts_url=prompts_url,
        throttle=throttle,
        idempotency_ttl_seconds=idempotency_ttl_seconds,
    )
    document = dumps().encode()  # built once: it depends on the code only

    async def openapi(_: Request) -> Response:
        return Response(document, media_type="application/json")

    routes = [endpoints.route(resource) for resource in RESOURCES]
    unmatched = [
        other
        for route, resource in zip(routes, RESOURCES, strict=True)
        for other in unmatched_routes(route, partial(_refusal, resource))
    ]
    return [*routes, Route(OPENAPI_PATH, openapi, methods=["GET"]), *unmatched]


def edge_refusal(path: str) -> EdgeRefusal | None:
    """For a path under a REST route's prefix, a refusal in that route's own error body (the
    seed page's dialect), so its callers never meet GraphQL's shape; None for any other."""
    for prefix, resource in _PREFIXES:
        if under(path, prefix):
            return partial(_refusal, resource)
    return None


def _refusal(
    resource: Resource[Any], status: int, code: str, message: str, request_id: str
) -> Response:
    body = resource.dialect.render(Failure(status, code, message), request_id)
    return Response(body.model_dump_json(by_alias=True), status, media_type="application/json")
