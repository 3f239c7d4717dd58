"""What Starlette's router answers with a text/plain page, a path no route serves (404) and
a method its route does not serve (405), answered as the gateway's other refusals are."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from gateway.http.refusal import refusal
from gateway.http.request_id import current_request_id

NO_ROUTE = "Nothing is served at this path: GraphQL is at /graphql, the REST paths in /openapi.json"
NOT_ALLOWED = "This path does not serve this method: the Allow header lists those it does"


async def no_route(request: Request, _: Exception) -> Response:
    request_id = current_request_id(request.scope)
    return refusal(NO_ROUTE, code="NOT_FOUND", status=404, request_id=request_id)


async def method_not_allowed(request: Request, error: Exception) -> Response:
    request_id = current_request_id(request.scope)
    response = refusal(NOT_ALLOWED, code="METHOD_NOT_ALLOWED", status=405, request_id=request_id)
    if isinstance(error, HTTPException) and error.headers:
        response.headers.update(error.headers)  # the route's Allow
    return response


# Starlette's exception handlers by status: its router raises these two when it finds no route
ROUTER_REFUSALS = {404: no_route, 405: method_not_allowed}
