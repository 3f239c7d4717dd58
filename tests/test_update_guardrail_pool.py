"""updateGuardrailPool: an admin renames a pool or changes its slug, as a caller sees it."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from db.database import Database
from db.models import guardrail_pools
from db.seed import (
    ACME,
    ACME_BRAND,
    ACME_DEFAULT_POOL,
    ACME_MARKETING_POOL,
    GLOBEX_BRAND,
    GLOBEX_DEFAULT_POOL,
    SEEDED_AT,
)
from tests.factories import ORGS, api_key, gql, token

RESULT = """
fragment Result on UpdateGuardrailPoolResult {
  __typename
  ... on UpdateGuardrailPoolSuccess {
    guardrailPool { id orgId brandId name slug createdAt updatedAt }
  }
  ... on Error { code message requestId }
  ... on ValidationError { fields { field code message } }
  ... on ConflictError { fields { field code message } }
  ... on ForbiddenError { requiredScope }
  ... on NotFoundError { resource id }
}
"""
UPDATE_POOL = (
    """
mutation UpdatePool($id: ID!, $input: UpdateGuardrailPoolInput!) {
  updateGuardrailPool(id: $id, input: $input) { ...Result }
}
"""
    + RESULT
)
NAME_NULL_INLINE = (
    """
mutation ClearName($id: ID!) {
  updateGuardrailPool(id: $id, input: {name: null}) { ...Result }
}
"""
    + RESULT
)
SLUG_NULL_INLINE = (
    """
mutation ClearSlug($id: ID!) {
  updateGuardrailPool(id: $id, input: {slug: null}) { ...Result }
}
"""
    + RESULT
)
NAME_AS_VARIABLE = (
    """
mutation SetName($id: ID!, $name: String) {
  updateGuardrailPool(id: $id, input: {name: $name}) { ...Result }
}
"""
    + RESULT
)
SLUG_AS_VARIABLE = (
    """
mutation SetSlug($id: ID!, $slug: String) {
  updateGuardrailPool(id: $id, input: {slug: $slug}) { ...Result }
}
"""
    + RESULT
)
BRAND_ID_INLINE = (
    """
mutation MoveBrand($id: ID!) {
  updateGuardrailPool(
    id: $id, input: {name: "Moved", brandId: "b0000000-0000-4000-8000-000000000001"}
  ) { ...Result }
}
"""
    + RESULT
)
POOL = """
query Pool($id: ID!) {
  guardrailPool(id: $id) {
    __typename
    ... on GuardrailPool { id orgId brandId name slug createdAt updatedAt }
    ... on Error { code }
  }
}
"""

ACME_POOLS = (ACME_DEFAULT_POOL, ACME_MARKETING_POOL)
NOT_FOUND = ("NotFoundError", "NOT_FOUND", "guardrailPool not found", "guardrailPool")


# ---------------------------------------------------------------- helpers


async def update_pool(
    client: httpx.AsyncClient,
    pool_id: uuid.UUID | str,
    changes: dict[str, Any],
    *,
    auth: str | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Send updateGuardrailPool; the union member that came back (never a top-level error)."""
    body = await gql(
        client, UPDATE_POOL, {"id": str(pool_id), "input": changes}, auth=auth, headers=headers
    )
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["updateGuardrailPool"]
    return result


async def read_pool(client: httpx.AsyncClient, pool_id: uuid.UUID, *, auth: str) -> dict[str, Any]:
    body = await gql(client, POOL, {"id": str(pool_id)}, auth=auth)
    pool: dict[str, Any] = body["data"]["guardrailPool"]
    assert pool["__typename"] == "GuardrailPool", pool
    return pool


async def stored_pools(db: Database) -> dict[uuid.UUID, dict[str, Any]]:
    """Every pool row of every organization, straight from the database."""
    async with db.read() as conn:
        rows = (await conn.execute(select(guardrail_pools))).all()
    return {row.id: dict(row._mapping) for row in rows}


async def stored_pool(db: Database, pool_id: uuid.UUID) -> dict[str, Any]:
    return (await stored_pools(db))[pool_id]


def field_codes(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(issue["field"], issue["code"]) for issue in result["fields"]]


def parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


# ---------------------------------------------------------------- changes that succeed


