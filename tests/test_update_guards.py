"""The guards of a prompt update are declared once (db/prompts.py): the UPDATE's WHERE and
the explanation of a miss must agree, guard by guard, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from db import prompts as store
from db.database import Database
from db.prompts import Guard, PromptWrite, failed_guard
from db.seed import ACME, GLOBEX

WELCOME = "prm_acme_welcome"  # alice's, with an audio file
AFTER_HOURS = "prm_acme_after_hours"  # alice's, without an audio file
KNOWN_UPLOAD = "req-welcome-v2"


def _write(**guards: object) -> PromptWrite:
    return PromptWrite(values={"description": "guarded"}, **guards)  # type: ignore[arg-type]


async def _current_updated_at(db: Database, prompt_id: str) -> datetime:
    async with db.read() as conn:
        row = await store.fetch_prompt(conn, org_id=ACME, prompt_id=prompt_id)
    assert row is not None
    return row.updated_at


MISSES = {
    Guard.FOUND: (GLOBEX, WELCOME, {}),  # another organization's id space
    Guard.OWNED: (ACME, WELCOME, {"owner_id": "bob"}),
    Guard.UPLOAD_EXISTS: (ACME, WELCOME, {"attach_upload": "req-nobody-uploaded"}),
    Guard.HAS_ASSET: (ACME, AFTER_HOURS, {"needs_asset": True}),
    Guard.UNCHANGED: (ACME, WELCOME, {"expected_updated_at": "stale"}),
    Guard.VERSION: (ACME, WELCOME, {"expected_version": 99}),
}


@pytest.mark.parametrize("guard", list(Guard), ids=lambda g: g.name)
async def test_each_guard_stops_the_update_and_explains_the_miss(
    db: Database, guard: Guard
) -> None:
    # given: a write that breaks this guard only
    org_id, prompt_id, guards = MISSES[guard]
    if guards.get("expected_updated_at") == "stale":
        stale = await _current_updated_at(db, prompt_id) - timedelta(seconds=1)
        guards = {"expected_updated_at": stale}
    write = _write(**guards)
    # when
    async with db.single_write() as single:
        written = await store.update_prompt(single, org_id=org_id, prompt_id=prompt_id, write=write)
        async with single.reading() as conn:
            row = await store.fetch_prompt(conn, org_id=org_id, prompt_id=prompt_id)
            upload = write.attach_upload
            found = upload is None or await store.upload_exists(
                conn, org_id=org_id, request_id=upload
            )
    # then: the UPDATE matched nothing, and the row as read names the same guard
    assert written is None
    assert failed_guard(row, write, upload_found=found) is guard


async def test_a_write_that_keeps_every_guard_lands_and_no_guard_fails(db: Database) -> None:
    # given: every guard in play, each satisfied
    write = _write(
        owner_id="alice",
        attach_upload=KNOWN_UPLOAD,
        expected_updated_at=await _current_updated_at(db, WELCOME),
    )
    # when
    async with db.single_write() as single:
        written = await store.update_prompt(single, org_id=ACME, prompt_id=WELCOME, write=write)
    # then
    assert written is not None and written.description == "guarded"
    assert written.asset_id == "asset_acme_welcome_v2"
    assert failed_guard(written, write, upload_found=True) is None
    assert written.updated_at.tzinfo is not None and written.updated_at <= datetime.now(UTC)
