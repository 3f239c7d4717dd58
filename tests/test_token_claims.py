"""Signed tokens whose claims the audit columns could not hold are refused, not a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.factories import gql, token

AUDIT = """
mutation { updatePrompt(id: "prm_acme_welcome", input: {title: "Hi"}) {
  ... on UpdatePromptSuccess { prompt { updatedBy updatedUserName createdUserName } } } }
"""
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


async def test_a_token_without_a_name_leaves_the_updater_nameless(
    client: httpx.AsyncClient,
) -> None:
    # given: alice's token has no `name` claim
    credential = token("alice", name=None)
    # when
    body = await gql(
        client,
        AUDIT,
        auth=credential,
    )
    # then: nobody else's name is written, and the creator's stays
    assert body["data"]["updatePrompt"]["prompt"] == {
        "updatedBy": "alice",
        "updatedUserName": None,
        "createdUserName": "Alice Archer",
    }


async def test_a_signed_token_with_an_absurd_expiry_is_unauthorized(
    client: httpx.AsyncClient,
) -> None:
    credential = token("alice", exp=10**400)
    body = await gql(client, "{ viewer { __typename } }", auth=credential)
    assert body["data"]["viewer"]["__typename"] == "UnauthorizedError"
