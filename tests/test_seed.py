"""`patchbay seed` is idempotent: running it again adds nothing and changes nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from db.database import Database
from db.models import brands, guardrail_pools, organizations, prompts, uploads
from db.seed import seed_demo

TABLES = (organizations, brands, guardrail_pools, uploads, prompts)


async def _counts(db: Database) -> list[int]:
    async with db.read() as conn:
        return [
            int((await conn.execute(select(func.count()).select_from(t))).scalar_one())
            for t in TABLES
        ]


async def test_seeding_twice_changes_nothing(db: Database) -> None:
    # given: the demo data
    before = await _counts(db)
    # when
    async with db.write() as conn:
        await seed_demo(conn)
    # then
    assert before == [2, 2, 3, 1, 4]
    assert await _counts(db) == before
