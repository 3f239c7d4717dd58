"""Reads: tenant isolation, scopes, pagination and links, as a caller sees them."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import insert, update

from db.database import Database
from db.models import PromptState, prompts
from db.seed import ACME_DEFAULT_POOL, GLOBEX_DEFAULT_POOL
from tests.factories import alices_prompt, gql, token

PROMPT = """
query Prompt($id: ID!) {
  prompt(id: $id) {
    __typename
    ... on Prompt { id name state links { self { href } downloadLink { href } } }
    ... on Error { code message requestId }
    ... on NotFoundError { resource id }
    ... on ForbiddenError { requiredScope }
  }
}
"""
PROMPTS = """
query Prompts($first: Int, $after: String) {
  prompts(first: $first, after: $after) {
    __typename
    ... on PromptConnection {
      edges { cursor node { id orgId } }
      pageInfo { hasNextPage endCursor }
    }
    ... on Error { code }
    ... on ForbiddenError { requiredScope }
  }
}
"""
POOL = """
query Pool($id: ID!) {
  guardrailPool(id: $id) {
    __typename
    ... on GuardrailPool { id name slug brandId createdAt updatedAt }
    ... on Error { code message }
    ... on NotFoundError { resource id }
    ... on ForbiddenError { requiredScope }
  }
}
"""
POOLS = """
query Pools($first: Int, $after: String) {
  guardrailPools(first: $first, after: $after) {
    __typename
    ... on GuardrailPoolConnection {
      edges { node { id orgId } }
      pageInfo { hasNextPage endCursor }
    }
    ... on Error { code }
    ... on ForbiddenError { requiredScope }
  }
}
"""
VIEWER = """
{ viewer { __typename
  ... on Viewer { subject kind name scopes organization { id slug name } }
  ... on Error { code message requestId } } }
