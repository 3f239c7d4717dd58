"""Who may update a prompt: a valid credential with prompts:write, its owner (or an API key
of its organization); another organization's prompt answers like an unknown id."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from db.database import Database
from gateway.identity.api_keys import prefix_of
from tests.factories import api_key, gql, token
from tests.updating_prompts import (
    GLOBEX_WELCOME,
    HOLD_MUSIC,
    UPDATE,
    UPLOAD,
    WELCOME,
    field_codes,
    read,
    stored,
    update,
)


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="no-header"),
        pytest.param("Bearer not-a-token", id="garbage"),
        pytest.param(f"Bearer {token('alice', ttl=-3600)}", id="expired"),
        pytest.param(f"Bearer {token('alice', secret='x' * 40)}", id="wrong-secret"),
        pytest.param("Bearer am_live_notARealKeyAtAllButLongEnough", id="unknown-api-key"),
    ],
)
async def test_without_a_valid_credential_the_caller_is_unauthorized(
    client: httpx.AsyncClient, db: Database, authorization: str | None
) -> None:
    before = await stored(db, WELCOME)
    headers = {} if authorization is None else {"Authorization": authorization}
    body = await gql(client, UPDATE, {"id": WELCOME, "input": {"title": "Hacked"}}, headers=headers)
    result = body["data"]["updatePrompt"]
    assert (result["__typename"], result["code"]) == ("UnauthorizedError", "UNAUTHORIZED")
    assert result["message"] == "authentication failed"
    assert await stored(db, WELCOME) == before


@pytest.mark.parametrize("scope", ["prompts:read", "org:admin:write", ""])
async def test_a_token_without_prompts_write_is_forbidden(
    client: httpx.AsyncClient, db: Database, scope: str
) -> None:
    before = await stored(db, WELCOME)
    result = await update(client, WELCOME, {"title": "Hacked"}, auth=token("alice", scope=scope))
    assert (result["__typename"], result["code"]) == ("ForbiddenError", "FORBIDDEN")
    assert result["requiredScope"] == "prompts:write"
    assert await stored(db, WELCOME) == before


async def test_an_api_key_without_prompts_write_is_forbidden(
    client: httpx.AsyncClient, db: Database
) -> None:
    key = await api_key(db, scope="prompts:read")
    result = await update(client, WELCOME, {"title": "Hacked"}, auth=key)
    assert (result["__typename"], result["requiredScope"]) == ("ForbiddenError", "prompts:write")


async def test_a_user_cannot_update_someone_elses_prompt(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given: bob, with every scope, and alice's prompt
    before = await stored(db, WELCOME)
    # when
    result = await update(client, WELCOME, {"title": "Bob was here"}, auth=token("bob"))
    # then
    assert (result["__typename"], result["code"]) == ("ForbiddenError", "FORBIDDEN")
    assert result["requiredScope"] is None
    assert await stored(db, WELCOME) == before


@pytest.mark.parametrize("prompt_id", [WELCOME, HOLD_MUSIC])  # alice's and bob's
async def test_an_api_key_updates_any_prompt_of_its_organization(
    client: httpx.AsyncClient, db: Database, prompt_id: str
) -> None:
    # given
    key = await api_key(db, scope="prompts:write", name="deploy-bot")
    before = await read(client, prompt_id)
    # when
    result = await update(client, prompt_id, {"title": "Set by a robot"}, auth=key)
    # then
    assert result["__typename"] == "UpdatePromptSuccess", result
    after = await read(client, prompt_id)
    assert after["title"] == "Set by a robot"
    assert (after["updatedBy"], after["updatedUserName"]) == (prefix_of(key), "deploy-bot")
    assert (after["ownerId"], after["createdBy"], after["createdUserName"]) == (
        before["ownerId"],
        before["createdBy"],
        before["createdUserName"],
    )


async def test_another_organizations_prompt_answers_exactly_like_a_random_id(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given: carol is in globex, prm_acme_welcome belongs to acme
    headers = {"X-Request-ID": "same-request"}
    before = await stored(db, WELCOME)
    # when
    theirs = await update(client, WELCOME, {"title": "Mine"}, auth=token("carol"), headers=headers)
    random = await update(
        client, "prm_acme_nope", {"title": "Mine"}, auth=token("carol"), headers=headers
    )
    # then
    assert theirs["__typename"] == "NotFoundError"
    assert theirs["id"] == WELCOME
    assert {**theirs, "id": None} == {**random, "id": None}
    assert await stored(db, WELCOME) == before


async def test_another_organizations_api_key_does_not_find_the_prompt(
    client: httpx.AsyncClient, db: Database
) -> None:
    key = await api_key(db, org="globex", scope="prompts:write")
    before = await stored(db, WELCOME)
    result = await update(client, WELCOME, {"title": "Mine"}, auth=key)
    assert result["__typename"] == "NotFoundError"
    assert await stored(db, WELCOME) == before


async def test_an_upload_of_another_organization_is_unknown(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given: req-welcome-v2 is acme's upload; carol updates her own globex prompt
    before = await stored(db, GLOBEX_WELCOME)
    # when
    result = await update(client, GLOBEX_WELCOME, {"requestId": UPLOAD}, auth=token("carol"))
    # then
    assert result["__typename"] == "ValidationError", result
    assert field_codes(result) == [("requestId", "UNKNOWN")]
    assert await stored(db, GLOBEX_WELCOME) == before


@pytest.mark.parametrize(
    ("caller", "prompt_id", "winner"),
    [
        pytest.param({"user": "alice", "ttl": -3600}, WELCOME, "UnauthorizedError", id="expired"),
        pytest.param({"scope": "prompts:read"}, WELCOME, "ForbiddenError", id="read-only"),
        pytest.param({"user": "bob"}, WELCOME, "ForbiddenError", id="not-owner"),
        pytest.param({"user": "carol"}, WELCOME, "NotFoundError", id="other-org"),
        pytest.param({"user": "alice"}, "p" * 300, "NotFoundError", id="malformed-id"),
    ],
)
async def test_an_empty_input_is_still_checked_for_access(
    client: httpx.AsyncClient, caller: dict[str, Any], prompt_id: str, winner: str
) -> None:
    result = await update(client, prompt_id, {}, auth=token(**caller))
    assert result["__typename"] == winner, result
    assert "prompt" not in result
