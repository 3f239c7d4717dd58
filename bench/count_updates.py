"""Prints how many row updates the prompts table has seen (PostgreSQL), or -1 (SQLite).

Read after the harness stopped every server, when all backends have flushed their stats.
"""

from __future__ import annotations

import asyncio
import sys

from sqlalchemy import text

from db.database import Database

QUERY = text("SELECT n_tup_upd FROM pg_stat_user_tables WHERE relname = 'prompts'")


async def count(url: str) -> int:
    db = Database(url)
    if db.is_sqlite:
        return -1
    try:
        async with db.read() as conn:
            return int((await conn.execute(QUERY)).scalar_one())
    finally:
        await db.dispose()


if __name__ == "__main__":
    print(asyncio.run(count(sys.argv[1])))
