"""SQLite reads: run in the loop's thread when they can finish at once (db/sqlite_inline.py),
with rows decoded inline (db/statements.py), and the same rows as SQLAlchemy's own
execution makes, whatever text the file holds."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import insert, update
from sqlalchemy.engine import make_url

from db import prompts as store
from db import sqlite_inline, statements
from db.database import Database
from db.migrate import upgrade_async
from db.models import prompts
from db.reads import reads_of
from db.rows import PromptRow
from db.seed import ACME
from db.sqlite import SqliteBackend
from db.sqlite_inline import BUDGET_SECONDS, SLOW_FIRST_SECONDS, InlineReads
from tests.factories import alices_prompt

T = TypeVar("T")

WELCOME = "prm_acme_welcome"  # a demo prompt of acme
# Text a datetime or JSON column may hold, written by something other than Patchbay:
# (updated_at, tags). The first of each is what Patchbay itself writes.
ODD_TEXT = [
    ("2026-01-02 03:04:05.000006", '["a","b"]'),
    ("2026-01-02 03:04:05", "[]"),
    ("2026-01-02T03:04:05.5", '["x"]'),
    ("2026-01-02 03:04:05.000006+02:00", "5"),  # an offset of its own; a JSON number
    ("2026-01-02", "[18446744073709551616]"),  # a date alone; beyond orjson's integers
]


def _stall(seconds: float) -> int:
    """A statement's stall of the thread. Not time.sleep(0): it yields the core, and on a
    loaded machine that alone can stop a statement that must finish."""
    if seconds:
        time.sleep(seconds)
    return 0


def _cpu_of(call: Callable[[], T]) -> tuple[T, float]:
    """`call`'s result and this thread's CPU seconds for it, the garbage collector paused:
    a collection that falls due in a long test run is not the read's (2 ms seen)."""
    gc.disable()
    try:
        started = time.thread_time()
        result = call()
        return result, time.thread_time() - started
    finally:
        gc.enable()


def sqlite_path(db: Database) -> str:
    path = make_url(db.url).database
    assert path is not None
    return path


async def test_rows_read_inline_are_those_sqlalchemy_makes(db: Database) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite's text columns")
    # given: acme's prompts, one per kind of text a column may hold
    ids = [f"prm_odd_{n}" for n in range(len(ODD_TEXT))]
    async with db.write() as conn:
        await conn.execute(insert(prompts).values([alices_prompt(i) for i in ids]))
    with sqlite3.connect(sqlite_path(db)) as raw:
        for prompt_id, (stamp, tags) in zip(ids, ODD_TEXT, strict=True):
            raw.execute(
                "UPDATE prompts SET updated_at = ?, tags = ? WHERE id = ?", (stamp, tags, prompt_id)
            )
    reads = reads_of(prompts, None)
    async with db.read() as conn:
        # when: each is read alone, and all of them in one page (with the demo's own rows)
        ours = [
            await statements.rows(conn, reads.by_id, {"w_id": i, "w_org": ACME}, row=PromptRow)
            for i in ids
        ]
        theirs = [
            [tuple(r) for r in (await conn.execute(reads.by_id, {"w_id": i, "w_org": ACME}))]
            for i in ids
        ]
        page = {"w_org": ACME, "w_limit": 100}
        our_page = await statements.rows(conn, reads.first_page, page, row=PromptRow)
        their_page = [tuple(r) for r in (await conn.execute(reads.first_page, page))]
    # then: the same rows as SQLAlchemy's result processing makes, each found
    assert [[tuple(r) for r in rows] for rows in ours] == theirs
    assert all(len(rows) == 1 for rows in theirs)
    assert [tuple(r) for r in our_page] == their_page
    assert {r.id for r in our_page} >= set(ids)
    # and: Patchbay's own text was decoded inline, as an aware UTC datetime
    assert ours[0][0].updated_at == datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert ours[0][0].updated_at.tzinfo is UTC


