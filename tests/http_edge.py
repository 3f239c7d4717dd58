"""What the HTTP-edge tests share: documents, and `send` / `post` / `post_json`, through which
their responses go so that no internals (a stack trace, a driver name, SQL) ever reach the
caller unnoticed."""

from __future__ import annotations

from typing import Any

import httpx

from tests.factories import token

VIEWER = "{ viewer { __typename ... on Error { code message requestId } } }"

PROMPT = """
query Prompt($id: ID!) {
  prompt(id: $id) { __typename ... on Prompt { title } ... on Error { code message } }
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

MIB = 1024 * 1024
LEAKS = ("Traceback", "SELECT ")
LEAKS_ANY_CASE = ("sqlalchemy", "asyncpg", "sqlite3", "psycopg", 'File "')
SEEDED_TITLE = "Welcome"


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


def top_level_codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body["errors"]]


async def title_of_welcome(client: httpx.AsyncClient) -> str:
    body = await post_json(client, PROMPT, variables={"id": "prm_acme_welcome"}, auth=token())
    title: str = body["data"]["prompt"]["title"]
    return title


def assert_refusal_body(response: httpx.Response, code: str) -> None:
    """A refusal in JSON: errors with one code and the request id, and no data."""
    body = response.json()
    assert "data" not in body, body
    assert [e["extensions"]["code"] for e in body["errors"]] == [code], body
    assert body["errors"][0]["extensions"]["requestId"] == response.headers["x-request-id"]
    assert body["errors"][0]["message"]
