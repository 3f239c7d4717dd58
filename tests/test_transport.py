"""The HTTP edge: request ids, top-level errors, body and document limits, health, hostile input.

Every response of this file goes through `send`, which checks that no internals (a stack
trace, a driver name, SQL) ever reach the caller.
"""

from __future__ import annotations

import json
import logging
import re
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from graphql.language import Lexer, Source, TokenKind

from db.database import Database
from db.seed import ACME_DEFAULT_POOL
from gateway.settings import Settings
from tests.conftest import settings_for
from tests.factories import TEST_SECRET, client_for, token

UNAUTHORIZED_TWICE = """
mutation {
  first: updatePrompt(id: "prm_acme_welcome", input: {title: "x"}) {
    __typename ... on Error { code requestId } }
  second: updateGuardrailPool(id: "a1000000-0000-4000-8000-000000000001", input: {name: "x"}) {
    __typename ... on Error { code requestId } }
}
"""
VIEWER = "{ viewer { __typename ... on Error { code message requestId } } }"
TWO_UNKNOWN_FIELDS = "{ nope alsoNope }"
FORGED_CURSOR = '{ prompts(after: "bm90LWEtY3Vyc29y") { __typename } }'
PROMPT = """
query Prompt($id: ID!) {
  prompt(id: $id) { __typename ... on Prompt { title } ... on Error { code message } }
}
"""
POOL = """
query Pool($id: ID!) {
  guardrailPool(id: $id) { __typename ... on Error { code message } }
}
"""
UPDATE_TITLE = """
mutation Update($title: String) {
  updatePrompt(id: "prm_acme_welcome", input: {title: $title}) {
    __typename ... on UpdatePromptSuccess { prompt { title } } ... on Error { code message }
  }
}
"""
UPDATE_PROMPT = """
mutation Update($input: UpdatePromptInput!) {
  updatePrompt(id: "prm_acme_welcome", input: $input) {
    __typename ... on Error { code message } ... on ValidationError { fields { field code } }
  }
}
"""
UPDATE_POOL = """
mutation Update($input: UpdateGuardrailPoolInput!) {
  updateGuardrailPool(id: "a1000000-0000-4000-8000-000000000001", input: $input) {
    __typename ... on Error { code message } ... on ValidationError { fields { field code } }
  }
}
"""
MUTATION_LITERAL = (
    'mutation { updatePrompt(id: "prm_acme_welcome", input: {title: "Changed by GET"}) '
    "{ __typename } }"
)
INTROSPECTION = "{ __schema { types { name } } }"
DEEPEST_VALID = """
{ prompts { ... on PromptConnection { edges { node { links { self { href } } } } } } }
"""

GENERATED_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
MIB = 1024 * 1024
LEAKS = ("Traceback", "SELECT ")
LEAKS_ANY_CASE = ("sqlalchemy", "asyncpg", "sqlite3", "psycopg", 'File "')
SEEDED_TITLE = "Welcome"


# --- helpers -------------------------------------------------------------------------------


def assert_no_internals(response: httpx.Response) -> None:
    body = response.text
    for leak in LEAKS:
        assert leak not in body, body
    for leak in LEAKS_ANY_CASE:
        assert leak.lower() not in body.lower(), body