async def test_reads_of_a_file_run_in_the_loops_thread(db: Database) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite's inline reads")
    # given: the app's SQLite database, a file
    backend = db.backend
    assert isinstance(backend, SqliteBackend) and backend.inline is not None
    backend.inline.drop()
    # when: a page is read
    async with db.read() as conn:
        page = await statements.rows(
            conn, reads_of(prompts, None).first_page, {"w_org": ACME, "w_limit": 5}, row=PromptRow
        )
    # then: it was read on the loop thread's own connection (opened for it), not in
    # aiosqlite's threads
    assert backend.inline._conn is not None
    assert page and all(r.org_id == ACME for r in page)


def no_lending(backend: SqliteBackend, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Records each connection the backend's lane lends (still lent, as before)."""
    lent: list[object] = []
    lend = backend.lane.connection

    def recorded(*args: Any, **kwargs: Any) -> Any:
        lent.append(args)
        return lend(*args, **kwargs)

    monkeypatch.setattr(backend.lane, "connection", recorded)
    return lent


async def test_a_read_that_runs_inline_lends_no_connection(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite's inline reads")
    backend = db.backend
    assert isinstance(backend, SqliteBackend)
    lent = no_lending(backend, monkeypatch)
    # when: a page and a prompt are read from the database, outside any unit
    page = await store.page_of_prompts(db, org_id=ACME, after=None, limit=5)
    one = await store.fetch_prompt(db, org_id=ACME, prompt_id=WELCOME, columns=frozenset({"name"}))
    # then: both were read inline, without a connection of the lane lent for them
    assert page and all(r.org_id == ACME for r in page)
    assert one is not None and one.id == WELCOME and one.description is None
    assert lent == []


async def test_reads_queue_for_the_lane_while_it_opens_connections(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite's inline reads")
    backend = db.backend
    assert isinstance(backend, SqliteBackend)
    # given: a lane opening a connection (for a read that could not run inline)
    monkeypatch.setattr(backend.lane, "opening", 1)
    lent = no_lending(backend, monkeypatch)
    # when: a page is read from the database
    page = await store.page_of_prompts(db, org_id=ACME, after=None, limit=5)
    # then: it waited for a connection of the lane, as every read did before, leaving
    # the loop to the connects
    assert page and all(r.org_id == ACME for r in page)
    assert len(lent) == 1


async def test_a_read_that_cannot_run_inline_is_read_on_a_lent_connection(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite's inline reads")
    backend = db.backend
    assert isinstance(backend, SqliteBackend) and backend.inline is not None
    lent = no_lending(backend, monkeypatch)
    # given: inline reads that cannot run at once (locked, stopped by the budget)
    monkeypatch.setattr(backend.inline, "rows", lambda *_: None)
    # when: a page is read from the database
    page = await store.page_of_prompts(db, org_id=ACME, after=None, limit=5)
    # then: the driver read it, on a connection lent as any read's
    assert page and all(r.org_id == ACME for r in page)
    assert len(lent) == 1


async def test_a_read_inside_a_unit_sees_the_units_own_writes(db: Database) -> None:
    # given: a unit of work that has changed a prompt, not yet committed
    async with db.unit() as outcome:
        unit = db.current_unit()
        assert unit is not None
        await unit.conn.execute(
            update(prompts).where(prompts.c.id == WELCOME).values(description="in the unit")
        )
        # when: the prompt is read inside the unit, on a connection and from the database
        async with db.read() as conn:
            inside = await store.fetch_prompt(conn, org_id=ACME, prompt_id=WELCOME)
        from_db = await store.fetch_prompt(db, org_id=ACME, prompt_id=WELCOME)
        outcome.discard()
    async with db.read() as conn:
        after = await store.fetch_prompt(conn, org_id=ACME, prompt_id=WELCOME)
    # then: the read ran in the unit's transaction (not inline, on another connection), and
    # nothing of it is left once the unit is discarded
    assert inside is not None and inside.description == "in the unit"
    assert from_db is not None and from_db.description == "in the unit"
    assert after is not None and after.description != "in the unit"


def file_with_prompts(tmp_path: Path, rows: int, *, wal: bool = True) -> Path:
    path = tmp_path / "inline.db"
    with sqlite3.connect(path) as raw:
        if wal:
            raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("CREATE TABLE t (x INTEGER)")
        raw.executemany("INSERT INTO t VALUES (?)", [(n,) for n in range(rows)])
    return path


def test_a_read_that_cannot_finish_at_once_is_left_to_the_driver(tmp_path: Path) -> None:
    # given: a file, and its inline reader
    path = file_with_prompts(tmp_path, 3)
    reads = InlineReads.of(f"sqlite+aiosqlite:///{path}")
    assert reads is not None
    try:
        # when: a quick read, a long one, and a write are asked for
        quick = reads.rows("SELECT x FROM t WHERE x > ? ORDER BY x", [0])
        started = time.thread_time()
        long = reads.rows(
            "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c LIMIT 50000000) "
            "SELECT count(*) FROM c",
            [],
        )
        stopped_after = time.thread_time() - started
        write = reads.rows("INSERT INTO t VALUES (?) RETURNING x", [99])
        # then: the quick one answers; the long one is stopped within its budget, and the
        # write is refused: both are left to the driver (None), and nothing was written
        assert quick == [(1,), (2,)]
        assert long is None and stopped_after < 0.1
        assert write is None
        assert reads.rows("SELECT count(*) FROM t", []) == [(3,)]
    finally:
        reads.close()


def test_a_statement_stopped_once_is_not_tried_in_the_loop_again_for_a_while(
    tmp_path: Path,
) -> None:
    # given: a statement the budget stops
    path = file_with_prompts(tmp_path, 3)
    reads = InlineReads.of(f"sqlite+aiosqlite:///{path}")
    assert reads is not None
    slow = (
        "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + ? FROM c LIMIT 50000000) "
        "SELECT count(*) FROM c"
    )
    try:
        assert reads.rows(slow, [1]) is None
        # when: it comes again (with other values), beside a quick one
        again, second_try = _cpu_of(lambda: reads.rows(slow, [2]))
        # then: it goes to the driver at once, without stalling the loop for the budget again;
        # other statements still run here
        assert again is None and second_try < 0.001
        assert reads.rows("SELECT count(*) FROM t", []) == [(3,)]
    finally:
        reads.close()


def test_a_read_stopped_by_a_stall_not_its_own_runs_in_the_loop_again_soon(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: a quick statement, stopped once because its thread stalled (a sleep here; in
    # production the scheduler giving the server's core to another process). A budget of
    # 50 ms, not 5: a loaded CI runner's own stalls must not stop the runs that must finish.
    monkeypatch.setattr(sqlite_inline, "BUDGET_SECONDS", 0.05)
    path = file_with_prompts(tmp_path, 3)
    reads = InlineReads.of(f"sqlite+aiosqlite:///{path}")
    assert reads is not None
    assert reads.rows("SELECT 1", []) == [(1,)]
    assert reads._conn is not None
    reads._conn.create_function("stall", 1, _stall)
    quick = (
        "WITH RECURSIVE c(n) AS (SELECT stall(?) UNION ALL SELECT n + 1 FROM c LIMIT 300) "
        "SELECT count(*) FROM c"
    )
    try:
        assert reads.rows(quick, [0.1]) is None  # stopped by the budget
        assert reads.rows(quick, [0]) is None  # and left to the driver at first
        # when: it comes again once SLOW_FIRST_SECONDS have passed
        time.sleep(SLOW_FIRST_SECONDS * 1.2)
        again = reads.rows(quick, [0])
        # then: it runs here again (it was left to the driver for a minute, every read of
        # that statement paying the thread hop's CPU for one stall); and, forgiven, a
        # second stall later costs no longer a wait than the first
        assert again == [(300,)]
        assert reads.rows(quick, [0.1]) is None
        time.sleep(SLOW_FIRST_SECONDS * 1.2)
        assert reads.rows(quick, [0]) == [(300,)]
    finally:
        reads.close()


def test_a_statement_stopped_again_and_again_waits_longer_each_time(tmp_path: Path) -> None:
    # given: a statement the budget stops whenever it runs here
    path = file_with_prompts(tmp_path, 3)
    reads = InlineReads.of(f"sqlite+aiosqlite:///{path}")
    assert reads is not None
    slow = (
        "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + ? FROM c LIMIT 50000000) "
        "SELECT count(*) FROM c"
    )
    try:
        assert reads.rows(slow, [1]) is None
        time.sleep(SLOW_FIRST_SECONDS * 1.2)
        started = time.monotonic()
        assert reads.rows(slow, [1]) is None  # tried here again: stopped again
        tried = time.monotonic() - started
        # when: as long again has passed
        time.sleep(SLOW_FIRST_SECONDS * 1.2)
        third, third_try = _cpu_of(lambda: reads.rows(slow, [1]))
        # then: the second try ran into the budget, the third goes to the driver at once
        # (after a second stop in a row it waits twice as long)
        assert tried >= BUDGET_SECONDS
        assert third is None and third_try < 0.001
    finally:
        reads.close()


def test_a_locked_file_is_left_to_the_driver_at_once(tmp_path: Path) -> None:
    # given: a file in rollback-journal mode, locked by another connection
    path = file_with_prompts(tmp_path, 3, wal=False)
    reads = InlineReads.of(f"sqlite+aiosqlite:///{path}")
    assert reads is not None
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        # when: a read is asked for
        started = time.monotonic()
        locked = reads.rows("SELECT count(*) FROM t", [])
        waited = time.monotonic() - started
        holder.execute("COMMIT")
        # then: it did not wait for the lock (no busy timeout); once free, it reads
        assert locked is None and waited < 0.5
        assert reads.rows("SELECT count(*) FROM t", []) == [(3,)]
    finally:
        holder.close()
        reads.close()


def test_no_inline_reader_where_another_connection_would_see_another_database(
    tmp_path: Path,
) -> None:
    # in memory, or with driver options in the URL: only the driver's connections
    assert InlineReads.of("sqlite+aiosqlite://") is None
    assert InlineReads.of("sqlite+aiosqlite:///:memory:") is None
    assert InlineReads.of(f"sqlite+aiosqlite:///file:{tmp_path}/x.db?mode=ro&uri=true") is None
    # and: a file that is not there is not made by a read
    missing = InlineReads.of(f"sqlite+aiosqlite:///{tmp_path / 'missing.db'}")
    assert missing is not None
    assert missing.rows("SELECT 1", []) is None
    assert not (tmp_path / "missing.db").exists()


async def test_the_lane_counts_its_connects_under_way(db: Database) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite's inline reads")
    backend = db.backend
    assert isinstance(backend, SqliteBackend)
    app_lane = backend.lane  # a lane of its own, empty, beside the app's
    lane = type(app_lane)(
        app_lane.engine,
        size=1,
        timeout_seconds=2.0,
        is_lost=app_lane.is_lost,
        is_unusable=app_lane.is_unusable,
    )
    # when: a read needs a connection of the empty lane
    during: list[int] = []

    async def read() -> None:
        async with lane.connection():
            during.append(lane.opening)

    reading = asyncio.create_task(read())
    await asyncio.sleep(0)
    # then: the connect is counted while it is under way, and no longer once it is done
    assert lane.opening == 1
    await reading
    assert during == [0] and lane.opening == 0
    await lane.close()


async def test_a_read_after_the_database_is_disposed_is_refused_and_opens_nothing(
    tmp_path: Path,
) -> None:
    # given: a file database, read once inline, then disposed
    url = f"sqlite+aiosqlite:///{tmp_path / 'disposed.db'}"
    await upgrade_async(url)
    db = Database(url)
    await store.page_of_prompts(db, org_id=ACME, after=None, limit=5)
    await db.dispose()
    # when: a request still running reads it
    with pytest.raises(RuntimeError, match="disposed"):
        await store.page_of_prompts(db, org_id=ACME, after=None, limit=5)
    # then: refused as a lent read is, and no file connection was opened again
    backend = db.backend
    assert isinstance(backend, SqliteBackend) and backend.inline is not None
    assert backend.inline._conn is None
