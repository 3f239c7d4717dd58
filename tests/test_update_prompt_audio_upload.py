"""A caller attaches uploaded audio to a prompt (requestId) and names its file (fileName)."""

from __future__ import annotations

import asyncio

import httpx

from db.database import Database
from db.models import prompts
from tests.factories import gql, token
from tests.updating_prompts import AFTER_HOURS, UPLOAD, WELCOME, field_codes, read, stored, update


async def test_a_request_id_attaches_the_uploaded_audio(client: httpx.AsyncClient) -> None:
    # given: after-hours is a TTS prompt without audio
    # when
    result = await update(client, AFTER_HOURS, {"requestId": UPLOAD})
    # then
    assert result["__typename"] == "UpdatePromptSuccess", result
    after = await read(client, AFTER_HOURS)
    assert (after["assetId"], after["type"], after["fileName"]) == (
        "asset_acme_welcome_v2",
        "ASSET",
        "welcome-v2.mp3",
    )
    assert after["content"] == result["prompt"]["content"] is not None  # left as it was


async def test_a_file_name_sent_with_a_request_id_wins(client: httpx.AsyncClient) -> None:
    result = await update(client, AFTER_HOURS, {"requestId": UPLOAD, "fileName": "late.wav"})
    assert result["__typename"] == "UpdatePromptSuccess", result
    after = await read(client, AFTER_HOURS)
    assert (after["assetId"], after["type"], after["fileName"]) == (
        "asset_acme_welcome_v2",
        "ASSET",
        "late.wav",
    )


async def test_a_file_name_alone_renames_the_audio_file(client: httpx.AsyncClient) -> None:
    result = await update(client, WELCOME, {"fileName": "welcome-final.ogg"})
    assert result["__typename"] == "UpdatePromptSuccess", result
    after = await read(client, WELCOME)
    assert (after["assetId"], after["fileName"]) == ("asset_acme_welcome", "welcome-final.ogg")


async def test_a_file_name_needs_an_asset_or_a_request_id(
    client: httpx.AsyncClient, db: Database
) -> None:
    before = await stored(db, AFTER_HOURS)
    result = await update(client, AFTER_HOURS, {"fileName": "late.mp3", "title": "Late"})
    assert result["__typename"] == "ValidationError", result
    assert field_codes(result) == [("fileName", "INVALID")]
    assert await stored(db, AFTER_HOURS) == before


RENAME_FILE = """
mutation { updatePrompt(id: "prm_acme_after_hours", input: {fileName: "closed.mp3"}) {
  __typename ... on ValidationError { fields { field code } } ... on Error { code } } }
"""


ATTACH_UPLOAD = """
mutation { updatePrompt(id: "prm_acme_after_hours", input: {requestId: "req-welcome-v2"}) {
  __typename ... on Error { code } } }
"""


async def test_a_rename_racing_an_attach_never_fails_as_a_server_error(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given: a prompt without audio; one request renames its audio file while another
    # attaches one (the rename's miss can no longer be explained once the attach landed)
    outcomes: set[str] = set()
    for _ in range(30):
        async with db.write() as conn:
            await conn.execute(
                prompts.update()
                .where(prompts.c.id == "prm_acme_after_hours")
                .values(asset_id=None, file_name=None, type="TTS")
            )
        # when
        renamed, _ = await asyncio.gather(
            gql(client, RENAME_FILE, auth=token("alice")),
            gql(client, ATTACH_UPLOAD, auth=token("alice")),
        )
        # then: the rename either waited for the audio or found none; never an internal error
        assert "errors" not in renamed, renamed
        result = renamed["data"]["updatePrompt"]
        outcomes.add(result["__typename"])
        if result["__typename"] == "ValidationError":
            assert result["fields"] == [{"field": "fileName", "code": "INVALID"}]
    assert outcomes <= {"UpdatePromptSuccess", "ValidationError"}
