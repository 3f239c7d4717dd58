"""How the tables are stored, where it decides the cost of an update."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from db.database import Database
from db.models import PROMPTS_FILLFACTOR


async def test_prompts_leave_room_on_each_page_for_updates(db: Database) -> None:
    # given: the migrated test database
    if db.is_sqlite:
        pytest.skip("a PostgreSQL storage parameter")
    # when
    async with db.read() as conn:
        options = (
            await conn.execute(text("SELECT reloptions FROM pg_class WHERE relname = 'prompts'"))
        ).scalar_one()
    # then: an update finds room on its row's page (a HOT update, no new index entries)
    assert f"fillfactor={PROMPTS_FILLFACTOR}" in (options or [])
