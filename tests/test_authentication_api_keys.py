"""An API key acts for its organization with its own scopes until it is revoked; its secret
is stored nowhere, and its visible prefix alone opens nothing."""

from __future__ import annotations

import os

import httpx
import pytest

from db.api_keys import revoke_key
from db.database import Database
from gateway.identity.api_keys import prefix_of
from tests.credentials import (
    GLOBEX_ORG,
    PROMPT_TITLE,
    REFUSED,
    UPDATE_PROMPT,
    b64url,
    bearer,
    dump_database,
    viewer_with,
)
from tests.factories import api_key, gql

pytestmark = pytest.mark.usefixtures("no_patchbay_environment")


async def test_revoked_api_key_is_refused(client: httpx.AsyncClient, db: Database) -> None:
    # given: a key that works
    secret = await api_key(db)
    assert (await viewer_with(client, secret))["__typename"] == "Viewer"
    # when
    async with db.write() as conn:
        assert await revoke_key(conn, prefix=prefix_of(secret))
    # then
    assert await viewer_with(client, secret) == REFUSED
    body = await gql(client, UPDATE_PROMPT, headers=bearer(secret))
    assert body["data"]["updatePrompt"] == REFUSED


async def test_api_key_with_a_known_prefix_and_a_wrong_secret_is_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given: the visible prefix of a real key, followed by another secret
    secret = await api_key(db)
    forged = prefix_of(secret) + b64url(os.urandom(32))
    # when
    result = await viewer_with(client, forged)
    # then
    assert result == REFUSED


async def test_api_key_acts_for_its_organization(client: httpx.AsyncClient, db: Database) -> None:
    # given
    secret = await api_key(db, org="globex", scope="prompts:read", name="globex-bot")
    # when
    result = await viewer_with(client, secret)
    other_org = await gql(client, PROMPT_TITLE, auth=secret)
    # then
    assert result == {
        "__typename": "Viewer",
        "subject": prefix_of(secret),
        "kind": "API_KEY",
        "name": "globex-bot",
        "scopes": ["prompts:read"],
        "organization": GLOBEX_ORG,
    }
    assert other_org["data"]["prompt"]["__typename"] == "NotFoundError"


async def test_api_key_secret_is_stored_nowhere(db: Database) -> None:
    # given
    secret = await api_key(db, name="stored-nowhere")
    hidden_part = secret[len(prefix_of(secret)) :]
    # when
    dump = await dump_database(db)
    # then
    assert "stored-nowhere" in dump and prefix_of(secret) in dump
    assert secret not in dump
    assert hidden_part not in dump