@pytest.mark.parametrize(
    ("changes", "name", "slug"),
    [
        ({"name": "Retail guardrails"}, "Retail guardrails", "default"),
        ({"slug": "retail"}, "Default", "retail"),
        ({"name": "Retail guardrails", "slug": "retail"}, "Retail guardrails", "retail"),
    ],
)
async def test_an_admin_changes_name_and_or_slug_and_absent_fields_stay(
    client: httpx.AsyncClient, db: Database, changes: dict[str, str], name: str, slug: str
) -> None:
    # given
    auth = token("alice")
    # when
    result = await update_pool(client, ACME_DEFAULT_POOL, changes, auth=auth)
    # then
    assert result["__typename"] == "UpdateGuardrailPoolSuccess"
    pool = result["guardrailPool"]
    assert (pool["name"], pool["slug"]) == (name, slug)
    assert pool["id"] == str(ACME_DEFAULT_POOL)
    assert pool["brandId"] == str(ACME_BRAND)
    assert pool["orgId"] == str(ACME)
    assert await read_pool(client, ACME_DEFAULT_POOL, auth=auth) == {
        "__typename": "GuardrailPool",
        **pool,
    }
    row = await stored_pool(db, ACME_DEFAULT_POOL)
    assert (row["name"], row["slug"], row["brand_id"]) == (name, slug, ACME_BRAND)


async def test_a_rename_touches_no_other_pool(client: httpx.AsyncClient, db: Database) -> None:
    # given
    before = await stored_pools(db)
    # when
    result = await update_pool(
        client, ACME_DEFAULT_POOL, {"name": "Renamed", "slug": "renamed"}, auth=token()
    )
    # then
    assert result["__typename"] == "UpdateGuardrailPoolSuccess"
    after = await stored_pools(db)
    assert after.keys() == before.keys()
    assert {k: v for k, v in after.items() if k != ACME_DEFAULT_POOL} == {
        k: v for k, v in before.items() if k != ACME_DEFAULT_POOL
    }


@pytest.mark.parametrize(
    ("changes", "name", "slug"),
    [
        ({"name": "N"}, "N", "default"),
        ({"name": "n" * 100}, "n" * 100, "default"),
        ({"name": "  " + "n" * 100 + "\t "}, "n" * 100, "default"),  # trimmed length is 100
        ({"name": "  Retail  "}, "Retail", "default"),
        ({"name": "Ünïcødé ✓ pool"}, "Ünïcødé ✓ pool", "default"),
        ({"slug": "a"}, "Default", "a"),
        ({"slug": "7"}, "Default", "7"),
        ({"slug": "a" * 64}, "Default", "a" * 64),
        ({"slug": "a-1-b2-c3"}, "Default", "a-1-b2-c3"),
        ({"slug": "-".join(["ab"] * 21) + "x"}, "Default", "-".join(["ab"] * 21) + "x"),
    ],
)
async def test_values_at_the_edges_of_the_rules_are_accepted(
    client: httpx.AsyncClient, db: Database, changes: dict[str, str], name: str, slug: str
) -> None:
    result = await update_pool(client, ACME_DEFAULT_POOL, changes, auth=token())
    assert result["__typename"] == "UpdateGuardrailPoolSuccess", result
    assert (result["guardrailPool"]["name"], result["guardrailPool"]["slug"]) == (name, slug)
    row = await stored_pool(db, ACME_DEFAULT_POOL)
    assert (row["name"], row["slug"]) == (name, slug)


async def test_setting_a_pools_slug_to_its_own_value_succeeds(
    client: httpx.AsyncClient, db: Database
) -> None:
    result = await update_pool(
        client, ACME_MARKETING_POOL, {"name": "Promotions", "slug": "marketing"}, auth=token()
    )
    assert result["__typename"] == "UpdateGuardrailPoolSuccess", result
    row = await stored_pool(db, ACME_MARKETING_POOL)
    assert (row["name"], row["slug"]) == ("Promotions", "marketing")