async def send(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    response = await client.request(method, url, **kwargs)
    assert_no_internals(response)
    return response


async def post(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    auth: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    sent = dict(headers or {})
    if auth is not None:
        sent["Authorization"] = f"Bearer {auth}"
    payload = {"query": query, "variables": variables}
    return await send(client, "POST", "/graphql", json=payload, headers=sent)


async def post_json(client: httpx.AsyncClient, query: str, **kwargs: Any) -> dict[str, Any]:
    response = await post(client, query, **kwargs)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


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


def top_level_codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body["errors"]]


def nested_fields(levels: int) -> str:
    """A selection `{ f0 { f1 { ... } } }` with this many levels of fields."""
    names = [f"f{i}" for i in range(levels)]
    return "{ " + " { ".join(names) + " }" * levels


def aliases(count: int) -> str:
    return "{ " + " ".join(f"a{i}: __typename" for i in range(count)) + " }"


def padded_request(query: str, size: int, variables: dict[str, Any]) -> bytes:
    """A JSON GraphQL request of exactly `size` bytes (an unused extension carries padding)."""
    empty = json.dumps({"query": query, "variables": variables, "extensions": {"pad": ""}})
    padding = size - len(empty.encode())
    assert padding >= 0
    body = json.dumps(
        {"query": query, "variables": variables, "extensions": {"pad": "x" * padding}}
    ).encode()
    assert len(body) == size
    return body


async def title_of_welcome(client: httpx.AsyncClient) -> str:
    body = await post_json(client, PROMPT, variables={"id": "prm_acme_welcome"}, auth=token())
    title: str = body["data"]["prompt"]["title"]
    return title


# --- X-Request-ID ---------------------------------------------------------------------------


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


# --- top-level errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        ("{ viewer ", None, "GRAPHQL_PARSE_FAILED"),
        ("query { viewer { ... on Viewer { subject } }", None, "GRAPHQL_PARSE_FAILED"),
        ("{ nope }", None, "GRAPHQL_VALIDATION_FAILED"),
        ("{ viewer { ... on Viewer { password } } }", None, "GRAPHQL_VALIDATION_FAILED"),
        (PROMPT, {"id": {"not": "an id"}}, "GRAPHQL_VALIDATION_FAILED"),
        (PROMPT, {}, "GRAPHQL_VALIDATION_FAILED"),
        (
            "query($first: Int!) { prompts(first: $first) { __typename } }",
            {"first": "ten"},
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (UPDATE_PROMPT, {"input": {"expectedUpdatedAt": "yesterday"}}, "GRAPHQL_VALIDATION_FAILED"),
        (
            UPDATE_PROMPT,
            {"input": {"expectedUpdatedAt": "2026-13-45T25:61:00Z"}},
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            'mutation { updatePrompt(id: "prm_acme_welcome", '
            'input: {expectedUpdatedAt: "not-a-date"}) { __typename } }',
            None,
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (UPDATE_POOL, {"input": {"brandId": str(ACME_DEFAULT_POOL)}}, "GRAPHQL_VALIDATION_FAILED"),
        (
            "{ prompts(first: 99999999999999999999) { __typename } }",
            None,
            "GRAPHQL_VALIDATION_FAILED",
        ),
    ],
    ids=[
        "syntax",
        "unbalanced",
        "unknown-field",
        "unknown-nested-field",
        "wrong-variable-type",
        "missing-variable",
        "string-for-int",
        "malformed-datetime",
        "impossible-datetime",
        "malformed-datetime-literal",
        "brand-id-in-pool-input",
        "huge-int",
    ],
)
async def test_bad_documents_are_top_level_errors_with_a_code(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None, code: str
) -> None:
    # when
    response = await post(client, query, variables, auth=token())
    # then
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    assert set(top_level_codes(body)) == {code}
    assert await title_of_welcome(client) == SEEDED_TITLE


# --- transport limits -----------------------------------------------------------------------


@pytest.mark.parametrize("size", [MIB + 1, 10 * MIB], ids=["1MiB+1", "10MiB"])
async def test_body_over_one_mib_is_413(client: httpx.AsyncClient, size: int) -> None:
    # given: a well-formed GraphQL request padded to `size` bytes
    body = padded_request(UPDATE_TITLE, size, {"title": "Too large"})
    # when
    response = await send(
        client,
        "POST",
        "/graphql",
        content=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token()}"},
    )
    # then
    assert response.status_code == 413
    assert await title_of_welcome(client) == SEEDED_TITLE


async def test_streamed_body_over_one_mib_without_a_length_is_413(
    client: httpx.AsyncClient,
) -> None:
    # given: a chunked body that declares no Content-Length
    body = padded_request(UPDATE_TITLE, 2 * MIB, {"title": "Streamed"})

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    # when
    response = await send(
        client,
        "POST",
        "/graphql",
        content=chunks(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token()}"},
    )
    # then
    assert response.status_code == 413
    assert await title_of_welcome(client) == SEEDED_TITLE


async def test_declared_length_over_one_mib_is_413_before_the_body_is_read(
    client: httpx.AsyncClient,
) -> None:
    # given: a small, valid mutation that declares a body of 2 MiB
    body = json.dumps({"query": UPDATE_TITLE, "variables": {"title": "Declared too large"}})
    headers = {
        "Content-Type": "application/json",
        "Content-Length": str(2 * MIB),
        "Authorization": f"Bearer {token()}",
    }
    # when
    response = await send(client, "POST", "/graphql", content=body.encode(), headers=headers)
    # then
    assert response.status_code == 413
    assert await title_of_welcome(client) == SEEDED_TITLE


