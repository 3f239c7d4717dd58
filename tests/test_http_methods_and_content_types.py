"""How /graphql may be called: POST with JSON runs anything, GET runs queries only; a batch,
another content type or method, or malformed JSON is refused and nothing is executed."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.factories import gql, token
from tests.http_edge import SEEDED_TITLE, send, title_of_welcome

MUTATION_LITERAL = (
    'mutation { updatePrompt(id: "prm_acme_welcome", input: {title: "Changed by GET"}) '
    "{ __typename } }"
)


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
    assert response.json()["data"] == {"__typename": "Query"}


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


UPDATE_TITLE = """
mutation Title($title: String) { updatePrompt(id: "prm_acme_welcome", input: {title: $title}) {
  __typename } }
"""


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({"Content-Type": "text/plain; x=application/json"}, {"query": UPDATE_TITLE}, 415),
        ({"Content-Type": "application/json"}, {"query": UPDATE_TITLE, "extensions": "oops"}, 400),
    ],
    ids=["content-type", "extensions"],
)
async def test_a_learnt_mutation_is_refused_with_a_bad_content_type_or_extensions(
    client: httpx.AsyncClient, headers: dict[str, str], body: dict[str, object], status: int
) -> None:
    # given: the document is learnt
    learnt = await gql(client, UPDATE_TITLE, {"title": "learnt"}, auth=token("alice"))
    assert learnt["data"]["updatePrompt"]["__typename"] == "UpdatePromptSuccess"
    # when
    response = await client.post(
        "/graphql",
        content=json.dumps({**body, "variables": {"title": "sneaked"}}),
        headers={**headers, "Authorization": f"Bearer {token('alice')}"},
    )
    # then
    assert response.status_code == status
    title = await gql(
        client,
        '{ prompt(id: "prm_acme_welcome") { ... on Prompt { title } } }',
        auth=token("alice"),
    )
    assert title["data"]["prompt"]["title"] == "learnt"
