"""A path no route serves, or a method its route does not, is refused as every other refusal
of the gateway is: JSON with a code and the request id (404, or 405 with Allow), never
Starlette's text/plain page. The routes' own answers stay theirs."""

from __future__ import annotations

import httpx
import pytest

from tests.http_edge import assert_refusal_body, send


def _assert_refusal(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert_refusal_body(response, code)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nope"),
        ("POST", "/v1/nothing"),
        ("DELETE", "/graphql/more"),
        ("GET", "/graphiql/assets/not-a-file.js"),
    ],
)
async def test_a_path_no_route_serves_is_a_json_404(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    # when
    response = await send(client, method, path, headers={"X-Request-ID": "unrouted-1"})
    # then
    _assert_refusal(response, 404, "NOT_FOUND")
    assert response.headers["x-request-id"] == "unrouted-1"


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/healthz"), ("DELETE", "/readyz"), ("PUT", "/openapi.json"), ("POST", "/metrics")],
)
async def test_a_method_the_route_does_not_serve_is_a_json_405_with_allow(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    # when
    response = await send(client, method, path)
    # then
    _assert_refusal(response, 405, "METHOD_NOT_ALLOWED")
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD"}


async def test_the_routes_own_answers_are_unchanged(client: httpx.AsyncClient) -> None:
    # when
    rest = await send(client, "GET", "/v1/prompts/prm_acme_welcome/")
    slash = await send(client, "GET", "/healthz/")
    graphql = await send(client, "PUT", "/graphql")
    # then
    assert (rest.status_code, rest.json()["code"]) == (404, "NOT_FOUND")  # its seed dialect
    assert (slash.status_code, slash.headers["location"]) == (307, "http://patchbay.test/healthz")
    assert (graphql.status_code, graphql.headers["allow"]) == (405, "GET, POST")