async def test_an_empty_input_is_a_no_op_that_returns_the_pool(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given
    auth = token()
    before = await read_pool(client, ACME_DEFAULT_POOL, auth=auth)
    rows_before = await stored_pools(db)
    # when
    result = await update_pool(client, ACME_DEFAULT_POOL, {}, auth=auth)
    # then
    assert result["__typename"] == "UpdateGuardrailPoolSuccess"
    assert {"__typename": "GuardrailPool", **result["guardrailPool"]} == before
    assert result["guardrailPool"]["updatedAt"] == before["updatedAt"]
    assert await stored_pools(db) == rows_before


# ---------------------------------------------------------------- audit timestamps


async def test_a_change_moves_updated_at_forward_in_utc_and_keeps_created_at(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given
    auth = token()
    before = await read_pool(client, ACME_DEFAULT_POOL, auth=auth)
    # when
    started = datetime.now(UTC)
    result = await update_pool(client, ACME_DEFAULT_POOL, {"name": "Renamed"}, auth=auth)
    finished = datetime.now(UTC)
    # then
    pool = result["guardrailPool"]
    assert pool["createdAt"] == before["createdAt"]
    assert pool["updatedAt"].endswith("+00:00")
    assert pool["createdAt"].endswith("+00:00")
    assert parse(pool["updatedAt"]) > parse(before["updatedAt"])
    assert started <= parse(pool["updatedAt"]) <= finished
    assert (await read_pool(client, ACME_DEFAULT_POOL, auth=auth))["updatedAt"] == pool["updatedAt"]
    row = await stored_pool(db, ACME_DEFAULT_POOL)
    assert row["created_at"] == SEEDED_AT
    assert row["updated_at"] == parse(pool["updatedAt"])
    assert row["updated_at"].utcoffset() == timedelta(0)


async def test_each_change_moves_updated_at_again(client: httpx.AsyncClient) -> None:
    auth = token()
    first = await update_pool(client, ACME_DEFAULT_POOL, {"name": "One"}, auth=auth)
    second = await update_pool(client, ACME_DEFAULT_POOL, {"slug": "two"}, auth=auth)
    stamps = [first["guardrailPool"]["updatedAt"], second["guardrailPool"]["updatedAt"]]
    assert parse(stamps[1]) > parse(stamps[0]) > SEEDED_AT
    assert first["guardrailPool"]["createdAt"] == second["guardrailPool"]["createdAt"]


# ---------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("document", "variables", "field"),
    [
        (NAME_NULL_INLINE, {}, "name"),
        (SLUG_NULL_INLINE, {}, "slug"),
        (NAME_AS_VARIABLE, {"name": None}, "name"),
        (SLUG_AS_VARIABLE, {"slug": None}, "slug"),
        (UPDATE_POOL, {"input": {"name": None}}, "name"),
        (UPDATE_POOL, {"input": {"slug": None}}, "slug"),
    ],
    ids=["name-inline", "slug-inline", "name-var", "slug-var", "name-input-var", "slug-input-var"],
)
async def test_null_name_or_slug_is_required_not_a_clear(
    client: httpx.AsyncClient,
    db: Database,
    document: str,
    variables: dict[str, Any],
    field: str,
) -> None:
    # given
    before = await stored_pools(db)
    # when
    body = await gql(client, document, {"id": str(ACME_DEFAULT_POOL), **variables}, auth=token())
    # then
    assert "errors" not in body, body
    result = body["data"]["updateGuardrailPool"]
    assert result["__typename"] == "ValidationError"
    assert result["code"] == "VALIDATION_FAILED"
    assert field_codes(result) == [(field, "REQUIRED")]
    assert await stored_pools(db) == before


@pytest.mark.parametrize(
    ("document", "variables"),
    [(NAME_AS_VARIABLE, {}), (SLUG_AS_VARIABLE, {})],
    ids=["name", "slug"],
)
async def test_a_variable_left_out_is_an_absent_field(
    client: httpx.AsyncClient, db: Database, document: str, variables: dict[str, Any]
) -> None:
    body = await gql(client, document, {"id": str(ACME_DEFAULT_POOL), **variables}, auth=token())
    result = body["data"]["updateGuardrailPool"]
    assert result["__typename"] == "UpdateGuardrailPoolSuccess", body
    assert result["guardrailPool"]["updatedAt"] == SEEDED_AT.isoformat()
    row = await stored_pool(db, ACME_DEFAULT_POOL)
    assert (row["name"], row["slug"]) == ("Default", "default")


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"name": ""}, "name", "TOO_SHORT"),
        ({"name": "   "}, "name", "TOO_SHORT"),
        ({"name": " \t\n "}, "name", "TOO_SHORT"),
        ({"name": "n" * 101}, "name", "TOO_LONG"),
        ({"name": " " + "n" * 101 + " "}, "name", "TOO_LONG"),
        ({"slug": "Bad Slug"}, "slug", "INVALID"),
        ({"slug": "a--b"}, "slug", "INVALID"),
        ({"slug": "-a"}, "slug", "INVALID"),
        ({"slug": "a-"}, "slug", "INVALID"),
        ({"slug": "-"}, "slug", "INVALID"),
        ({"slug": ""}, "slug", "INVALID"),
        ({"slug": "Default"}, "slug", "INVALID"),
        ({"slug": "MARKETING"}, "slug", "INVALID"),
        ({"slug": "a_b"}, "slug", "INVALID"),
        ({"slug": "a.b"}, "slug", "INVALID"),
        ({"slug": " default"}, "slug", "INVALID"),
        ({"slug": "default\n"}, "slug", "INVALID"),
        ({"slug": "café"}, "slug", "INVALID"),
        ({"slug": "\u0661\u0662"}, "slug", "INVALID"),  # Arabic-Indic digits are not [0-9]
        ({"slug": "a" * 65}, "slug", "TOO_LONG"),
    ],
)
async def test_a_value_that_breaks_a_rule_is_refused_and_nothing_is_written(
    client: httpx.AsyncClient, db: Database, changes: dict[str, str], field: str, code: str
) -> None:
    # given
    before = await stored_pools(db)
    # when
    result = await update_pool(client, ACME_DEFAULT_POOL, changes, auth=token())
    # then
    assert result["__typename"] == "ValidationError"
    assert result["code"] == "VALIDATION_FAILED"
    assert field_codes(result) == [(field, code)]
    assert all(issue["message"] for issue in result["fields"])
    assert await stored_pools(db) == before


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"name": "   ", "slug": "Bad Slug"}, {("name", "TOO_SHORT"), ("slug", "INVALID")}),
        ({"name": "n" * 101, "slug": "a" * 65}, {("name", "TOO_LONG"), ("slug", "TOO_LONG")}),
        ({"name": None, "slug": None}, {("name", "REQUIRED"), ("slug", "REQUIRED")}),
        (
            {"name": "", "slug": "a--b", "expectedUpdatedAt": "2026-01-05T09:00:00"},
            {("name", "TOO_SHORT"), ("slug", "INVALID"), ("expectedUpdatedAt", "INVALID")},
        ),
    ],
)
async def test_every_failure_of_a_request_is_reported_together(
    client: httpx.AsyncClient,
    db: Database,
    changes: dict[str, Any],
    expected: set[tuple[str, str]],
) -> None:
    before = await stored_pools(db)
    result = await update_pool(client, ACME_DEFAULT_POOL, changes, auth=token())
    assert result["__typename"] == "ValidationError"
    assert sorted(field_codes(result)) == sorted(expected)
    assert await stored_pools(db) == before


