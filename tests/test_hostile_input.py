"""Hostile strings anywhere in a request, and hostile Authorization headers, never leak
internals nor become a server error."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from db.database import Database
from tests.factories import token
from tests.http_edge import PROMPT, UPDATE_POOL, UPDATE_PROMPT, VIEWER, send

POOL = """
query Pool($id: ID!) {
  guardrailPool(id: $id) { __typename ... on Error { code message } }
}
"""

LONE_SURROGATE = "\ud800"
HOSTILE_STRINGS = [
    "a\x00b",
    "x" * 300,
    LONE_SURROGATE,
    "a" + LONE_SURROGATE + "b",
    "\udfff",
    "' OR 1=1 --",
    '"; DROP TABLE prompts; --',
    "prm_acme_welcome\x00",
    "%00",
    "\u202e\u0000\ufeff",
]


def raw_json(payload: dict[str, Any]) -> bytes:
    """JSON with lone surrogates kept as \\ud800 escapes (json.dumps' default ensure_ascii)."""
    return json.dumps(payload).encode()


async def test_hostile_inputs_never_leak_internals_or_fail(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given: every hostile string in every place a caller controls
    requests: list[tuple[str, dict[str, Any]]] = []
    for value in HOSTILE_STRINGS:
        requests += [
            (PROMPT, {"id": value}),
            (POOL, {"id": value}),
            ("query($after: String) { prompts(after: $after) { __typename } }", {"after": value}),
            (UPDATE_PROMPT, {"input": {"name": value}}),
            (UPDATE_PROMPT, {"input": {"title": value, "description": value}}),
            (UPDATE_PROMPT, {"input": {"content": value, "model": value}}),
            (UPDATE_PROMPT, {"input": {"tags": [value, value]}}),
            (UPDATE_PROMPT, {"input": {"requestId": value}}),
            (UPDATE_PROMPT, {"input": {"fileName": value}}),
            (UPDATE_PROMPT, {"input": {"expectedUpdatedAt": value}}),
            (UPDATE_POOL, {"input": {"name": value, "slug": value}}),
        ]
    requests += [
        ("{ prompts(first: 99999999999999999999) { __typename } }", {}),
        ("query($f: Int!) { prompts(first: $f) { __typename } }", {"f": 2**70}),
        ("query($f: Int!) { prompts(first: $f) { __typename } }", {"f": -(2**31)}),
        ("query($f: Int!) { prompts(first: $f) { __typename } }", {"f": 1e308}),
        ('{ prompt(id: "a\\u0000b") { __typename } }', {}),
    ]
    # when
    responses = []
    for query, variables in requests:
        for auth in (token(), token(scope="prompts:read"), "garbage"):
            responses.append(
                await send(
                    client,
                    "POST",
                    "/graphql",
                    content=raw_json({"query": query, "variables": variables}),
                    headers={"Content-Type": "application/json", "Authorization": f"Bearer {auth}"},
                )
            )
    # then
    for response in responses:
        assert response.status_code == 200, response.text
        codes = {e["extensions"]["code"] for e in response.json().get("errors") or []}
        assert not codes & {"INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE"}, response.text


@pytest.mark.parametrize(
    "authorization",
    [
        b"Bearer a\x00b",
        b"Bearer \xff\xfe\xfd",
        b"Bearer am_live_" + b"\x00" * 40,
        b"Bearer " + b"x" * 20_000,
        b"Bearer " + b"." * 3,
        b"Bearer eyJhbGciOiJIUzI1NiJ9." + b"A" * 5000 + b".sig",
        b"Bearer \xed\xa0\x80",
    ],
    ids=["nul", "latin-1", "api-key-nul", "huge", "dots", "huge-payload", "surrogate-utf8"],
)
async def test_hostile_authorization_headers_are_just_unauthorized(
    client: httpx.AsyncClient, authorization: bytes
) -> None:
    # when
    response = await send(
        client,
        "POST",
        "/graphql",
        json={"query": VIEWER},
        headers=[("Authorization", authorization)],
    )
    # then
    assert response.status_code == 200
    assert response.json()["data"]["viewer"]["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize(
    "body",
    [
        '{"query": "query A { __typename }", "operationName": "\\ud800"}',
        '{"query": "query A { __typename }\\ud800", "extensions": {"persistedQuery": '
        '{"version": 1, "sha256Hash": "00"}}}',
    ],
    ids=["operation-name", "persisted-query"],
)
async def test_a_lone_surrogate_outside_the_document_is_a_400_with_the_request_id(
    client: httpx.AsyncClient, body: str
) -> None:
    response = await client.post(
        "/graphql", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["requestId"] == response.headers["x-request-id"]


async def test_extensions_nested_too_deep_are_a_400_over_get_as_over_post(
    client: httpx.AsyncClient,
) -> None:
    # given: `extensions` nested deeper than the JSON reader goes (read before authentication)
    nested = "[" * 2_000 + "]" * 2_000
    query = "{ viewer { __typename } }"
    # when
    posted = await client.post(
        "/graphql",
        content=b'{"query": "%s", "extensions": %s}' % (query.encode(), nested.encode()),
        headers={"Content-Type": "application/json"},
    )
    got = await client.get("/graphql", params={"query": query, "extensions": nested})
    # then: the caller's mistake, not a 500
    assert (posted.status_code, got.status_code) == (400, 400), got.text


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
async def test_a_body_in_utf16_or_utf32_is_a_400_and_runs_nothing(
    client: httpx.AsyncClient, db: Database, encoding: str
) -> None:
    # given: JSON the stdlib would detect and read in another encoding (bodies are UTF-8)
    document = 'mutation { updatePrompt(id: "prm_acme_welcome", input: {title: "Wide"}) '
    document += "{ __typename } }"
    content = json.dumps({"query": document}).encode(encoding)
    headers = {"Authorization": f"Bearer {token('alice')}", "Content-Type": "application/json"}
    # when
    response = await client.post("/graphql", content=content, headers=headers)
    read = await client.post(
        "/graphql",
        json={"query": '{ prompt(id: "prm_acme_welcome") { ... on Prompt { title } } }'},
        headers=headers,
    )
    # then
    assert response.status_code == 400, response.text
    assert read.json()["data"]["prompt"]["title"] != "Wide"


async def test_a_utf8_body_with_a_byte_order_mark_is_read(
    client: httpx.AsyncClient, db: Database
) -> None:
    # (the stdlib's reader skips it, as it did before bodies were held to UTF-8)
    content = b"\xef\xbb\xbf" + json.dumps({"query": "{ viewer { __typename } }"}).encode()
    headers = {"Authorization": f"Bearer {token('alice')}", "Content-Type": "application/json"}
    response = await client.post("/graphql", content=content, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["data"]["viewer"]["__typename"] == "Viewer"
