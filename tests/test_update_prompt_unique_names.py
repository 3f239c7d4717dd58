"""A prompt's name is unique within its organization, also when renames race."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest
from sqlalchemy import func, insert, select

from db.database import Database
from db.models import prompts
from tests.factories import alices_prompt, token
from tests.updating_prompts import (
    AFTER_HOURS,
    GLOBEX_WELCOME,
    HOLD_MUSIC,
    WELCOME,
    field_codes,
    read,
    stored,
    update,
)


@pytest.mark.parametrize("name", ["welcome", "  welcome "])
async def test_a_name_taken_in_the_organization_is_a_conflict(
    client: httpx.AsyncClient, db: Database, name: str
) -> None:
    # given: acme's prm_acme_welcome is named "welcome"
    before = await stored(db, AFTER_HOURS)
    # when
    result = await update(client, AFTER_HOURS, {"name": name, "title": "Also changed"})
    # then
    assert (result["__typename"], result["code"]) == ("ConflictError", "CONFLICT")
    assert field_codes(result) == [("name", "TAKEN")]
    assert await stored(db, AFTER_HOURS) == before


async def test_a_name_of_another_organization_is_free(client: httpx.AsyncClient) -> None:
    # given: "hold-music" exists in acme only
    result = await update(client, GLOBEX_WELCOME, {"name": "hold-music"}, auth=token("carol"))
    assert result["__typename"] == "UpdatePromptSuccess", result
    assert (await read(client, GLOBEX_WELCOME, user="carol"))["name"] == "hold-music"
    assert (await read(client, HOLD_MUSIC))["name"] == "hold-music"


async def test_renaming_a_prompt_to_its_own_name_succeeds(client: httpx.AsyncClient) -> None:
    result = await update(client, WELCOME, {"name": " welcome "})
    assert result["__typename"] == "UpdatePromptSuccess", result
    assert result["prompt"]["name"] == "welcome"


async def test_a_freed_name_can_be_taken(client: httpx.AsyncClient) -> None:
    assert (await update(client, WELCOME, {"name": "welcome-old"}))["__typename"] == (
        "UpdatePromptSuccess"
    )
    result = await update(client, AFTER_HOURS, {"name": "welcome"})
    assert result["__typename"] == "UpdatePromptSuccess", result


async def test_twenty_racing_renames_to_one_name_give_one_success(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given: twenty prompts of alice
    ids = [f"prm_race_{i:02d}" for i in range(20)]
    async with db.write() as conn:
        await conn.execute(insert(prompts), [alices_prompt(prompt_id) for prompt_id in ids])
    # when: all of them are renamed to the same name at once
    results = await asyncio.gather(*(update(client, i, {"name": "the-one"}) for i in ids))
    # then
    assert Counter(r["__typename"] for r in results) == {
        "UpdatePromptSuccess": 1,
        "ConflictError": 19,
    }
    conflicts = [r for r in results if r["__typename"] == "ConflictError"]
    assert all(field_codes(r) == [("name", "TAKEN")] for r in conflicts)
    async with db.read() as conn:
        named = await conn.execute(
            select(func.count()).select_from(prompts).where(prompts.c.name == "the-one")
        )
        assert named.scalar_one() == 1
