"""Signed tokens whose claims the audit columns could not hold are refused, not a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import gql, token

UPDATE = """
mutation { updatePrompt(id: "prm_acme_welcome", input: {title: "Hi"}) {
  __typename ... on Error { code message } } }
"""


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "ali\x00ce"},
        {"sub": "a" * 256},
        {"name": "Alice\x00"},
        {"name": "A" * 256},
        {"sub": ""},
    ],
    ids=["nul-sub", "long-sub", "nul-name", "long-name", "empty-sub"],
)
async def test_unstorable_claims_are_unauthorized(
    client: httpx.AsyncClient, claims: dict[str, str]
) -> None:
    # given: a correctly signed token for acme whose sub or name cannot be stored
    credential = token("alice", **claims)  # type: ignore[arg-type]
    # when
    body = await gql(client, UPDATE, auth=credential)
    # then
    assert body["data"]["updatePrompt"] == {
        "__typename": "UnauthorizedError",
        "code": "UNAUTHORIZED",
        "message": "authentication failed",
    }
