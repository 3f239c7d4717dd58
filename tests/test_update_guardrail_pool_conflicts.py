"""expectedUpdatedAt guards a pool update against a lost write, and when a request breaks
several rules the first failure in the contract's order is the one returned."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, timedelta, timezone
from typing import Any

import httpx
import pytest

from db.database import Database
from db.seed import (
    ACME_DEFAULT_POOL,
    GLOBEX_DEFAULT_POOL,
    SEEDED_AT,
)
from tests.factories import gql, token
from tests.updating_pools import (
    UPDATE_POOL,
    field_codes,
    parse,
    read_pool,
    stored_pool,
    stored_pools,
    update_pool,
)

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
    assert "data" not in body
    assert [error["extensions"]["code"] for error in body["errors"]] == [
        "GRAPHQL_VALIDATION_FAILED"
    ]
    assert await stored_pools(db) == before
