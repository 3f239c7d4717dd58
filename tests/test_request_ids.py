"""X-Request-ID: a caller's well-formed id is echoed and put in every error, a malformed one is
replaced, and every response (and its access log line) carries one."""

from __future__ import annotations

import logging
import re
from typing import Any

import httpx
import pytest

from gateway.http.edge import EdgeMiddleware
from tests.factories import asgi_client, token
from tests.http_edge import MIB, VIEWER, post, send, top_level_codes

UNAUTHORIZED_TWICE = """
mutation {
  first: updatePrompt(id: "prm_acme_welcome", input: {title: "x"}) {
    __typename ... on Error { code requestId } }
  second: updateGuardrailPool(id: "a1000000-0000-4000-8000-000000000001", input: {name: "x"}) {
    __typename ... on Error { code requestId } }
}
"""

TWO_UNKNOWN_FIELDS = "{ nope alsoNope }"
FORGED_CURSOR = '{ prompts(after: "bm90LWEtY3Vyc29y") { __typename } }'

GENERATED_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")


def all_error_request_ids(body: dict[str, Any]) -> list[str]:
    """requestId of every error in a response: union members anywhere in data, and top-level."""
    found = [error["extensions"]["requestId"] for error in body.get("errors") or []]

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if "code" in value and "requestId" in value:
                found.append(value["requestId"])
            for child in value.values():
                walk(child)
        elif isinstance(value, list):
            for child in value:
                walk(child)

    walk(body.get("data"))
    return found


async def test_callers_request_id_is_echoed_and_in_every_union_error(
    client: httpx.AsyncClient,
) -> None:
    # when: two mutations refused without credentials
    response = await post(client, UNAUTHORIZED_TWICE, headers={"X-Request-ID": "caller-id_1.2"})
    # then
    body = response.json()
    assert response.headers["X-Request-ID"] == "caller-id_1.2"
    assert [body["data"][k]["__typename"] for k in ("first", "second")] == [
        "UnauthorizedError",
        "UnauthorizedError",
    ]
    assert all_error_request_ids(body) == ["caller-id_1.2", "caller-id_1.2"]


@pytest.mark.parametrize(
    ("query", "expected_codes"),
    [
        (TWO_UNKNOWN_FIELDS, ["GRAPHQL_VALIDATION_FAILED", "GRAPHQL_VALIDATION_FAILED"]),
        ("{ viewer ", ["GRAPHQL_PARSE_FAILED"]),
        (FORGED_CURSOR, ["BAD_USER_INPUT"]),
    ],
    ids=["validation", "parse", "execution"],
)
async def test_callers_request_id_is_in_every_top_level_error(
    client: httpx.AsyncClient, query: str, expected_codes: list[str]
) -> None:
    # when
    response = await post(client, query, auth=token(), headers={"X-Request-ID": "req.42"})
    # then
    body = response.json()
    assert response.headers["X-Request-ID"] == "req.42"
    assert top_level_codes(body) == expected_codes
    assert all_error_request_ids(body) == ["req.42"] * len(expected_codes)


@pytest.mark.parametrize("request_id", ["a", "x" * 128, "Az09._-", "0123456789abcdef"])
async def test_well_formed_request_ids_are_kept(client: httpx.AsyncClient, request_id: str) -> None:
    # when
    response = await post(client, VIEWER, headers={"X-Request-ID": request_id})
    # then
    assert response.headers["X-Request-ID"] == request_id
    assert all_error_request_ids(response.json()) == [request_id]


@pytest.mark.parametrize(
    "request_id",
    [
        b"x" * 129,
        b"has space",
        b"semi;colon",
        b"slash/y",
        b'quote"',
        b"new\\nline",
        b"\xc3\xbcnicode",
        b"",
    ],
    ids=["129-chars", "space", "semicolon", "slash", "quote", "backslash", "non-ascii", "empty"],
)
async def test_malformed_request_ids_are_replaced(
    client: httpx.AsyncClient, request_id: bytes
) -> None:
    # when
    response = await send(
        client,
        "POST",
        "/graphql",
        json={"query": VIEWER},
        headers=[("X-Request-ID", request_id)],
    )
    # then
    generated = response.headers["X-Request-ID"]
    assert generated.encode() != request_id
    assert GENERATED_ID.fullmatch(generated)
    assert all_error_request_ids(response.json()) == [generated]


async def test_without_a_request_id_each_response_gets_its_own(client: httpx.AsyncClient) -> None:
    # when
    first = await post(client, VIEWER)
    second = await post(client, VIEWER)
    # then
    ids = [first.headers["X-Request-ID"], second.headers["X-Request-ID"]]
    assert all(GENERATED_ID.fullmatch(request_id) for request_id in ids)
    assert ids[0] != ids[1]
    assert all_error_request_ids(first.json()) == [ids[0]]
    assert all_error_request_ids(second.json()) == [ids[1]]


@pytest.mark.parametrize(
    ("method", "url", "kwargs"),
    [
        ("GET", "/healthz", {}),
        ("GET", "/readyz", {}),
        ("GET", "/graphql", {"headers": {"Accept": "text/html"}}),
        ("POST", "/graphql", {"json": [{"query": "{ __typename }"}]}),
        ("POST", "/graphql", {"content": b"x" * (MIB + 1)}),
        ("POST", "/graphql", {"content": b"{}", "headers": {"Content-Type": "text/plain"}}),
        ("GET", "/no-such-path", {}),
    ],
    ids=["healthz", "readyz", "graphiql", "batch", "too-large", "content-type", "404"],
)
async def test_every_response_has_a_request_id(
    client: httpx.AsyncClient, method: str, url: str, kwargs: dict[str, Any]
) -> None:
    # given
    headers = {"X-Request-ID": "everywhere", **kwargs.pop("headers", {})}
    # when
    response = await send(client, method, url, headers=headers, **kwargs)
    # then
    assert response.headers["X-Request-ID"] == "everywhere"


async def test_access_log_line_carries_the_request_id(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    caplog.set_level(logging.INFO, logger="patchbay.access")
    # when
    own = await post(client, VIEWER, headers={"X-Request-ID": "logged-request-1"})
    generated = await post(client, VIEWER)
    # then
    lines = [r.getMessage() for r in caplog.records if r.name == "patchbay.access"]
    assert own.headers["X-Request-ID"] == "logged-request-1"
    assert any(
        '"method":"POST","path":"/graphql","status":200' in line and "logged-request-1" in line
        for line in lines
    )
    assert any(generated.headers["X-Request-ID"] in line for line in lines)


@pytest.mark.logs_a_failure
async def test_an_unhandled_error_is_a_masked_500_that_keeps_the_request_id() -> None:
    # given: the real middleware around an ASGI app with a bug
    async def broken(scope: dict[str, object], receive: object, send: object) -> None:
        raise RuntimeError("a bug with a secret: hunter2")

    app = EdgeMiddleware(broken)  # type: ignore[arg-type]
    async with asgi_client(app, raise_app_exceptions=False) as c:
        # when
        response = await c.get("/anything", headers={"X-Request-ID": "req-123"})
    # then
    assert response.status_code == 500
    assert response.headers["x-request-id"] == "req-123"
    assert response.json() == {
        "errors": [
            {
                "message": "Internal server error",
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": "req-123"},
            }
        ]
    }
    assert "hunter2" not in response.text