async def test_body_of_exactly_one_mib_is_served(client: httpx.AsyncClient) -> None:
    # given
    body = padded_request(UPDATE_TITLE, MIB, {"title": "Exactly one MiB"})
    # when
    response = await send(
        client,
        "POST",
        "/graphql",
        content=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token()}"},
    )
    # then
    assert response.status_code == 200
    assert response.json()["data"]["updatePrompt"]["__typename"] == "UpdatePromptSuccess"


async def test_batch_is_refused_with_400_and_not_executed(client: httpx.AsyncClient) -> None:
    # when
    response = await send(
        client,
        "POST",
        "/graphql",
        json=[{"query": MUTATION_LITERAL}, {"query": "{ __typename }"}],
        headers={"Authorization": f"Bearer {token()}"},
    )
    # then
    assert response.status_code == 400
    assert await title_of_welcome(client) == SEEDED_TITLE


async def test_get_runs_queries(client: httpx.AsyncClient) -> None:
    # when
    response = await send(client, "GET", "/graphql", params={"query": "{ __typename }"})
    # then
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_get_never_runs_a_mutation(client: httpx.AsyncClient) -> None:
    # when
    response = await send(
        client,
        "GET",
        "/graphql",
        params={"query": MUTATION_LITERAL},
        headers={"Authorization": f"Bearer {token()}"},
    )
    # then
    assert 400 <= response.status_code < 500
    assert await title_of_welcome(client) == SEEDED_TITLE


@pytest.mark.parametrize(
    ("content_type", "content"),
    [
        ("text/plain", json.dumps({"query": MUTATION_LITERAL}).encode()),
        ("application/graphql", MUTATION_LITERAL.encode()),
        ("application/x-www-form-urlencoded", b"query=" + MUTATION_LITERAL.encode()),
        ("multipart/form-data; boundary=b", b"--b\r\n\r\n--b--\r\n"),
        ("", json.dumps({"query": MUTATION_LITERAL}).encode()),
    ],
    ids=["text", "graphql", "form", "multipart", "none"],
)
async def test_non_json_content_type_is_refused_and_not_executed(
    client: httpx.AsyncClient, content_type: str, content: bytes
) -> None:
    # when
    response = await send(
        client,
        "POST",
        "/graphql",
        content=content,
        headers={"Content-Type": content_type, "Authorization": f"Bearer {token()}"},
    )
    # then
    assert 400 <= response.status_code < 500
    assert await title_of_welcome(client) == SEEDED_TITLE


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
async def test_other_methods_are_refused(client: httpx.AsyncClient, method: str) -> None:
    # when
    response = await send(client, method, "/graphql", json={"query": MUTATION_LITERAL})
    # then
    assert response.status_code == 405
    assert await title_of_welcome(client) == SEEDED_TITLE


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b'{"query": "\xff\xfe"}',
        b'"{ __typename }"',
        b"42",
        b"null",
        b'{"query": 42}',
        b'{"query": "{ __typename }", "variables": [1]}',
        b'{"query": "{ __typename }", "variables": {"a": '
        + b"[" * 100_000
        + b"]" * 100_000
        + b"}}",
    ],
    ids=[
        "not-json",
        "invalid-utf8",
        "json-string",
        "json-number",
        "json-null",
        "query-not-a-string",
        "variables-not-an-object",
        "deeply-nested-json",
    ],
)
async def test_malformed_json_bodies_are_400(client: httpx.AsyncClient, content: bytes) -> None:
    # when
    response = await send(
        client, "POST", "/graphql", content=content, headers={"Content-Type": "application/json"}
    )
    # then
    assert response.status_code == 400


@pytest.mark.parametrize(
    "variables",
    ["{not json", "[" * 5000 + "]" * 5000, '"a string"'],
    ids=["not-json", "deeply-nested-json", "json-string"],
)
async def test_malformed_get_variables_are_400(client: httpx.AsyncClient, variables: str) -> None:
    # when
    response = await send(
        client, "GET", "/graphql", params={"query": "{ __typename }", "variables": variables}
    )
    # then
    assert response.status_code == 400


