"""updatePrompts and updateGuardrailPools: per-item results in input order, both error
policies, dry runs (both databases)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, select

from db.database import Database
from db.models import guardrail_pools, prompts
from db.seed import GLOBEX
from tests.factories import alices_prompt, gql, token
from tests.row_locks import lock_row, until_waiting

WELCOME = "prm_acme_welcome"  # alice's
AFTER_HOURS = "prm_acme_after_hours"  # alice's
HOLD_MUSIC = "prm_acme_hold_music"  # bob's
ACME_DEFAULT_POOL = "a1000000-0000-4000-8000-000000000001"
ACME_MARKETING_POOL = "a1000000-0000-4000-8000-000000000002"

UPDATE_PROMPTS = """
mutation ($items: [UpdatePromptItem!]!, $policy: BulkErrorPolicy, $dryRun: Boolean) {
  updatePrompts(items: $items, errorPolicy: $policy, dryRun: $dryRun) {
    __typename
    ... on UpdatePromptsPayload {
      writtenCount
      results {
        __typename
        ... on UpdatePromptSuccess { written prompt { id name title version updatedBy } }
        ... on Error { code }
        ... on ValidationError { fields { field code } }
        ... on ConflictError { fields { field code } }
      }
    }
    ... on Error { code message }
    ... on ValidationError { fields { field code } }
  }
}
"""
UPDATE_POOLS = """
mutation ($items: [UpdateGuardrailPoolItem!]!, $policy: BulkErrorPolicy) {
  updateGuardrailPools(items: $items, errorPolicy: $policy) {
    __typename
    ... on UpdateGuardrailPoolsPayload {
      writtenCount
      results {
        __typename
        ... on UpdateGuardrailPoolSuccess { written guardrailPool { slug version } }
        ... on ConflictError { fields { field code } }
      }
    }
    ... on Error { code }
  }
}
"""


async def _bulk(
    client: httpx.AsyncClient,
    items: list[tuple[str, dict[str, Any]]],
    *,
    policy: str | None = None,
    dry_run: bool | None = None,
    auth: str | None = None,
) -> dict[str, Any]:
    variables = {
        "items": [{"id": item_id, "input": changes} for item_id, changes in items],
        "policy": policy,
        "dryRun": dry_run,
    }
    body = await gql(client, UPDATE_PROMPTS, variables, auth=auth or token())
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["updatePrompts"]
    return result


async def _stored(db: Database) -> dict[str, tuple[str, str | None, int]]:
    async with db.write() as conn:
        rows = (
            await conn.execute(
                select(prompts.c.id, prompts.c.name, prompts.c.title, prompts.c.version)
            )
        ).all()
    return {row.id: (row.name, row.title, row.version) for row in rows}


MIXED = [
    (WELCOME, {"title": "good"}),
    ("prm_nobody", {"title": "missing"}),
    (HOLD_MUSIC, {"title": "not alice's"}),
    (WELCOME, {"name": "renamed"}),
    (AFTER_HOURS, {"name": "renamed"}),  # the name item 4 just took: a collision in the batch
    (AFTER_HOURS, {"name": "globex-only"}),  # taken in another organization only: fine
    (AFTER_HOURS, {"title": ""}),
]
MIXED_TYPES = [
    "UpdatePromptSuccess",
    "NotFoundError",
    "ForbiddenError",
    "UpdatePromptSuccess",
    "ConflictError",
    "UpdatePromptSuccess",
    "ValidationError",
]


async def _globex_only(db: Database) -> None:
    async with db.write() as conn:
        row = alices_prompt("prm_globex_only") | {"org_id": GLOBEX, "owner_id": "carol"}
        await conn.execute(insert(prompts).values(row | {"name": "globex-only"}))


async def test_reject_everything_answers_each_item_and_writes_nothing(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given
    await _globex_only(db)
    before = await _stored(db)
    # when
    result = await _bulk(client, MIXED)
    # then: each item's own member, in input order; successes say they were not written
    assert [r["__typename"] for r in result["results"]] == MIXED_TYPES
    assert result["writtenCount"] == 0
    assert {r.get("written") for r in result["results"] if "written" in r} == {False}
    assert result["results"][4]["fields"] == [{"field": "name", "code": "TAKEN"}]
    assert await _stored(db) == before


async def test_reject_failed_rows_writes_the_good_items_in_order(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given
    await _globex_only(db)
    # when
    result = await _bulk(client, MIXED, policy="REJECT_FAILED_ROWS")
    # then
    assert [r["__typename"] for r in result["results"]] == MIXED_TYPES
    assert result["writtenCount"] == 3
    successes = [r for r in result["results"] if r["__typename"] == "UpdatePromptSuccess"]
    assert [r["written"] for r in successes] == [True, True, True]
    # WELCOME written twice (versions 2 then 3), with the audit fields of a single update
    assert [(s["prompt"]["id"], s["prompt"]["version"]) for s in successes] == [
        (WELCOME, 2),
        (WELCOME, 3),
        (AFTER_HOURS, 2),
    ]
    assert {s["prompt"]["updatedBy"] for s in successes} == {"alice"}
    stored = await _stored(db)
    assert stored[WELCOME] == ("renamed", "good", 3)
    assert stored[AFTER_HOURS][0::2] == ("globex-only", 2)
    assert stored[HOLD_MUSIC][2] == 1


async def test_all_good_items_are_written_together(client: httpx.AsyncClient, db: Database) -> None:
    result = await _bulk(client, [(WELCOME, {"title": "a"}), (AFTER_HOURS, {"title": "b"})])
    assert result["writtenCount"] == 2
    stored = await _stored(db)
    assert (stored[WELCOME][1], stored[AFTER_HOURS][1]) == ("a", "b")


async def test_a_dry_run_of_a_batch_stores_nothing(client: httpx.AsyncClient, db: Database) -> None:
    before = await _stored(db)
    items = [(WELCOME, {"name": "x"}), (AFTER_HOURS, {"name": "x"})]
    result = await _bulk(client, items, policy="REJECT_FAILED_ROWS", dry_run=True)
    # the second sees the first's rename, as a real batch would
    assert [r["__typename"] for r in result["results"]] == ["UpdatePromptSuccess", "ConflictError"]
    assert result["writtenCount"] == 0
    assert await _stored(db) == before


async def test_more_than_100_items_are_refused_whole(
    client: httpx.AsyncClient, db: Database
) -> None:
    result = await _bulk(client, [(WELCOME, {"title": "x"})] * 101)
    assert result["__typename"] == "ValidationError"
    assert result["fields"] == [{"field": "items", "code": "TOO_MANY"}]
    assert (await _bulk(client, [(WELCOME, {"title": "x"})] * 100))["writtenCount"] == 100


async def test_the_scope_is_checked_once_for_the_batch(
    client: httpx.AsyncClient, db: Database
) -> None:
    before = await _stored(db)
    forbidden = await _bulk(client, [(WELCOME, {"title": "x"})], auth=token(scope="prompts:read"))
    assert (forbidden["__typename"], forbidden["code"]) == ("ForbiddenError", "FORBIDDEN")
    unauthorized = await _bulk(client, [(WELCOME, {"title": "x"})], auth="not-a-token")
    assert unauthorized["__typename"] == "UnauthorizedError"
    assert await _stored(db) == before


async def test_pools_collide_on_slugs_within_a_batch(
    client: httpx.AsyncClient, db: Database
) -> None:
    items = [
        {"id": ACME_DEFAULT_POOL, "input": {"slug": "shared"}},
        {"id": ACME_MARKETING_POOL, "input": {"slug": "shared"}},
        {"id": ACME_MARKETING_POOL, "input": {"name": "Marketing 2"}},
    ]
    for policy, written in (("REJECT_EVERYTHING", 0), ("REJECT_FAILED_ROWS", 2)):
        body = await gql(client, UPDATE_POOLS, {"items": items, "policy": policy}, auth=token())
        result = body["data"]["updateGuardrailPools"]
        assert [r["__typename"] for r in result["results"]] == [
            "UpdateGuardrailPoolSuccess",
            "ConflictError",
            "UpdateGuardrailPoolSuccess",
        ]
        assert result["writtenCount"] == written
    async with db.write() as conn:
        slugs = (await conn.execute(select(guardrail_pools.c.slug))).scalars().all()
    assert sorted(slugs) == ["default", "marketing", "shared"]


async def test_two_batches_that_deadlock_both_succeed(
    client: httpx.AsyncClient, db: Database, database_url: str, is_postgres: bool
) -> None:
    if not is_postgres:
        pytest.skip("SQLite has one writer at a time: batches cannot wait for each other")
    # given: each batch holds one prompt the other needs next, made to happen with two locks
    first_lock = await lock_row(database_url, WELCOME)
    second_lock = await lock_row(database_url, AFTER_HOURS)
    forward = asyncio.create_task(
        _bulk(client, [(WELCOME, {"title": "f"}), (AFTER_HOURS, {"title": "f"})])
    )
    await until_waiting(first_lock, 1)  # waits for WELCOME
    backward = asyncio.create_task(
        _bulk(client, [(AFTER_HOURS, {"title": "b"}), (WELCOME, {"title": "b"})])
    )
    await until_waiting(first_lock, 2)  # and this one for AFTER_HOURS
    await first_lock.close()  # forward takes WELCOME, then waits for AFTER_HOURS
    await until_waiting(second_lock, 2)
    await second_lock.close()  # backward takes AFTER_HOURS, then waits for WELCOME: a cycle
    # when: the database breaks the deadlock by rolling one batch back
    results = await asyncio.gather(forward, backward)
    # then: the rolled back one ran again; both are written, nothing twice
    assert [r["writtenCount"] for r in results] == [2, 2]
    stored = await _stored(db)
    assert stored[WELCOME][2] == stored[AFTER_HOURS][2] == 3
