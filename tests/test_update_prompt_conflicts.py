"""expectedUpdatedAt guards an update against a lost write: the stored stamp (in any notation
of the same instant) lets it through, any other is a STALE conflict that writes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from db.database import Database
from tests.updating_prompts import SEEDED, STALE, UPLOAD, WELCOME, field_codes, read, stored, update


@pytest.mark.parametrize(
    "expected",
    [SEEDED, "2026-01-05T09:00:00Z", "2026-01-05T10:00:00+01:00", "2026-01-05T09:00:00.000000Z"],
)
async def test_the_stored_updated_at_lets_the_update_through(
    client: httpx.AsyncClient, expected: str
) -> None:
    assert (await read(client, WELCOME))["updatedAt"] == SEEDED
    result = await update(client, WELCOME, {"title": "Guarded", "expectedUpdatedAt": expected})
    assert result["__typename"] == "UpdatePromptSuccess", result
    assert (await read(client, WELCOME))["title"] == "Guarded"


async def test_the_updated_at_of_a_previous_update_can_guard_the_next(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given: an update with a fresh (sub-second) timestamp, as read back
    first = await update(client, WELCOME, {"title": "First"})
    version = (await read(client, WELCOME))["updatedAt"]
    assert version == first["prompt"]["updatedAt"]
    # when
    second = await update(client, WELCOME, {"title": "Second", "expectedUpdatedAt": version})
    # then
    assert second["__typename"] == "UpdatePromptSuccess", second
    before = await stored(db, WELCOME)
    third = await update(client, WELCOME, {"title": "Third", "expectedUpdatedAt": version})
    assert field_codes(third) == [("expectedUpdatedAt", "STALE")]
    assert await stored(db, WELCOME) == before


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"title": "Too late", "tags": ["late"]}, id="change"),
        pytest.param({}, id="no-change"),
        pytest.param({"requestId": UPLOAD}, id="attach"),
        pytest.param({"name": "hold-music"}, id="taken-name"),
    ],
)
async def test_a_stale_updated_at_is_a_conflict_and_writes_nothing(
    client: httpx.AsyncClient, db: Database, changes: dict[str, Any]
) -> None:
    # given
    before = await stored(db, WELCOME)
    # when
    result = await update(client, WELCOME, {**changes, "expectedUpdatedAt": STALE})
    # then
    assert (result["__typename"], result["code"]) == ("ConflictError", "CONFLICT")
    assert field_codes(result) == [("expectedUpdatedAt", "STALE")]
    assert await stored(db, WELCOME) == before


async def test_a_null_updated_at_guard_is_no_guard(client: httpx.AsyncClient) -> None:
    result = await update(client, WELCOME, {"title": "Unguarded", "expectedUpdatedAt": None})
    assert result["__typename"] == "UpdatePromptSuccess", result
