"""GraphQL over HTTP to the letter: the response's media type follows Accept, a request error
has no `data` (and is a 400 under application/graphql-response+json), and every refusal is a
GraphQL response in JSON with a code and the request id, never a text/plain page.

Documents the fast path plans run twice, so that both executors answer (the first request
teaches the document, the second is planned); tests/test_http_audit.py runs the
`graphql-http` audit against a live server.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from gateway.graphql.negotiation import response_media
from gateway.graphql.view import PatchbayGraphQL
from tests.conftest import settings_for
from tests.factories import client_for, token
from tests.http_edge import SEEDED_TITLE, assert_refusal_body, send, title_of_welcome

NEW = "application/graphql-response+json; charset=utf-8"
JSON = "application/json"
RENAME = """
mutation Rename($title: String) {
  updatePrompt(id: "prm_acme_welcome", input: {title: $title}) { __typename }
}
"""
RENAME_LITERAL = (
    'mutation { updatePrompt(id: "prm_acme_welcome", input: {title: "Changed"}) { __typename } }'
)


def _view(app: Starlette) -> PatchbayGraphQL:
    return next(r.app for r in app.routes if isinstance(getattr(r, "app", None), PatchbayGraphQL))


async def _post(
    client: httpx.AsyncClient, payload: Any, *, accept: str | None = None, **headers: str
) -> httpx.Response:
    sent = {"Content-Type": "application/json", "Authorization": f"Bearer {token('alice')}"}
    if accept is not None:
        sent["Accept"] = accept
    content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return await send(client, "POST", "/graphql", content=content, headers={**sent, **headers})


# --- the media type follows Accept ---------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("application/*", JSON),
        ("application/json", JSON),
        ("application/json; charset=utf-8", JSON),
        ("application/graphql-response+json", NEW),
        ("application/graphql-response+json, application/json;q=0.9", NEW),
        ("application/json, application/graphql-response+json", NEW),
        ("application/graphql-response+json;q=0.5, application/json", JSON),
        ("application/graphql-response+json;q=0.5, */*", JSON),
        ("text/html, application/graphql-response+json;q=0.1", NEW),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", JSON),
        ("multipart/mixed;deferSpec=20220824, application/json", JSON),
    ],
)
async def test_the_response_media_type_follows_accept_on_both_executors(
    app: Starlette, client: httpx.AsyncClient, accept: str | None, content_type: str
) -> None:
    for attempt in ("taught", "planned"):
        # when
        response = await _post(
            client, {"query": RENAME, "variables": {"title": "x"}}, accept=accept
        )
        # then
        assert response.status_code == 200, attempt
        assert response.headers["content-type"] == content_type, attempt
        assert response.json()["data"] == {"updatePrompt": {"__typename": "UpdatePromptSuccess"}}
    assert _view(app).planned.plan_for(RENAME, None) is not None  # type: ignore[union-attr]


async def test_a_get_query_answers_in_the_accepted_media_type(client: httpx.AsyncClient) -> None:
    # when
    response = await send(
        client,
        "GET",
        "/graphql",
        params={"query": "{ __typename }"},
        headers={"Accept": "application/graphql-response+json"},
    )
    # then
    assert response.status_code == 200
    assert response.headers["content-type"] == NEW
    assert response.json()["data"] == {"__typename": "Query"}


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "application/json;q=0"])
async def test_an_accept_with_nothing_patchbay_can_produce_is_406(
    client: httpx.AsyncClient, accept: str
) -> None:
    # when
    response = await _post(client, {"query": RENAME_LITERAL}, accept=accept)
    # then
    assert response.status_code == 406
    assert response.headers["content-type"] == JSON
    assert_refusal_body(response, "NOT_ACCEPTABLE")
    assert await title_of_welcome(client) == SEEDED_TITLE


WATCH = 'subscription { promptChanged(id: "prm_acme_welcome") { prompt { title } } }'
NO_STREAM = "text/event-stream; q=0, application/json"


@pytest.mark.parametrize(
    ("accept", "status", "code"),
    [
        ("text/event-stream;q=0", 406, "NOT_ACCEPTABLE"),
        (NO_STREAM, 400, "BAD_REQUEST"),  # a subscription over plain HTTP (docs/history.md)
    ],
)
async def test_a_subscription_does_not_stream_to_an_event_stream_with_q_0(
    client: httpx.AsyncClient, accept: str, status: int, code: str
) -> None:
    # given: q=0 says the caller does not accept the type (RFC 9110, 12.4.2)
    # when: a stream would not end, and the timeout fails the test
    response = await asyncio.wait_for(_post(client, {"query": WATCH}, accept=accept), 10)
    # then
    assert response.status_code == status
    assert response.headers["content-type"] == JSON
    assert_refusal_body(response, code)


async def test_a_query_answers_json_to_an_event_stream_with_q_0(
    client: httpx.AsyncClient,
) -> None:
    # when
    response = await _post(client, {"query": "{ viewer { __typename } }"}, accept=NO_STREAM)
    # then
    assert response.status_code == 200
    assert response.headers["content-type"] == JSON
    assert response.json()["data"] == {"viewer": {"__typename": "Viewer"}}


async def test_graphiql_is_still_served_to_a_browser_that_accepts_only_html(
    client: httpx.AsyncClient,
) -> None:
    response = await send(client, "GET", "/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")


async def test_the_accept_header_is_parsed_once_per_distinct_value(
    client: httpx.AsyncClient,
) -> None:
    # given: a value no other test sends, seen once
    accept = "application/graphql-response+json;q=0.7, application/json;q=0.3"
    await _post(client, {"query": "{ __typename }"}, accept=accept)
    misses = response_media.cache_info().misses
    # when
    for _ in range(20):
        await _post(client, {"query": "{ __typename }"}, accept=accept)
    # then: the hot path added no parsing per request
    assert response_media.cache_info().misses == misses


# --- request errors: no data; 400 under the new media type, 200 under application/json -------

REQUEST_ERRORS = [
    pytest.param({"query": "{ viewer "}, "GRAPHQL_PARSE_FAILED", id="parse"),
    pytest.param({"query": "{ nope }"}, "GRAPHQL_VALIDATION_FAILED", id="validation"),
    pytest.param(
        {"query": RENAME, "variables": {"title": {"not": "a string"}}},
        "GRAPHQL_VALIDATION_FAILED",
        id="variable-coercion",
    ),
    pytest.param(
        {"query": "fragment F on Query { __typename }"},
        "GRAPHQL_VALIDATION_FAILED",
        id="only-fragments",
    ),
    pytest.param(
        {"query": RENAME, "operationName": "Nope", "variables": {"title": "x"}},
        "GRAPHQL_VALIDATION_FAILED",
        id="unknown-operation-name",
    ),
    pytest.param(
        {"query": RENAME_LITERAL, "operationName": "Rename"},
        "GRAPHQL_VALIDATION_FAILED",
        id="operation-name-of-an-anonymous-operation",
    ),
    pytest.param(
        {"query": "query A { __typename } query B { __typename }"},
        "GRAPHQL_VALIDATION_FAILED",
        id="several-operations-no-name",
    ),
]


@pytest.mark.parametrize(("payload", "code"), REQUEST_ERRORS)
@pytest.mark.parametrize(
    ("accept", "status", "content_type"),
    [("application/graphql-response+json", 400, NEW), ("application/json", 200, JSON)],
    ids=["graphql-response", "json"],
)
async def test_a_request_error_has_no_data_and_its_status_follows_the_media_type(
    client: httpx.AsyncClient,
    payload: dict[str, Any],
    code: str,
    accept: str,
    status: int,
    content_type: str,
) -> None:
    # given: RENAME is taught, so a request error on it comes through the planned executor
    taught = await _post(client, {"query": RENAME, "variables": {"title": SEEDED_TITLE}})
    assert taught.json()["data"]["updatePrompt"]["__typename"] == "UpdatePromptSuccess"
    # when
    response = await _post(client, payload, accept=accept)
    # then
    assert response.status_code == status
    assert response.headers["content-type"] == content_type
    assert_refusal_body(response, code)
    assert await title_of_welcome(client) == SEEDED_TITLE


async def test_a_field_error_keeps_data_null_and_status_200(client: httpx.AsyncClient) -> None:
    """Only a request error drops `data`: a null for a non-null argument is raised while the
    field runs, so the response has `data: null` and is a 200 under either media type."""
    document = 'query Read($id: ID = "prm_acme_welcome") { prompt(id: $id) { __typename } }'
    for _ in range(2):  # taught, then planned
        response = await _post(
            client,
            {"query": document, "variables": {"id": None}},
            accept="application/graphql-response+json",
        )
        assert response.status_code == 200
        assert response.json()["data"] is None


# --- refusals: a GraphQL response in JSON with a code, never text/plain ----------------------

MALFORMED = [
    pytest.param(b"{not json", id="bad-json"),
    pytest.param(b"", id="empty-body"),
    pytest.param(b'"{ __typename }"', id="json-string"),
    pytest.param(b"null", id="json-null"),
    pytest.param(json.dumps([{"query": RENAME_LITERAL}]).encode(), id="batch"),
    pytest.param({"query": ""}, id="empty-query"),
    pytest.param({"variables": {}}, id="no-query"),
    pytest.param({"query": 42}, id="query-not-a-string"),
    pytest.param({"query": RENAME_LITERAL, "operationName": 5}, id="operation-name-not-a-string"),
    pytest.param({"query": RENAME_LITERAL, "variables": [1]}, id="variables-not-an-object"),
    pytest.param({"query": RENAME_LITERAL, "variables": "{}"}, id="variables-a-string"),
    pytest.param({"query": RENAME_LITERAL, "extensions": "x"}, id="extensions-not-an-object"),
]


@pytest.mark.parametrize("payload", MALFORMED)
@pytest.mark.parametrize("accept", [None, "application/graphql-response+json"])
async def test_a_malformed_request_is_a_400_graphql_response(
    client: httpx.AsyncClient, payload: Any, accept: str | None
) -> None:
    # when
    response = await _post(client, payload, accept=accept)
    # then
    assert response.status_code == 400
    assert response.headers["content-type"] == (JSON if accept is None else NEW)
    assert_refusal_body(response, "BAD_REQUEST")
    assert await title_of_welcome(client) == SEEDED_TITLE


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/graphql",
        "application/x-www-form-urlencoded",
        "",
        "json",
        # JSON in a charset other than UTF-8 (an ASCII body, read as UTF-8 whatever it named)
        "application/json; charset=latin-1",
        "application/json; charset=ISO-8859-1",
        "application/json; charset=utf-16",
        'application/json; charset="windows-1252"',
        "application/json; charset=no-such-charset",
        "application/json; charset=",
        "application/json; charset=cp65001",  # Python's alias of UTF-8, which no client sends
        # RFC 2231's form, which the header parser gives as a tuple: 415, not a server error
        "application/json; charset*=utf-8''utf-8",
    ],
)
async def test_an_unsupported_content_type_is_415(
    client: httpx.AsyncClient, content_type: str
) -> None:
    # when
    response = await _post(client, {"query": RENAME_LITERAL}, **{"Content-Type": content_type})
    # then
    assert response.status_code == 415
    assert_refusal_body(response, "UNSUPPORTED_MEDIA_TYPE")
    assert await title_of_welcome(client) == SEEDED_TITLE


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/json; charset=UTF-8",
        'application/json; charset="utf-8"',
        "application/json;charset=utf8",
        "Application/JSON; Charset=UTF-8",  # names of media types are case-insensitive
    ],
)
async def test_json_in_utf_8_is_read_with_or_without_its_charset(
    client: httpx.AsyncClient, content_type: str
) -> None:
    # given: a body in UTF-8 beyond ASCII
    body = json.dumps({"query": RENAME, "variables": {"title": "Café ☕"}}, ensure_ascii=False)
    # when
    response = await _post(client, body.encode(), **{"Content-Type": content_type})
    # then
    assert response.status_code == 200
    assert response.json()["data"] == {"updatePrompt": {"__typename": "UpdatePromptSuccess"}}
    assert await title_of_welcome(client) == "Café ☕"


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
async def test_another_method_is_405_with_allow(client: httpx.AsyncClient, method: str) -> None:
    # when
    response = await send(client, method, "/graphql", json={"query": RENAME_LITERAL})
    # then
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    if method != "HEAD":
        assert_refusal_body(response, "METHOD_NOT_ALLOWED")
    assert await title_of_welcome(client) == SEEDED_TITLE


@pytest.mark.parametrize("accept", [None, "application/graphql-response+json"])
async def test_a_mutation_over_get_is_405_with_allow_post(
    client: httpx.AsyncClient, accept: str | None
) -> None:
    # when
    response = await send(
        client,
        "GET",
        "/graphql",
        params={"query": RENAME_LITERAL},
        headers={
            "Authorization": f"Bearer {token('alice')}",
            **({"Accept": accept} if accept else {}),
        },
    )
    # then
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert_refusal_body(response, "METHOD_NOT_ALLOWED")
    assert await title_of_welcome(client) == SEEDED_TITLE


@pytest.mark.parametrize(
    "params",
    [
        {"query": "{ __typename }", "variables": "[1]"},
        {"query": "{ __typename }", "variables": "{"},
    ],
    ids=["variables-not-an-object", "variables-not-json"],
)
async def test_a_malformed_get_is_a_400_graphql_response(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await send(client, "GET", "/graphql", params=params)
    assert response.status_code == 400
    assert_refusal_body(response, "BAD_REQUEST")


async def test_a_body_over_the_limit_is_a_413_graphql_response(client: httpx.AsyncClient) -> None:
    # when
    response = await _post(client, b"[" + b" " * (1024 * 1024) + b"]")
    # then
    assert response.status_code == 413
    assert response.headers["content-type"] == JSON
    assert_refusal_body(response, "PAYLOAD_TOO_LARGE")


async def test_without_graphiql_a_get_without_a_query_is_a_400_graphql_response(
    database_url: str,
) -> None:
    async with client_for(settings_for(database_url, graphiql=False)) as client:
        # when: what a browser sends
        response = await send(client, "GET", "/graphql", headers={"Accept": "text/html,*/*;q=0.8"})
    # then
    assert response.status_code == 400
    assert_refusal_body(response, "BAD_REQUEST")
