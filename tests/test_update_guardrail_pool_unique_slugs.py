"""A guardrail pool's slug is unique within its organization, also when renames race."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
from sqlalchemy import select

from db.database import Database
from db.models import guardrail_pools
from db.seed import (
    ACME_DEFAULT_POOL,
    ACME_MARKETING_POOL,
    GLOBEX_DEFAULT_POOL,
)
from tests.factories import gql, token
from tests.updating_pools import UPDATE_POOL, field_codes, stored_pool, stored_pools, update_pool

ACME_POOLS = (ACME_DEFAULT_POOL, ACME_MARKETING_POOL)


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