async def test_health_endpoints(client: httpx.AsyncClient) -> None:
    # when
    healthz = await send(client, "GET", "/healthz")
    readyz = await send(client, "GET", "/readyz")
    # then
    assert (healthz.status_code, healthz.json()) == (200, {"status": "ok"})
    assert (readyz.status_code, readyz.json()) == (200, {"status": "ready"})


async def test_unreachable_database_is_not_ready_and_unavailable() -> None:
    # given: nothing listens on port 1
    settings = Settings(
        database_url="postgresql+asyncpg://patchbay@127.0.0.1:1/patchbay",
        database_timeout_seconds=2,
        jwt_secret=TEST_SECRET,
    )
    async with client_for(settings) as client:
        # when
        readyz = await send(client, "GET", "/readyz")
        graphql = await post(client, VIEWER, auth=token())
    # then
    assert (readyz.status_code, readyz.json()) == (503, {"status": "unavailable"})
    assert graphql.status_code == 200
    error = graphql.json()["errors"][0]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert error["extensions"]["requestId"] == graphql.headers["X-Request-ID"]


async def test_graphiql_is_served_to_browsers_by_default(client: httpx.AsyncClient) -> None:
    # when
    response = await send(client, "GET", "/graphql", headers={"Accept": "text/html"})
    # then
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    assert "graphiql" in response.text.lower()


async def test_graphiql_can_be_switched_off(database_url: str) -> None:
    # given
    async with client_for(settings_for(database_url, graphiql=False)) as client:
        # when
        page = await send(client, "GET", "/graphql", headers={"Accept": "text/html"})
        query = await send(client, "GET", "/graphql", params={"query": "{ __typename }"})
    # then
    assert 400 <= page.status_code < 500
    assert not page.headers["Content-Type"].startswith("text/html")
    assert "graphiql" not in page.text.lower()
    assert query.json() == {"data": {"__typename": "Query"}}


async def test_introspection_works_by_default(client: httpx.AsyncClient) -> None:
    # when
    body = await post_json(client, INTROSPECTION)
    # then
    names = {t["name"] for t in body["data"]["__schema"]["types"]}
    assert {"Query", "Mutation", "UpdatePromptResult", "UnauthorizedError"} <= names


async def test_introspection_can_be_switched_off(database_url: str) -> None:
    # given
    async with client_for(settings_for(database_url, introspection=False)) as client:
        # when
        schema = await post_json(client, INTROSPECTION)
        single_type = await post_json(client, '{ __type(name: "Query") { name } }')
        typename = await post_json(client, "{ __typename }")
    # then
    for body in (schema, single_type):
        assert body["data"] is None
        assert set(top_level_codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}
        assert "introspection" in body["errors"][0]["message"].lower()
    assert typename == {"data": {"__typename": "Query"}}


# --- document limits ------------------------------------------------------------------------


def depth_errors(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in body.get("errors") or [] if "maximum operation depth" in e["message"]]


async def test_query_deeper_than_10_is_refused(client: httpx.AsyncClient) -> None:
    # when: depth counts levels below the root field, so 12 levels of fields is depth 11
    deeper = await post(client, nested_fields(12), auth=token())
    at_limit = await post(client, nested_fields(11), auth=token())
    # then
    assert deeper.status_code == 200
    errors = depth_errors(deeper.json())
    assert len(errors) == 1
    assert "exceeds maximum operation depth of 10" in errors[0]["message"]
    assert errors[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert deeper.json()["data"] is None
    assert depth_errors(at_limit.json()) == []


async def test_depth_limit_refuses_an_otherwise_valid_query(
    database_url: str, db: Database
) -> None:
    # given: the deepest query the schema allows has depth 5
    async with client_for(settings_for(database_url, max_depth=4)) as client:
        # when
        body = await post_json(client, DEEPEST_VALID, auth=token())
    # then
    assert body["data"] is None
    assert [e["message"] for e in body["errors"]] == [
        "'anonymous' exceeds maximum operation depth of 4"
    ]
    assert top_level_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]


async def test_the_deepest_valid_query_runs_by_default(client: httpx.AsyncClient) -> None:
    # when
    body = await post_json(client, DEEPEST_VALID, auth=token())
    # then
    assert "errors" not in body
    assert body["data"]["prompts"]["edges"]


