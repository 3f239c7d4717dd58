"""SQLite floor: Starlette + aiosqlite + orjson, one UPDATE … RETURNING, no GraphQL.

What one process can do for the same update on Patchbay's default database, with the same
connection settings as Patchbay (WAL, busy timeout, synchronous=NORMAL): the SQLite
counterpart of the shared harness's contender A. Run by bench/compare.sh --sqlite.

POST /list is the read floor (contender S-list, `compare.sh --sqlite --reads`), the SQLite
counterpart of the harness's A-list: one SELECT of the org's first N prompts (body
{"first": N}, default 50, at most 100) in id order, the same 9 columns, as JSON.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import aiosqlite
import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

PATH = os.environ["FLOOR_SQLITE_PATH"]
POOL = int(os.environ.get("FLOOR_POOL", "4"))
SQL = (
    "UPDATE prompts SET description = ?, updated_at = ?, updated_by = ?, updated_user_name = ? "
    "WHERE id = ? AND org_id = ? RETURNING id, name, description, updated_at"
)
ORG = "11111111111141118111111111111111"  # acme, as SQLAlchemy stores a UUID on SQLite
LIST_SQL = (
    "SELECT id, name, description, title, content, model, tags, updated_at, updated_by "
    "FROM prompts WHERE org_id = ? ORDER BY id LIMIT ?"
)
pool: asyncio.Queue[aiosqlite.Connection] = asyncio.Queue()


async def update(request: Request) -> Response:
    patch = orjson.loads(await request.body())
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(sep=" ")
    conn = await pool.get()
    try:
        cursor = await conn.execute(
            SQL,
            (patch["description"], now, "bench-user", "Bench User", request.path_params["id"], ORG),
        )
        row = await cursor.fetchone()
        await conn.commit()
    finally:
        pool.put_nowait(conn)
    if row is None:
        return Response(b'{"error":"not found"}', status_code=404)
    body = {"id": row[0], "name": row[1], "description": row[2], "updated_at": row[3]}
    return Response(orjson.dumps(body), media_type="application/json")


async def list_prompts(request: Request) -> Response:
    """The first N prompts of the org: one SELECT, JSON out (tags decoded from their JSON
    text, updated_at as ISO 8601 UTC, as the PostgreSQL floor A-list answers)."""
    try:
        first = int(orjson.loads(await request.body() or b"{}").get("first", 50))
    except (orjson.JSONDecodeError, AttributeError, TypeError, ValueError):
        return Response(b'{"error":"bad body"}', status_code=400)
    conn = await pool.get()
    try:
        rows = await conn.execute_fetchall(LIST_SQL, (ORG, min(max(first, 1), 100)))
    finally:
        pool.put_nowait(conn)
    prompts = [
        {
            "id": r[0],
            "name": r[1],
            "description": r[2],
            "title": r[3],
            "content": r[4],
            "model": r[5],
            "tags": orjson.loads(r[6]),
            # stored as naive UTC text, "YYYY-MM-DD HH:MM:SS.ffffff"
            "updated_at": f"{r[7][:10]}T{r[7][11:]}+00:00",
            "updated_by": r[8],
        }
        for r in rows
    ]
    return Response(orjson.dumps({"prompts": prompts}), media_type="application/json")


@asynccontextmanager
async def lifespan(_: Starlette) -> AsyncIterator[None]:
    for _ in range(POOL):
        conn = await aiosqlite.connect(PATH, timeout=5)
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA synchronous=NORMAL")
        pool.put_nowait(conn)
    yield
    while not pool.empty():
        await pool.get_nowait().close()


app = Starlette(
    routes=[
        Route("/prompts/{id}", update, methods=["POST"]),
        Route("/list", list_prompts, methods=["POST"]),
    ],
    lifespan=lifespan,
)
