"""An admin renames a guardrail pool or changes its slug: the change lands on that pool only,
absent fields stay, and updatedAt moves forward in UTC while createdAt stays."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from db.database import Database
from db.seed import (
    ACME,
    ACME_BRAND,
    ACME_DEFAULT_POOL,
    ACME_MARKETING_POOL,
    SEEDED_AT,
)
from tests.factories import token
from tests.updating_pools import parse, read_pool, stored_pool, stored_pools, update_pool


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