@pytest.mark.parametrize(
    ("pool_id", "changes", "typename", "field"),
    [
        (str(ACME_DEFAULT_POOL), {"name": "bad\x00name"}, "ValidationError", "name"),
        (str(ACME_DEFAULT_POOL), {"name": "\x00"}, "ValidationError", "name"),
        (str(ACME_DEFAULT_POOL), {"slug": "bad\x00slug"}, "ValidationError", "slug"),
        (str(ACME_DEFAULT_POOL), {"slug": "\x00"}, "ValidationError", "slug"),
        (str(ACME_DEFAULT_POOL) + "\x00", {"name": "Renamed"}, "NotFoundError", None),
        ("\x00", {"slug": "renamed"}, "NotFoundError", None),
    ],
    ids=["name", "name-only-nul", "slug", "slug-only-nul", "id", "id-only-nul"],
)
async def test_nul_bytes_are_refused_never_a_server_error(
    client: httpx.AsyncClient,
    db: Database,
    pool_id: str,
    changes: dict[str, str],
    typename: str,
    field: str | None,
) -> None:
    # given
    before = await stored_pools(db)
    # when
    result = await update_pool(client, pool_id, changes, auth=token())
    # then
    assert result["__typename"] == typename
    if field is not None:
        assert field_codes(result) == [(field, "INVALID")]
    assert await stored_pools(db) == before


# ---------------------------------------------------------------- the brand is immutable


@pytest.mark.parametrize(
    ("document", "variables"),
    [
        (BRAND_ID_INLINE, {"id": str(ACME_DEFAULT_POOL)}),
        (
            UPDATE_POOL,
            {
                "id": str(ACME_DEFAULT_POOL),
                "input": {"name": "Moved", "brandId": str(GLOBEX_BRAND)},
            },
        ),
    ],
    ids=["inline", "variable"],
)
async def test_a_brand_id_in_the_input_is_a_graphql_validation_error(
    client: httpx.AsyncClient, db: Database, document: str, variables: dict[str, Any]
) -> None:
    # given
    before = await stored_pools(db)
    # when
    body = await gql(client, document, variables, auth=token())
    # then
    assert body["data"] is None
    assert [error["extensions"]["code"] for error in body["errors"]] == [
        "GRAPHQL_VALIDATION_FAILED"
    ]
    assert "brandId" in body["errors"][0]["message"]
    assert await stored_pools(db) == before


# ---------------------------------------------------------------- slugs are unique per org


