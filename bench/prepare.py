"""Prepares a Patchbay database for a benchmark: migrate, seed N prompts, write ids + token.

    python bench/prepare.py --url URL --rows N --ids FILE --token FILE --secret SECRET
        [--like-harness]

The prompts belong to acme and are owned by `bench-user`, whose token (prompts:write) is
written to --token; their ids, one per line, to --ids. Existing bench rows are replaced.

--like-harness (used by `compare.sh --reads`) fills the fields a read returns the way the
shared harness seeds its own `prompts` for A-list/E5-list: description 'seed', title
'Title n', content 'lorem ipsum dolor sit amet ' x 20 (540 characters), model 'model-x', tags
[a, b]; and it deletes acme's demo prompts, whose ids (prm_acme_…) sort before the bench rows,
so the first page is 50 bench rows of the same size as the peers' rows. Without it (the update
workload) the rows are as before: those fields empty.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import jwt
from sqlalchemy import delete, insert, select

from db.database import Database
from db.migrate import upgrade_async
from db.models import history_entries, prompts
from db.seed import ACME, seed_demo

USER = "bench-user"
BATCH = 10_000


# The shared harness's SEED_SQL (runner.py), for the fields a read returns.
HARNESS_CONTENT = "lorem ipsum dolor sit amet " * 20


def harness_fields(n: int) -> dict[str, object]:
    return {
        "description": "seed",
        "title": f"Title {n + 1}",
        "content": HARNESS_CONTENT,
        "model": "model-x",
        "tags": ["a", "b"],
    }


async def prepare(url: str, rows: int, like_harness: bool = False) -> list[str]:
    await upgrade_async(url)
    db = Database(url)
    try:
        async with db.write() as conn:
            await seed_demo(conn)
            # Prompts made again under the same ids start at version 1: their old history
            # entries go with them (one entry per version of an entity).
            gone = select(prompts.c.id).where(prompts.c.owner_id == USER)
            if like_harness:  # only bench rows in acme: its first page is theirs
                gone = select(prompts.c.id).where(prompts.c.org_id == ACME)
            await conn.execute(
                delete(history_entries).where(
                    history_entries.c.entity_kind == "PROMPT",
                    history_entries.c.entity_id.in_(gone),
                )
            )
            await conn.execute(delete(prompts).where(prompts.c.id.in_(gone)))
        now = datetime.now(UTC)
        ids = [f"prm_bench_{i:07d}" for i in range(rows)]
        for start in range(0, rows, BATCH):
            batch = [
                {
                    "id": pid,
                    "org_id": ACME,
                    "owner_id": USER,
                    "name": f"bench-{pid}",
                    "type": "TTS",
                    "state": "DRAFT",
                    "tags": [],
                    "created_at": now,
                    "created_by": USER,
                    "updated_at": now,
                    "updated_by": USER,
                }
                | (harness_fields(n) if like_harness else {})
                for n, pid in enumerate(ids[start : start + BATCH], start=start)
            ]
            async with db.write() as conn:
                await conn.execute(insert(prompts), batch)
        if not db.is_sqlite:
            # As the shared harness does to its own table before every run: hint bits set,
            # visibility map and statistics current, so no contender's first writes pay
            # for the bulk load.
            async with db.engine.execution_options(isolation_level="AUTOCOMMIT").connect() as c:
                await c.exec_driver_sql("VACUUM ANALYZE prompts")
        return ids
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--ids", type=Path, required=True)
    parser.add_argument("--token", type=Path, required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--like-harness", action="store_true")
    args = parser.parse_args()
    started = time.monotonic()
    ids = asyncio.run(prepare(args.url, args.rows, args.like_harness))
    args.ids.write_text("".join(f"{pid}\n" for pid in ids))
    claims = {
        "sub": USER,
        "org_id": str(ACME),
        "scope": "prompts:write",
        "name": "Bench User",
        "exp": int(time.time()) + 24 * 3600,
    }
    args.token.write_text(jwt.encode(claims, args.secret, algorithm="HS256"))
    print(f"prepared {args.rows} prompts in {time.monotonic() - started:.1f}s", flush=True)


if __name__ == "__main__":
    main()
