"""Who may update a guardrail pool: a valid credential with org:admin:write, acting for its
own organization; an id that matches nothing (or another organization's pool) is NOT_FOUND."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx
import pytest

from db.database import Database
from db.seed import (
    ACME,
    ACME_DEFAULT_POOL,
    ACME_MARKETING_POOL,
    GLOBEX_DEFAULT_POOL,
    SEEDED_AT,
)
from tests.factories import ORGS, api_key, token
from tests.updating_pools import stored_pool, stored_pools, update_pool

NOT_FOUND = ("NotFoundError", "NOT_FOUND", "guardrailPool not found", "guardrailPool")


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