async def test_a_slug_taken_by_another_pool_of_the_org_is_a_conflict(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given: acme already has a pool with the slug "marketing"
    before = await stored_pools(db)
    # when
    result = await update_pool(
        client,
        ACME_DEFAULT_POOL,
        {"name": "Would be renamed", "slug": "marketing"},
        auth=token(),
        headers={"X-Request-ID": "slug-clash-1"},
    )
    # then
    assert result["__typename"] == "ConflictError"
    assert result["code"] == "CONFLICT"
    assert result["requestId"] == "slug-clash-1"
    assert field_codes(result) == [("slug", "TAKEN")]
    assert await stored_pools(db) == before


async def test_a_slug_freed_by_one_pool_can_be_taken_by_another(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given
    auth = token()
    freed = await update_pool(client, ACME_MARKETING_POOL, {"slug": "promotions"}, auth=auth)
    assert freed["__typename"] == "UpdateGuardrailPoolSuccess"
    # when
    result = await update_pool(client, ACME_DEFAULT_POOL, {"slug": "marketing"}, auth=auth)
    # then
    assert result["__typename"] == "UpdateGuardrailPoolSuccess"
    assert (await stored_pool(db, ACME_DEFAULT_POOL))["slug"] == "marketing"
    assert (await stored_pool(db, ACME_MARKETING_POOL))["slug"] == "promotions"


async def test_the_same_slug_in_another_organization_is_fine(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given: globex's only pool is "default", like acme's; carol takes acme's "marketing"
    taken_by_globex = await update_pool(
        client, GLOBEX_DEFAULT_POOL, {"slug": "marketing"}, auth=token("carol")
    )
    assert taken_by_globex["__typename"] == "UpdateGuardrailPoolSuccess"
    # when: acme moves its marketing pool to a slug that globex then also takes
    moved = await update_pool(client, ACME_MARKETING_POOL, {"slug": "shared"}, auth=token())
    taken_again = await update_pool(
        client, GLOBEX_DEFAULT_POOL, {"slug": "shared"}, auth=token("carol")
    )
    # then
    assert moved["__typename"] == taken_again["__typename"] == "UpdateGuardrailPoolSuccess"
    pools = await stored_pools(db)
    assert pools[ACME_MARKETING_POOL]["slug"] == pools[GLOBEX_DEFAULT_POOL]["slug"] == "shared"
    assert pools[ACME_DEFAULT_POOL]["slug"] == "default"


async def test_racing_renames_to_one_slug_leave_exactly_one_winner(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given: both acme pools are renamed to the same slug, 10 requests each, interleaved
    auth = token()
    contenders = [pool for _ in range(10) for pool in ACME_POOLS]
    # when
    bodies = await asyncio.gather(
        *(
            gql(client, UPDATE_POOL, {"id": str(pool), "input": {"slug": "contested"}}, auth=auth)
            for pool in contenders
        )
    )
    # then: the database holds the slug once
    async with db.read() as conn:
        holders = (
            (
                await conn.execute(
                    select(guardrail_pools.c.id).where(guardrail_pools.c.slug == "contested")
                )
            )
            .scalars()
            .all()
        )
    assert len(holders) == 1
    winner = holders[0]
    (loser,) = set(ACME_POOLS) - {winner}
    # and every answer is a success for the winner or a conflict for the loser
    assert all("errors" not in body for body in bodies), bodies
    results = [body["data"]["updateGuardrailPool"] for body in bodies]
    outcomes = Counter(
        (pool, result["__typename"]) for pool, result in zip(contenders, results, strict=True)
    )
    assert outcomes == {
        (winner, "UpdateGuardrailPoolSuccess"): 10,
        (loser, "ConflictError"): 10,
    }
    conflicts = [result for result in results if result["__typename"] == "ConflictError"]
    assert all(field_codes(result) == [("slug", "TAKEN")] for result in conflicts)
    assert (await stored_pool(db, loser))["slug"] in ("default", "marketing")


async def test_concurrent_updates_of_different_fields_both_survive(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given
    auth = token()
    # when
    renamed, reslugged = await asyncio.gather(
        update_pool(client, ACME_DEFAULT_POOL, {"name": "Renamed"}, auth=auth),
        update_pool(client, ACME_DEFAULT_POOL, {"slug": "reslugged"}, auth=auth),
    )
    # then
    assert renamed["__typename"] == reslugged["__typename"] == "UpdateGuardrailPoolSuccess"
    row = await stored_pool(db, ACME_DEFAULT_POOL)
    assert (row["name"], row["slug"]) == ("Renamed", "reslugged")


# ---------------------------------------------------------------- ids that match nothing


@pytest.mark.parametrize(
    "pool_id",
    [
        str(uuid.uuid4()),
        str(GLOBEX_DEFAULT_POOL),
        "not-a-uuid",
        "x" * 300,
        "a" * 300,
        str(ACME_DEFAULT_POOL) + "\x00",
        "",
        " ",
    ],
    ids=["unknown", "other-org", "malformed", "300-chars", "300-hex", "nul", "empty", "blank"],
)
@pytest.mark.parametrize(
    "changes",
    [
        {"name": "Hijacked"},
        {"slug": "hijacked"},
        {},  # the no-op path reads the pool: it must not leak either
        {"name": "Hijacked", "expectedUpdatedAt": SEEDED_AT.isoformat()},  # the true stamp
    ],
    ids=["name", "slug", "empty", "guarded"],
)
async def test_every_id_that_matches_nothing_answers_the_same_not_found(
    client: httpx.AsyncClient, db: Database, pool_id: str, changes: dict[str, str]
) -> None:
    # given: alice is in acme
    before = await stored_pools(db)
    # when
    result = await update_pool(client, pool_id, changes, auth=token("alice"))
    # then
    found = (result["__typename"], result["code"], result["message"], result["resource"])
    assert found == NOT_FOUND
    assert result["id"] == pool_id
    assert await stored_pools(db) == before


# ---------------------------------------------------------------- who may update


async def test_without_a_credential_the_caller_is_unauthorized(
    client: httpx.AsyncClient, db: Database
) -> None:
    before = await stored_pools(db)
    result = await update_pool(client, ACME_DEFAULT_POOL, {"name": "Anonymous"})
    assert (result["__typename"], result["code"]) == ("UnauthorizedError", "UNAUTHORIZED")
    assert await stored_pools(db) == before


@pytest.mark.parametrize(
    "credential",
    [
        lambda: token("alice", ttl=-60),
        lambda: token("alice", secret="another-secret-that-is-at-least-32-bytes!!"),
        lambda: token("alice", org_id=None),
        lambda: token("alice", org_id="not-an-org-uuid"),
        lambda: "am_live_not-a-key-that-exists",
        lambda: "not even a token",
    ],
    ids=["expired", "bad-signature", "no-org-claim", "bad-org-claim", "unknown-key", "garbage"],
)
async def test_a_bad_credential_is_unauthorized_like_no_credential(
    client: httpx.AsyncClient, db: Database, credential: Callable[[], str]
) -> None:
    # given
    before = await stored_pools(db)
    anonymous = await update_pool(client, ACME_DEFAULT_POOL, {"name": "Anonymous"})
    # when
    result = await update_pool(client, ACME_DEFAULT_POOL, {"name": "Intruder"}, auth=credential())
    # then
    assert result["__typename"] == "UnauthorizedError"
    assert (result["code"], result["message"]) == (anonymous["code"], anonymous["message"])
    assert await stored_pools(db) == before


@pytest.mark.parametrize(
    "scope",
    [
        "org:admin:read",
        "prompts:write",
        "prompts:read prompts:write org:admin:read",
        "org:admin:writer org:admin",
        "",
    ],
)
async def test_a_token_without_org_admin_write_is_forbidden(
    client: httpx.AsyncClient, db: Database, scope: str
) -> None:
    # given
    before = await stored_pools(db)
    # when
    result = await update_pool(
        client, ACME_DEFAULT_POOL, {"name": "Not allowed"}, auth=token("alice", scope=scope)
    )
    # then
    assert (result["__typename"], result["code"]) == ("ForbiddenError", "FORBIDDEN")
    assert result["requiredScope"] == "org:admin:write"
    assert await stored_pools(db) == before


async def test_org_admin_write_alone_is_enough(client: httpx.AsyncClient, db: Database) -> None:
    result = await update_pool(
        client, ACME_DEFAULT_POOL, {"name": "Allowed"}, auth=token(scope="org:admin:write")
    )
    assert result["__typename"] == "UpdateGuardrailPoolSuccess"
    assert (await stored_pool(db, ACME_DEFAULT_POOL))["name"] == "Allowed"


async def test_an_api_key_without_org_admin_write_is_forbidden(
    client: httpx.AsyncClient, db: Database
) -> None:
    key = await api_key(db, org="acme", scope="org:admin:read prompts:write")
    before = await stored_pools(db)
    result = await update_pool(client, ACME_DEFAULT_POOL, {"name": "Not allowed"}, auth=key)
    assert (result["__typename"], result["requiredScope"]) == ("ForbiddenError", "org:admin:write")
    assert await stored_pools(db) == before


async def test_an_api_key_with_org_admin_write_updates_its_orgs_pool(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given
    key = await api_key(db, org="acme", scope="org:admin:write")
    # when
    result = await update_pool(
        client, ACME_MARKETING_POOL, {"name": "Campaigns", "slug": "campaigns"}, auth=key
    )
    # then
    assert result["__typename"] == "UpdateGuardrailPoolSuccess"
    row = await stored_pool(db, ACME_MARKETING_POOL)
    assert (row["name"], row["slug"], row["org_id"]) == ("Campaigns", "campaigns", ACME)


@pytest.mark.parametrize(
    ("org", "pool_id"),
    [("acme", GLOBEX_DEFAULT_POOL), ("globex", ACME_DEFAULT_POOL), ("globex", ACME_MARKETING_POOL)],
)
async def test_an_api_key_cannot_see_another_orgs_pool(
    client: httpx.AsyncClient, db: Database, org: str, pool_id: uuid.UUID
) -> None:
    # given
    key = await api_key(db, org=org, scope="org:admin:write")
    before = await stored_pools(db)
    # when
    result = await update_pool(client, pool_id, {"name": "Hijacked"}, auth=key)
    # then
    assert (result["__typename"], result["code"], result["message"], result["resource"]) == (
        NOT_FOUND
    )
    assert await stored_pools(db) == before


@pytest.mark.parametrize(
    ("user", "org", "pool_id", "typename"),
    [
        ("alice", "acme", ACME_DEFAULT_POOL, "UpdateGuardrailPoolSuccess"),
        ("alice", "acme", GLOBEX_DEFAULT_POOL, "NotFoundError"),
        ("carol", "globex", GLOBEX_DEFAULT_POOL, "UpdateGuardrailPoolSuccess"),
        ("carol", "globex", ACME_DEFAULT_POOL, "NotFoundError"),
        # the org_id claim decides, not who the subject is
        ("carol", "acme", ACME_DEFAULT_POOL, "UpdateGuardrailPoolSuccess"),
        ("alice", "globex", ACME_DEFAULT_POOL, "NotFoundError"),
        ("alice", "globex", GLOBEX_DEFAULT_POOL, "UpdateGuardrailPoolSuccess"),
    ],
)
async def test_a_token_acts_for_the_organization_in_its_org_id_claim(
    client: httpx.AsyncClient,
    db: Database,
    user: str,
    org: str,
    pool_id: uuid.UUID,
    typename: str,
) -> None:
    # given
    credential = token(user, org_id=ORGS[org])
    before = await stored_pools(db)
    # when
    result = await update_pool(client, pool_id, {"name": "Claimed"}, auth=credential)
    # then
    assert result["__typename"] == typename
    after = await stored_pools(db)
    if typename == "NotFoundError":
        assert after == before
    else:
        assert after[pool_id]["name"] == "Claimed"
        assert after[pool_id]["org_id"] == before[pool_id]["org_id"]
        assert {k: v for k, v in after.items() if k != pool_id} == {
            k: v for k, v in before.items() if k != pool_id
        }


# ---------------------------------------------------------------- which error wins


STALE_STAMP = "2020-01-01T00:00:00+00:00"


@pytest.mark.parametrize(
    ("credential", "pool_id", "changes", "typename"),
    [
        (None, uuid.uuid4(), {"slug": "Bad Slug"}, "UnauthorizedError"),
        ("expired", GLOBEX_DEFAULT_POOL, {"slug": "Bad Slug"}, "UnauthorizedError"),
        ("read-only", uuid.uuid4(), {"slug": "Bad Slug"}, "ForbiddenError"),
        ("read-only", "not-a-uuid", {"name": None}, "ForbiddenError"),
        ("admin", uuid.uuid4(), {"slug": "Bad Slug"}, "ValidationError"),
        ("admin", "not-a-uuid", {"name": ""}, "ValidationError"),
        ("admin", GLOBEX_DEFAULT_POOL, {"slug": None}, "ValidationError"),
        ("admin", uuid.uuid4(), {"expectedUpdatedAt": "2026-01-05T09:00:00"}, "ValidationError"),
        ("admin", uuid.uuid4(), {"name": "X", "expectedUpdatedAt": STALE_STAMP}, "NotFoundError"),
        ("admin", uuid.uuid4(), {"expectedUpdatedAt": STALE_STAMP}, "NotFoundError"),
        ("admin", uuid.uuid4(), {"slug": "marketing"}, "NotFoundError"),
        ("admin", GLOBEX_DEFAULT_POOL, {"slug": "marketing"}, "NotFoundError"),
        ("admin", GLOBEX_DEFAULT_POOL, {"expectedUpdatedAt": STALE_STAMP}, "NotFoundError"),
        (
            "admin",
            ACME_DEFAULT_POOL,
            {"slug": "marketing", "expectedUpdatedAt": STALE_STAMP},
            "ConflictError",
        ),
    ],
)
async def test_the_first_failure_in_contract_order_is_returned(
    client: httpx.AsyncClient,
    db: Database,
    credential: str | None,
    pool_id: uuid.UUID | str,
    changes: dict[str, Any],
    typename: str,
) -> None:
    # given
    auth = {
        None: None,
        "expired": token("alice", ttl=-60),
        "read-only": token("alice", scope="org:admin:read"),
        "admin": token("alice"),
    }[credential]
    before = await stored_pools(db)
    # when
    result = await update_pool(client, pool_id, changes, auth=auth)
    # then
    assert result["__typename"] == typename, result
    assert await stored_pools(db) == before


# ---------------------------------------------------------------- expectedUpdatedAt


def same_instant_as_z(stamp: str) -> str:
    return parse(stamp).astimezone(UTC).isoformat().replace("+00:00", "Z")


def same_instant_at_plus_two(stamp: str) -> str:
    return parse(stamp).astimezone(timezone(timedelta(hours=2))).isoformat()


def as_returned(stamp: str) -> str:
    return stamp


@pytest.mark.parametrize("spell", [as_returned, same_instant_as_z, same_instant_at_plus_two])
@pytest.mark.parametrize("after_a_write", [False, True], ids=["seeded", "after-write"])
async def test_expected_updated_at_equal_to_the_stored_one_lets_the_update_through(
    client: httpx.AsyncClient,
    db: Database,
    spell: Callable[[str], str],
    after_a_write: bool,
) -> None:
    # given: the caller read the pool (after a write, updatedAt has microseconds)
    auth = token()
    if after_a_write:
        await update_pool(client, ACME_DEFAULT_POOL, {"name": "Earlier"}, auth=auth)
    seen = (await read_pool(client, ACME_DEFAULT_POOL, auth=auth))["updatedAt"]
    # when
    result = await update_pool(
        client,
        ACME_DEFAULT_POOL,
        {"name": "Guarded", "expectedUpdatedAt": spell(seen)},
        auth=auth,
    )
    # then
    assert result["__typename"] == "UpdateGuardrailPoolSuccess", result
    assert parse(result["guardrailPool"]["updatedAt"]) > parse(seen)
    assert (await stored_pool(db, ACME_DEFAULT_POOL))["name"] == "Guarded"


async def test_the_updated_at_of_a_success_guards_the_next_update(
    client: httpx.AsyncClient, db: Database
) -> None:
    auth = token()
    first = await update_pool(client, ACME_DEFAULT_POOL, {"name": "First"}, auth=auth)
    stamp = first["guardrailPool"]["updatedAt"]
    second = await update_pool(
        client, ACME_DEFAULT_POOL, {"slug": "second", "expectedUpdatedAt": stamp}, auth=auth
    )
    assert second["__typename"] == "UpdateGuardrailPoolSuccess", second
    # the first timestamp is now stale
    third = await update_pool(
        client, ACME_DEFAULT_POOL, {"name": "Third", "expectedUpdatedAt": stamp}, auth=auth
    )
    assert third["__typename"] == "ConflictError"
    row = await stored_pool(db, ACME_DEFAULT_POOL)
    assert (row["name"], row["slug"]) == ("First", "second")


@pytest.mark.parametrize(
    "offset",
    [
        timedelta(seconds=1),
        timedelta(microseconds=1),
        -timedelta(microseconds=1),
        -timedelta(days=1),
    ],
    ids=["+1s", "+1us", "-1us", "-1d"],
)
@pytest.mark.parametrize(
    "changes",
    [{"name": "Stale"}, {"slug": "stale"}, {"name": "Stale", "slug": "stale"}, {}],
    ids=["name", "slug", "both", "empty"],
)
async def test_a_different_expected_updated_at_is_a_conflict_and_writes_nothing(
    client: httpx.AsyncClient, db: Database, offset: timedelta, changes: dict[str, str]
) -> None:
    # given
    auth = token()
    seen = parse((await read_pool(client, ACME_DEFAULT_POOL, auth=auth))["updatedAt"])
    before = await stored_pools(db)
    # when
    result = await update_pool(
        client,
        ACME_DEFAULT_POOL,
        {**changes, "expectedUpdatedAt": (seen + offset).isoformat()},
        auth=auth,
    )
    # then
    assert (result["__typename"], result["code"]) == ("ConflictError", "CONFLICT")
    assert field_codes(result) == [("expectedUpdatedAt", "STALE")]
    assert await stored_pools(db) == before


async def test_a_naive_expected_updated_at_is_invalid(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given: the exact stored instant, but without an offset
    before = await stored_pools(db)
    naive = SEEDED_AT.replace(tzinfo=None).isoformat()
    # when
    result = await update_pool(
        client, ACME_DEFAULT_POOL, {"name": "Naive", "expectedUpdatedAt": naive}, auth=token()
    )
    # then
    assert result["__typename"] == "ValidationError"
    assert field_codes(result) == [("expectedUpdatedAt", "INVALID")]
    assert await stored_pools(db) == before


@pytest.mark.parametrize(
    "stamp",
    ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"],
    ids=["before-year-1-in-utc", "after-year-9999-in-utc"],
)
@pytest.mark.parametrize("changes", [{"name": "Far"}, {}], ids=["change", "empty"])
async def test_an_expected_updated_at_with_no_utc_equivalent_is_invalid_not_a_crash(
    client: httpx.AsyncClient, db: Database, stamp: str, changes: dict[str, str]
) -> None:
    # given: a well-formed time whose offset pushes it outside the calendar in UTC
    before = await stored_pools(db)
    # when
    result = await update_pool(
        client, ACME_DEFAULT_POOL, {**changes, "expectedUpdatedAt": stamp}, auth=token()
    )
    # then
    assert result["__typename"] == "ValidationError"
    assert field_codes(result) == [("expectedUpdatedAt", "INVALID")]
    assert await stored_pools(db) == before


async def test_an_unparsable_expected_updated_at_is_a_graphql_error_not_a_crash(
    client: httpx.AsyncClient, db: Database
) -> None:
    before = await stored_pools(db)
    body = await gql(
        client,
        UPDATE_POOL,
        {"id": str(ACME_DEFAULT_POOL), "input": {"name": "X", "expectedUpdatedAt": "yesterday"}},
        auth=token(),
    )
    assert body["data"] is None
    assert [error["extensions"]["code"] for error in body["errors"]] == [
        "GRAPHQL_VALIDATION_FAILED"
    ]
    assert await stored_pools(db) == before