async def test_more_than_30_aliases_are_refused(client: httpx.AsyncClient) -> None:
    # when
    over = await post_json(client, aliases(31))
    at_limit = await post_json(client, aliases(30))
    # then
    assert over["data"] is None
    assert [e["message"] for e in over["errors"]] == ["31 aliases found. Allowed: 30"]
    assert top_level_codes(over) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "errors" not in at_limit
    assert len(at_limit["data"]) == 30


def count_tokens(document: str) -> int:
    lexer = Lexer(Source(document))
    count = 0
    while lexer.advance().kind != TokenKind.EOF:
        count += 1
    return count


def tags_mutation(total_tokens: int) -> str:
    """updatePrompt with a tag list that brings the document to exactly this many tokens."""

    def document(tags: int) -> str:
        return (
            'mutation { updatePrompt(id: "prm_acme_welcome", input: {tags: ['
            + " ".join(f'"tag-{i}"' for i in range(tags))
            + "]}) { __typename } }"
        )

    result = document(total_tokens - count_tokens(document(0)))
    assert count_tokens(result) == total_tokens
    return result


async def test_more_than_5000_tokens_are_refused(client: httpx.AsyncClient) -> None:
    # when
    refused = await post_json(client, tags_mutation(5001), auth=token())
    served = await post_json(client, tags_mutation(5000), auth=token())
    # then
    assert refused["data"] is None
    assert [e["message"] for e in refused["errors"]] == [
        "Syntax Error: Document contains more than 5000 tokens. Parsing aborted."
    ]
    assert top_level_codes(refused) == ["GRAPHQL_PARSE_FAILED"]
    assert served["data"]["updatePrompt"]["__typename"] == "ValidationError"  # executed: TOO_MANY


@pytest.mark.parametrize(
    "query",
    [
        "{ viewer " + "{ a " * 2400 + "}" * 2401,
        "{ prompt(id: " + "[" * 2400 + "]" * 2400 + ") { __typename } }",
        "{ prompt(id: " + "{a: " * 1600 + "1" + "}" * 1600 + ") { __typename } }",
        "{ viewer { " + "... on Viewer { " * 2400 + "subject" + " }" * 2401,
    ],
    ids=["selections", "list-literal", "object-literal", "inline-fragments"],
)
async def test_deeply_nested_documents_are_refused(client: httpx.AsyncClient, query: str) -> None:
    # when
    body = await post_json(client, query, auth=token())
    # then
    assert body["data"] is None
    assert top_level_codes(body) in (["GRAPHQL_PARSE_FAILED"], ["GRAPHQL_VALIDATION_FAILED"])


# --- hostile input --------------------------------------------------------------------------

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


async def test_a_ten_mib_streamed_body_is_refused_with_flat_memory(
    client: httpx.AsyncClient,
) -> None:
    # given: 10 MiB sent in 64 KiB chunks, with no Content-Length to refuse it up front
    chunk = b" " * (64 * 1024)
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(160):
            sent += len(chunk)
            yield chunk

    # when
    tracemalloc.start()
    try:
        response = await client.post(
            "/graphql", content=body(), headers={"Content-Type": "application/json"}
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # then: refused after the first MiB, and the whole process never held much more
    assert response.status_code == 413
    assert peak < 3 * MIB, f"peak {peak / MIB:.1f} MiB"
    assert sent <= 2 * MIB, f"read {sent / MIB:.1f} MiB of the body"


TWO_OPERATIONS = "query A { viewer { __typename } } query B { viewer { __typename } }"


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_several_operations_without_an_operation_name_are_refused(
    client: httpx.AsyncClient, method: str
) -> None:
    # given: a document with two operations, and no operationName
    # when
    if method == "POST":
        response = await client.post("/graphql", json={"query": TWO_OPERATIONS})
    else:
        response = await client.get("/graphql", params={"query": TWO_OPERATIONS})
    # then: the GraphQL spec's request error, not the first operation run silently
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["message"] == (
        "Must provide operation name if query contains multiple operations."
    )
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_several_operations_with_an_operation_name_run_that_one(
    client: httpx.AsyncClient,
) -> None:
    body = (
        await client.post("/graphql", json={"query": TWO_OPERATIONS, "operationName": "B"})
    ).json()
    assert body == {"data": {"viewer": {"__typename": "UnauthorizedError"}}}
