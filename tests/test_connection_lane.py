"""The connection lane (db/lane.py, PostgreSQL) under contention: who waits gets served in
turn, a broken or cancelled connection strands no waiter and leaks no slot, a timeout
replaces one connection only; and on both databases a failing read leaves no
transaction behind for the next request on its connection."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import suppress
from typing import NamedTuple

import asyncpg
import pytest
from sqlalchemy import bindparam, func, literal, select
from sqlalchemy.engine import make_url

from db import statements
from db.database import Database
from db.lane import ConnectionLane
from tests.conftest import settings_for
from tests.factories import client_for, gql, token
from tests.row_locks import far_database
from tests.waiting import eventually

SLOW_STATEMENT = "SELECT pg_sleep(1)"


def _lane_or_skip(database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("the lane serves PostgreSQL (SQLite's single writes share one connection)")


@pytest.fixture
async def one_connection(database_url: str) -> AsyncIterator[Database]:
    """A database whose lane lends a single connection."""
    _lane_or_skip(database_url)
    db = Database(database_url, pool_size=1, timeout_seconds=2.0)
    yield db
    await db.dispose()


async def _queue_waiter(lane: ConnectionLane, served: list[str]) -> asyncio.Task[None]:
    """A request that waits for a connection (the caller holds the only one), runs a
    statement on it and notes that it was served."""

    async def waiting() -> None:
        async with lane.connection() as conn:
            await conn.exec_driver_sql("SELECT 1")
            served.append("waiter")

    waiter = asyncio.create_task(waiting())
    await eventually(lambda: len(lane._waiters) == 1, within=2, what="the waiter never queued")
    return waiter


@pytest.mark.parametrize("holder", ["returns", "breaks"])
async def test_a_waiting_request_is_served_before_a_newcomer(
    one_connection: Database, holder: str
) -> None:
    # given: the only connection is lent, and a second request waits for it
    lane = one_connection.lane
    served: list[str] = []
    async with lane.connection() as held:
        waiter = await _queue_waiter(lane, served)
        if holder == "breaks":  # invalidated, as after a lost server: its slot is freed
            await held.invalidate()
    # when: a newcomer asks in the very pass the connection (or its slot) came back,
    # before the waiter has run again: a queue, or an unreserved slot, would let it in first
    async with lane.connection():
        served.append("newcomer")
    await waiter
    # then
    assert served == ["waiter", "newcomer"]


async def test_a_waiter_gives_up_after_the_timeout_and_the_lane_still_serves(
    database_url: str,
) -> None:
    _lane_or_skip(database_url)
    db = Database(database_url, pool_size=1, timeout_seconds=0.2)
    try:
        # given: the only connection is lent
        async with db.lane.connection():
            # when: another request waits for it
            started = time.monotonic()
            with pytest.raises(TimeoutError):
                async with db.lane.connection():
                    pass
            waited = time.monotonic() - started
        # then: it gave up after the timeout, and the connection serves the next one
        assert 0.2 <= waited < 1.0
        async with db.lane.connection() as conn:
            assert conn.invalidated is False
    finally:
        await db.dispose()


async def test_a_waiter_with_an_earlier_deadline_gives_up_first(database_url: str) -> None:
    _lane_or_skip(database_url)
    db = Database(database_url, pool_size=1, timeout_seconds=5.0)
    lane = db.lane
    assert lane is not None

    async def waiting(within: float) -> None:
        async with lane.connection(time.monotonic() + within):
            pass

    try:
        # given: the only connection is lent, and a request waits for it for 5 s
        async with lane.connection():
            patient = asyncio.create_task(waiting(5.0))
            await eventually(lambda: len(lane._waiters) == 1, within=2, what="no waiter")
            # when: a later request waits with an earlier deadline (the lane's one timer
            # was set for the first)
            with pytest.raises(TimeoutError):
                await waiting(0.2)
            # then: it gave up on its own deadline, while the first still waits
            assert not patient.done()
        await patient  # served once the connection came back
    finally:
        await db.dispose()


async def test_a_waiter_opens_a_connection_in_place_of_one_that_broke(
    one_connection: Database,
) -> None:
    # given: a request waits for the only connection
    lane = one_connection.lane
    served: list[str] = []
    async with lane.connection() as broken:
        waiter = await _queue_waiter(lane, served)
        # when: the lent connection breaks (invalidated, as after a lost server)
        await broken.invalidate()
    # then: the waiter does not wait out its timeout: it opens a new connection at once
    started = time.monotonic()
    await waiter
    assert served == ["waiter"]
    assert time.monotonic() - started < 1.0


async def statement_is_running(database_url: str, statement: str) -> bool:
    """Whether PostgreSQL is executing `statement` for some session of this database."""
    dsn = make_url(database_url).set(drivername="postgresql")
    conn = await asyncpg.connect(dsn.render_as_string(hide_password=False), timeout=5)
    try:
        running = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND state = 'active' AND query = $1",
            statement,
        )
    finally:
        await conn.close()
    return bool(running)


async def test_a_request_cancelled_again_and_again_leaks_no_connection(
    one_connection: Database, database_url: str
) -> None:
    # given: a request running a slow statement on the only connection
    lane = one_connection.lane
    started = asyncio.Event()

    async def slow() -> None:
        async with lane.connection() as conn:
            started.set()
            await conn.exec_driver_sql(SLOW_STATEMENT)  # holds the connection for a second

    task = asyncio.create_task(slow())
    await started.wait()
    for _ in range(50):  # until the server runs it: the cancel must land mid-statement
        if await statement_is_running(database_url, SLOW_STATEMENT):
            break
    else:
        pytest.fail("the slow statement never ran")
    # when: it is cancelled mid-statement, and again at every step of the lane's clean-up
    while not task.done():
        task.cancel()
        await asyncio.sleep(0)  # one pass of the loop: the next step of the clean-up
    with pytest.raises(asyncio.CancelledError):
        await task
    # then: the next request still gets a connection, well within the timeout
    began = time.monotonic()
    async with lane.connection() as conn:
        await conn.exec_driver_sql("SELECT 1")
    assert time.monotonic() - began < 1.5


async def test_a_command_timeout_replaces_that_connection_only(database_url: str) -> None:
    _lane_or_skip(database_url)
    db = Database(database_url, pool_size=2, timeout_seconds=0.3)
    try:
        # given: two open connections in the lane
        async with db.lane.connection() as first, db.lane.connection() as second:
            pass
        # when: a statement on one of them outlives the command timeout
        with pytest.raises(TimeoutError):
            async with db.lane.connection() as conn:
                assert conn is first or conn is second
                timed_out = conn
                await conn.exec_driver_sql("SELECT pg_sleep(2)")  # outlives the timeout
        # then: the other connection is still lent as it is, not reopened
        survivor = first if timed_out is second else second
        async with db.lane.connection() as conn:
            assert conn is survivor
    finally:
        await db.dispose()


class _Slept(NamedTuple):
    slept: object


SLEEP = select(func.pg_sleep(bindparam("seconds")).label("slept"))
QUICK = select(literal(1).label("slept"))


async def test_nothing_more_is_sent_on_a_connection_whose_statement_timed_out(
    database_url: str,
) -> None:
    _lane_or_skip(database_url)
    async with far_database(database_url, delay=0.01) as far_url:  # a cancel takes 20 ms
        db = Database(far_url, pool_size=1, timeout_seconds=0.5)
        watcher = await asyncpg.connect(
            make_url(database_url).set(drivername="postgresql").render_as_string(False)
        )
        try:
            # when: a statement outlives the timeout, and the same lending sends another
            with pytest.raises(TimeoutError):
                async with db.lane.connection() as conn:
                    with suppress(TimeoutError):
                        await statements.rows(conn, SLEEP, {"seconds": 30}, row=_Slept)
                    await statements.rows(conn, QUICK, {}, row=_Slept)
            # then: the second was not sent (asyncpg would have waited a millisecond for its
            # cancel request, then cut the connection with the cancel unsent): the lane
            # closed the connection after the cancel, and the server stopped the first
            stopped_by = time.monotonic() + 2
            while await _sleeping(watcher):
                assert time.monotonic() < stopped_by, "the timed-out statement still runs"
                await asyncio.sleep(0.02)
        finally:
            await watcher.close()
            await db.dispose()


@pytest.mark.parametrize("given", [False, True], ids=["the-lane-s-timeout", "a-request-s"])
async def test_the_wait_for_a_connection_is_part_of_the_deadline(
    database_url: str, given: bool
) -> None:
    _lane_or_skip(database_url)
    async with far_database(database_url, delay=0.05) as far_url:  # a connect takes ~1 s
        db = Database(far_url, pool_size=1, timeout_seconds=3.0)
        try:
            # when: a lending's connection is opened first, and its statement outlives the
            # deadline
            started = time.monotonic()
            deadline = started + 3.0 if given else None  # a request's, or the lane's own
            async with db.lane.connection(deadline) as conn:
                connected = time.monotonic() - started
                with pytest.raises(TimeoutError):
                    await statements.rows(conn, SLEEP, {"seconds": 30}, row=_Slept)
            # then: the statement had what was left of the deadline, not a whole timeout
            answered = time.monotonic() - started
            assert connected > 0.3, "the connect was quick: nothing here to count"
            assert answered < 3.0 + 0.4
        finally:
            await db.dispose()


async def _sleeping(watcher: asyncpg.Connection) -> int:
    await watcher.execute("SELECT pg_stat_clear_snapshot()")
    found = await watcher.fetchval(
        "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
        "AND query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()"
    )
    return int(found)


EMPTY_STALE_UPDATE = """
mutation Stale($id: ID!) {
  updatePrompt(id: $id, input: {expectedUpdatedAt: "2020-01-01T00:00:00Z"}) {
    __typename
  }
}
"""
VIEWER = "query { viewer { __typename } }"


async def test_reads_that_fail_leave_no_transaction_open(database_url: str, db: Database) -> None:
    del db  # the demo data, reset
    # given: requests whose read fails with a domain error (an empty input with a stale
    # expectedUpdatedAt reads the prompt, then refuses), more of them than the pool has
    async with client_for(settings_for(database_url)) as fresh:
        failed = await asyncio.gather(
            *(
                gql(fresh, EMPTY_STALE_UPDATE, {"id": "prm_acme_welcome"}, auth=token("alice"))
                for _ in range(12)
            )
        )
        # when: reads follow on the same connections
        reads = [await gql(fresh, VIEWER, auth=token("alice")) for _ in range(12)]
    # then: each refusal was the documented one and every read succeeded
    assert {f["data"]["updatePrompt"]["__typename"] for f in failed} == {"ConflictError"}
    assert all(r.get("errors") is None for r in reads), reads
    assert {r["data"]["viewer"]["__typename"] for r in reads} == {"Viewer"}


class _One(NamedTuple):
    one: int


async def test_statements_follow_a_connection_sqlalchemy_made_anew(database_url: str) -> None:
    # given: a lent connection that has run a statement (its driver's connection is kept
    # at hand: db/lane.py's LaneConnection)
    db = Database(database_url, pool_size=1, timeout_seconds=5.0)
    one = select(literal(1).label("one"))
    try:
        async with db.read() as conn:
            before = await statements.first(conn, one, {}, row=_One)
            # when: SQLAlchemy invalidates it (closing the driver's connection) and, used
            # again through SQLAlchemy, connects anew
            await conn.invalidate()
            await conn.exec_driver_sql("SELECT 1")
            # then: a statement runs on the new connection, not on the kept (closed) one
            after = await statements.first(conn, one, {}, row=_One)
        async with db.read() as conn:  # and the lane lends on
            again = await statements.first(conn, one, {}, row=_One)
    finally:
        await db.dispose()
    assert before == after == again == (1,)


async def test_a_lending_near_its_deadline_sends_nothing_and_keeps_the_connection(
    database_url: str,
) -> None:
    _lane_or_skip(database_url)
    db = Database(database_url, pool_size=1, timeout_seconds=2.0)
    try:
        # given: the lane's one connection, lent, and a request waiting for it with 0.3 s
        waiter_deadline = time.monotonic() + 0.3
        outcome: list[str] = []

        async def waiting() -> None:
            try:
                async with db.lane.connection(waiter_deadline) as conn:
                    outcome.append("lent")
                    await statements.rows(conn, SLEEP, {"seconds": 1}, row=_Slept)
            except TimeoutError:
                outcome.append("timed out")

        async with db.lane.connection() as held:
            await statements.rows(held, QUICK, {}, row=_Slept)
            waiter = asyncio.create_task(waiting())
            # when: the connection comes back 3 ms before the waiter's deadline (a statement
            # sent now would have 3 ms: it would time out and cost the connection)
            await asyncio.sleep(waiter_deadline - time.monotonic() - 0.003)
        await waiter
        # then: the waiter gave up without sending anything, and the same connection
        # serves the next request (a statement that timed out would have had it replaced)
        assert outcome == ["timed out"]
        async with db.lane.connection() as again:
            assert again is held
            assert await statements.rows(again, QUICK, {}, row=_Slept) == [(1,)]
    finally:
        await db.dispose()


async def test_only_postgresql_refuses_a_lending_with_too_little_time_left(
    database_url: str,
) -> None:
    # given: a lane with a connection open and idle
    db = Database(database_url, pool_size=1, timeout_seconds=2.0)
    one = select(literal(1).label("one"))
    try:
        async with db.read() as conn:
            await statements.first(conn, one, {}, row=_One)
        # when: a read asks for it 3 ms before its deadline
        try:
            async with db.backend.read(time.monotonic() + 0.003) as conn:
                found = await statements.first(conn, one, {}, row=_One)
        except TimeoutError:
            found = None
    finally:
        await db.dispose()
    # then: PostgreSQL's lane refuses it (its statement would most likely time out and cost
    # the connection); SQLite's statements have no timeout to run out: it runs
    assert found == ((1,) if database_url.startswith("sqlite") else None)