"""


async def test_viewer_is_who_the_token_says(client: httpx.AsyncClient) -> None:
    # when
    body = await gql(client, VIEWER, auth=token("alice", name="Alice Archer"))
    # then
    assert body["data"]["viewer"] == {
        "__typename": "Viewer",
        "subject": "alice",
        "kind": "USER",
        "name": "Alice Archer",
        "scopes": ["org:admin:read", "org:admin:write", "prompts:read", "prompts:write"],
        "organization": {
            "id": "11111111-1111-4111-8111-111111111111",
            "slug": "acme",
            "name": "Acme",
        },
    }


async def test_own_prompt_is_readable(client: httpx.AsyncClient) -> None:
    body = await gql(client, PROMPT, {"id": "prm_acme_welcome"}, auth=token("bob"))
    assert body["data"]["prompt"]["__typename"] == "Prompt"
    assert body["data"]["prompt"]["name"] == "welcome"


async def test_other_orgs_prompt_answers_exactly_like_a_random_id(
    client: httpx.AsyncClient,
) -> None:
    # given: carol is in globex; prm_acme_welcome belongs to acme
    headers = {"X-Request-ID": "same-id"}
    # when
    theirs = await gql(
        client, PROMPT, {"id": "prm_acme_welcome"}, auth=token("carol"), headers=headers
    )
    missing = await gql(
        client, PROMPT, {"id": "prm_acme_welcome"}, auth=token("carol"), headers=headers
    )
    random = await gql(
        client, PROMPT, {"id": "prm_does_not_exist"}, auth=token("carol"), headers=headers
    )
    # then
    assert theirs == missing
    assert theirs["data"]["prompt"]["__typename"] == "NotFoundError"
    assert {**theirs["data"]["prompt"], "id": None} == {**random["data"]["prompt"], "id": None}


async def test_other_orgs_pool_answers_exactly_like_a_random_id(
    client: httpx.AsyncClient,
) -> None:
    theirs = await gql(client, POOL, {"id": str(GLOBEX_DEFAULT_POOL)}, auth=token("alice"))
    random = await gql(client, POOL, {"id": str(uuid.uuid4())}, auth=token("alice"))
    malformed = await gql(client, POOL, {"id": "not-a-uuid"}, auth=token("alice"))
    for body in (theirs, random, malformed):
        result = body["data"]["guardrailPool"]
        assert result["__typename"] == "NotFoundError"
        assert (result["code"], result["message"], result["resource"]) == (
            "NOT_FOUND",
            "guardrailPool not found",
            "guardrailPool",
        )


async def test_lists_show_only_own_organization(client: httpx.AsyncClient) -> None:
    prompts = await gql(client, PROMPTS, {"first": 100}, auth=token("carol"))
    pools = await gql(client, POOLS, {"first": 100}, auth=token("carol"))
    prompt_orgs = {e["node"]["orgId"] for e in prompts["data"]["prompts"]["edges"]}
    pool_orgs = {e["node"]["orgId"] for e in pools["data"]["guardrailPools"]["edges"]}
    assert prompt_orgs == pool_orgs == {"22222222-2222-4222-8222-222222222222"}
    assert len(prompts["data"]["prompts"]["edges"]) == 1
    assert len(pools["data"]["guardrailPools"]["edges"]) == 1


@pytest.mark.parametrize(
    ("query", "variables", "field", "scope", "required"),
    [
        (PROMPT, {"id": "prm_acme_welcome"}, "prompt", "org:admin:write", "prompts:read"),
        (PROMPTS, {}, "prompts", "org:admin:read", "prompts:read"),
        (POOL, {"id": str(ACME_DEFAULT_POOL)}, "guardrailPool", "prompts:write", "org:admin:read"),
        (POOLS, {}, "guardrailPools", "prompts:read", "org:admin:read"),
    ],
)
async def test_reads_need_their_scope(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, str],
    field: str,
    scope: str,
    required: str,
) -> None:
    body = await gql(client, query, variables, auth=token("alice", scope=scope))
    assert body["data"][field]["__typename"] == "ForbiddenError"
    assert body["data"][field]["code"] == "FORBIDDEN"
    assert body["data"][field]["requiredScope"] == required


@pytest.mark.parametrize(
    ("query", "variables", "field", "scope"),
    [
        (PROMPT, {"id": "prm_acme_welcome"}, "prompt", "prompts:write"),
        (PROMPT, {"id": "prm_acme_welcome"}, "prompt", "prompts:read"),
        (POOL, {"id": str(ACME_DEFAULT_POOL)}, "guardrailPool", "org:admin:read"),
        (POOL, {"id": str(ACME_DEFAULT_POOL)}, "guardrailPool", "org:admin:write"),
    ],
)
async def test_read_or_write_scope_allows_reading(
    client: httpx.AsyncClient, query: str, variables: dict[str, str], field: str, scope: str
) -> None:
    body = await gql(client, query, variables, auth=token("alice", scope=scope))
    assert body["data"][field]["__typename"] in ("Prompt", "GuardrailPool")


@pytest.mark.parametrize(
    ("prompt_id", "download"),
    [
        ("prm_acme_welcome", "/v1/prompts/prm_acme_welcome/download-link"),  # PUBLISHED
        ("prm_acme_after_hours", None),  # DRAFT
    ],
)
async def test_download_link_only_when_published_or_archived(
    client: httpx.AsyncClient, prompt_id: str, download: str | None
) -> None:
    body = await gql(client, PROMPT, {"id": prompt_id}, auth=token())
    links = body["data"]["prompt"]["links"]
    assert links["self"] == {"href": f"/v1/prompts/{prompt_id}"}
    assert links["downloadLink"] == (None if download is None else {"href": download})


async def test_archived_prompt_has_a_download_link(client: httpx.AsyncClient, db: Database) -> None:
    async with db.write() as conn:
        await conn.execute(
            update(prompts)
            .where(prompts.c.id == "prm_acme_after_hours")
            .values(state=PromptState.ARCHIVED)
        )
    body = await gql(client, PROMPT, {"id": "prm_acme_after_hours"}, auth=token())
    assert body["data"]["prompt"]["links"]["downloadLink"] is not None


async def test_pagination_walks_every_prompt_once(client: httpx.AsyncClient) -> None:
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        body = await gql(client, PROMPTS, {"first": 1, "after": after}, auth=token())
        page = body["data"]["prompts"]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        pages += 1
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == ["prm_acme_after_hours", "prm_acme_hold_music", "prm_acme_welcome"]
    assert pages == 3


async def test_first_is_capped_at_100(client: httpx.AsyncClient, db: Database) -> None:
    rows = [alices_prompt(f"prm_bulk_{i:03d}") for i in range(120)]
    async with db.write() as conn:
        await conn.execute(insert(prompts), rows)
    body = await gql(client, PROMPTS, {"first": 500}, auth=token())
    assert len(body["data"]["prompts"]["edges"]) == 100
    assert body["data"]["prompts"]["pageInfo"]["hasNextPage"] is True


async def test_a_forged_cursor_is_a_client_error(client: httpx.AsyncClient) -> None:
    body = await gql(client, PROMPTS, {"after": "bm90LWEtY3Vyc29y"}, auth=token())
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_null_page_size_means_the_default(client: httpx.AsyncClient) -> None:
    body = await gql(
        client,
        "query Page($first: Int) { prompts(first: $first) { ... on PromptConnection { "
        "edges { node { id } } } } }",
        {"first": None},
        auth=token("alice"),
    )
    assert len(body["data"]["prompts"]["edges"]) == 3
