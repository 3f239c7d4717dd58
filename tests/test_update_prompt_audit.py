"""Every change of a prompt is stamped with who made it and when; the creation stamp stays."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from db.database import Database
from db.seed import ACME, SEEDED_AT
from tests.factories import api_key, token
from tests.updating_prompts import ALICE, HOLD_MUSIC, SEEDED, UPLOAD, WELCOME, read, stored, update


async def test_a_change_is_stamped_with_who_and_when(client: httpx.AsyncClient) -> None:
    # given: bob's prompt, created by bob at the seed time
    started = datetime.now(UTC)
    auth = token("bob", name="Robert B.")
    # when
    result = await update(client, HOLD_MUSIC, {"description": "Loops forever"}, auth=auth)
    # then
    after = await read(client, HOLD_MUSIC)
    assert after == {"__typename": "Prompt", **result["prompt"]}
    assert after["updatedAt"].endswith("+00:00")
    assert started <= datetime.fromisoformat(after["updatedAt"]) <= datetime.now(UTC)
    assert (after["updatedBy"], after["updatedUserName"]) == ("bob", "Robert B.")
    assert (after["createdAt"], after["createdBy"], after["createdUserName"]) == (
        SEEDED,
        "bob",
        "Bob Baker",
    )


async def test_the_creation_stamp_never_changes(client: httpx.AsyncClient, db: Database) -> None:
    key = await api_key(db, scope="prompts:write", name="deploy-bot")
    await update(client, WELCOME, {"title": "One"})
    await update(client, WELCOME, {"requestId": UPLOAD}, auth=key)
    await update(client, WELCOME, {"name": "welcome-2", "tags": None})
    row = await stored(db, WELCOME)
    assert row is not None
    assert (row["created_at"], row["created_by"], row["created_user_name"]) == (
        SEEDED_AT,
        "alice",
        ALICE,
    )
    assert (row["owner_id"], row["org_id"], row["state"]) == ("alice", ACME, "PUBLISHED")


async def test_each_change_moves_updated_at_forward(client: httpx.AsyncClient) -> None:
    stamps = [(await read(client, WELCOME))["updatedAt"]]
    for title in ("One", "Two", "Three"):
        result = await update(client, WELCOME, {"title": title})
        stamps.append(result["prompt"]["updatedAt"])
    parsed = [datetime.fromisoformat(stamp) for stamp in stamps]
    assert parsed == sorted(parsed)
    assert len(set(parsed)) == len(parsed)
    assert all(stamp.endswith("+00:00") for stamp in stamps)
