"""Faults made to happen for real: a dropped table, PostgreSQL stopped mid-load, restarted
while idle or frozen, a SQLite file locked by another process, twenty concurrent SQLite
writers. No mocks: each test breaks a real database and checks what callers get, how fast,
and that the gateway serves again by itself.

PostgreSQL faults run on a throwaway cluster of their own (`initdb` in a temporary directory,
its own port), never on the machine's shared server. Without PostgreSQL's tools they skip, or
fail when PATCHBAY_REQUIRE_POSTGRES=1.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import pwd
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from sqlalchemy import insert, select, text

from db.database import Database
from db.migrate import upgrade_async
from db.models import prompts
from db.seed import ACME, seed_demo
from gateway.app import create_app
from schema.request_errors import MASKED_MESSAGES
from tests.conftest import REQUIRE_POSTGRES, settings_for, throwaway_postgres
from tests.factories import asgi_client, client_for, token
from tests.waiting import eventually

UPDATE = """
mutation FaultUpdate($id: ID!, $input: UpdatePromptInput!) {
  updatePrompt(id: $id, input: $input) {
    __typename
    ... on UpdatePromptSuccess { prompt { id title description tags } }
    ... on Error { code message }
  }
}
"""
PROMPT = """
query FaultPrompt($id: ID!) {
  prompt(id: $id) { __typename ... on Prompt { description } }
}
"""
# Another process takes SQLite's write lock, writes without committing, and holds the lock
# until it reads a line on stdin.
HOLD_SQLITE_LOCK = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN EXCLUSIVE")
connection.execute("UPDATE prompts SET title = 'written by the lock holder'")
print("locked", flush=True)
sys.stdin.readline()
connection.execute("ROLLBACK")
"""

OK = "ok"
ALICE = "alice"
AFTER_HOURS = "prm_acme_after_hours"  # alice's, TTS, no asset
UPLOAD = "req-welcome-v2"  # acme's upload
INTERNALS = (
    "Traceback",
    "sqlalchemy",
    "asyncpg",
    "sqlite",
    "uploads",
    "SELECT",
    "UPDATE ",
    "no such table",
    "does not exist",
    "locked",
)
PG_BIN_ROOT = Path("/usr/lib/postgresql")
PG_USER = "postgres"  # PostgreSQL refuses to run as root: the cluster runs as this user


# --- helpers --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    prompt_id: str
    mark: str  # the unique title, description and tag this write sets
    started: float
    finished: float
    outcome: str  # OK or the top-level error's extensions.code
    body: str
    request_id: str

    @property
    def seconds(self) -> float:
        return self.finished - self.started


def alice() -> dict[str, str]:
    return {"Authorization": f"Bearer {token(ALICE)}"}


def outcome_of(response: httpx.Response, mark: str | None) -> str:
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    body = response.json()
    result = (body.get("data") or {}).get("updatePrompt")
    if result is not None:
        if result["__typename"] == "UpdatePromptSuccess" and (
            mark is None or result["prompt"]["description"] == mark
        ):
            return OK
        return str(result.get("code") or result["__typename"])
    return str(body["errors"][0]["extensions"]["code"])


async def write(
    client: httpx.AsyncClient, prompt_id: str, mark: str, changes: dict[str, Any] | None = None
) -> Attempt:
    """One updatePrompt; by default it sets title, description and tags to `mark`, in one
    statement, so a row that mixes two writes would show."""
    default = {"title": mark, "description": mark, "tags": [mark]}
    variables = {"id": prompt_id, "input": changes if changes is not None else default}
    started = time.monotonic()
    response = await client.post(
        "/graphql", json={"query": UPDATE, "variables": variables}, headers=alice()
    )
    finished = time.monotonic()
    return Attempt(
        prompt_id=prompt_id,
        mark=mark,
        started=started,
        finished=finished,
        outcome=outcome_of(response, mark if changes is None else None),
        body=response.text,
        request_id=response.headers.get("X-Request-ID", ""),
    )


def assert_masked(attempt: Attempt, code: str) -> None:
    """A top-level error with the contract's code, message and request id, nothing inside."""
    error = json.loads(attempt.body)["errors"][0]
    assert error["message"] == MASKED_MESSAGES[code]
    assert error["extensions"] == {"code": code, "requestId": attempt.request_id}
    for internal in INTERNALS:
        assert internal.lower() not in attempt.body.lower(), (internal, attempt.body)


async def prepare_database(url: str, *, extra_prompts: int = 0) -> list[str]:
    """Migrate, seed the demo data and add prompts of alice's; returns their ids."""
    await upgrade_async(url)
    db = Database(url)
    ids = [f"prm_fault_{number:03d}" for number in range(extra_prompts)]
    now = datetime.now(UTC)
    try:
        async with db.write() as conn:
            await seed_demo(conn)
            if ids:
                await conn.execute(
                    insert(prompts),
                    [
                        {
                            "id": pid,
                            "org_id": ACME,
                            "owner_id": ALICE,
                            "name": f"fault-{pid}",
                            "type": "TTS",
                            "state": "DRAFT",
                            "tags": [],
                            "created_at": now,
                            "created_by": ALICE,
                            "updated_at": now,
                            "updated_by": ALICE,
                        }
                        for pid in ids
                    ],
                )
    finally:
        await db.dispose()
    return ids


async def stored_rows(url: str, ids: list[str]) -> dict[str, Any]:
    db = Database(url)
    try:
        async with db.read() as conn:
            rows = (await conn.execute(select(prompts).where(prompts.c.id.in_(ids)))).all()
    finally:
        await db.dispose()
    return {row.id: row for row in rows}


def free_port() -> int:
    """A free port below Linux's ephemeral range (32768-60999), so that no outgoing
    connection takes it while the cluster is down and its port unbound."""
    for port in random.sample(range(20000, 30000), 200):
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port between 20000 and 30000")


def missing_postgres(reason: str) -> NoReturn:
    if REQUIRE_POSTGRES:
        pytest.fail(f"PostgreSQL is required: {reason}")
    pytest.skip(reason)


# --- a throwaway PostgreSQL cluster ---------------------------------------------------------


def postgres_bin() -> Path | None:
    """The directory holding initdb and pg_ctl: PATCHBAY_PG_BIN, Debian's, or PATH's."""
    candidates = [Path(os.environ["PATCHBAY_PG_BIN"])] if "PATCHBAY_PG_BIN" in os.environ else []
    versions = [path for path in PG_BIN_ROOT.glob("*/bin") if path.parent.name.isdigit()]
    candidates += sorted(versions, key=lambda path: int(path.parent.name), reverse=True)
    if initdb := shutil.which("initdb"):
        candidates.append(Path(initdb).parent)
    for candidate in candidates:
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    return None


@dataclass(frozen=True)
class Cluster:
    """A PostgreSQL cluster in a temporary directory, on its own port and socket directory."""

    bin: Path
    root: Path
    port: int
    run_as: tuple[str, ...]  # runuser prefix when we are root

    def run(self, program: str, *args: str) -> None:
        done = subprocess.run(
            [*self.run_as, str(self.bin / program), *args],
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            log = self.root / "server.log"
            server_log = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{program} {' '.join(args)} failed:\n{done.stderr}{server_log}")

    def pg_ctl(self, *args: str) -> None:
        log = str(self.root / "server.log")
        self.run("pg_ctl", "-D", str(self.root / "data"), "-l", log, "-w", "-t", "30", *args)

    def start(self) -> None:
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.root} -c max_connections=50"
        )
        self.pg_ctl("-o", options, "start")

    def processes(self) -> list[int]:
        """The postmaster and its children (backends, checkpointer, WAL writer, ...)."""
        postmaster = int((self.root / "data" / "postmaster.pid").read_text().split()[0])
        children = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == postmaster:
                    children.append(int(stat.parent.name))
        return [postmaster, *children]

    @staticmethod
    def signal(pids: list[int], number: signal.Signals) -> None:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, number)

    def stop_immediately(self) -> None:
        """Like a crash: no shutdown checkpoint, clients cut off, recovery at the next start."""
        self.pg_ctl("-m", "immediate", "stop")

    async def new_database(self) -> str:
        name = f"faults_{uuid.uuid4().hex[:8]}"
        conn = await asyncpg.connect(host="127.0.0.1", port=self.port, user="postgres", timeout=10)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{name}"


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    binaries = postgres_bin()
    if binaries is None:
        missing_postgres("initdb/pg_ctl not found (set PATCHBAY_PG_BIN)")
    run_as: tuple[str, ...] = ()
    uid = gid = None
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam(PG_USER)
        except KeyError:
            missing_postgres(f"running as root and there is no {PG_USER!r} user to run initdb")
        runuser = shutil.which("runuser")
        if runuser is None:
            missing_postgres("running as root and runuser is missing")
        run_as = (runuser, "-u", PG_USER, "--")
        uid, gid = account.pw_uid, account.pw_gid
    root = Path(tempfile.mkdtemp(prefix="patchbay-pg-"))
    if uid is not None and gid is not None:
        os.chown(root, uid, gid)
    made = Cluster(bin=binaries, root=root, port=free_port(), run_as=run_as)
    try:
        made.run(
            "initdb",
            "-D",
            str(root / "data"),
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )
        made.start()
        yield made
    finally:
        with contextlib.suppress(subprocess.SubprocessError, OSError, RuntimeError):
            made.pg_ctl("-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


# --- databases of a test's own --------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
async def own_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh database this test may break: a SQLite file, or one on the shared server."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'own.db'}"
        return
    async with throwaway_postgres("patchbay_fault") as url:
        yield url


# --- an unexpected failure is masked --------------------------------------------------------


@pytest.mark.logs_a_failure
async def test_a_dropped_table_is_a_masked_internal_error_and_the_gateway_keeps_serving(
    own_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # given: the uploads table is gone (a broken migration, a mistaken DROP)
    await prepare_database(own_database_url)
    db = Database(own_database_url)
    try:
        async with db.write() as conn:
            await conn.execute(text("DROP TABLE uploads"))
    finally:
        await db.dispose()
    async with client_for(settings_for(own_database_url, database_timeout_seconds=2)) as client:
        # when: requests need the missing table, more of them than the pool has connections
        failed = [
            await write(client, AFTER_HOURS, f"attach-{n}", {"requestId": UPLOAD})
            for n in range(12)
        ]
        # and: then requests that do not need it
        served = await write(client, AFTER_HOURS, "still serving")
        ready = await client.get("/readyz")
    # then: each failure is INTERNAL_SERVER_ERROR with its request id and nothing internal
    assert {attempt.outcome for attempt in failed} == {"INTERNAL_SERVER_ERROR"}
    for attempt in failed:
        assert_masked(attempt, "INTERNAL_SERVER_ERROR")
    # and: the process serves the next request, reads and writes
    assert served.outcome == OK
    assert ready.status_code == 200
    # and: operators get the trace, under the same request id
    logged = {r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info}
    assert all(any(a.request_id in line for line in logged) for a in failed)


# --- PostgreSQL stopped mid-load ------------------------------------------------------------

OUTAGE_TIMEOUT = 2.0  # database_timeout_seconds of the gateway under test
SLACK = 1.0  # a busy CI machine's scheduling, on top of the configured bound
WRITERS = 6


def settled_writes_each(attempts: list[Attempt], *, since: float, ids: list[str]) -> int:
    """The fewest writes any of these prompts had that started at `since` or later."""
    started = Counter(a.prompt_id for a in attempts if a.started >= since)
    return min(started[pid] for pid in ids)


async def test_postgres_stopped_mid_load_is_unavailable_fast_and_recovers_by_itself(
    cluster: Cluster,
) -> None:
    # given: a gateway on its own database, six clients each writing their own prompt
    url = await cluster.new_database()
    ids = await prepare_database(url, extra_prompts=WRITERS)
    attempts: list[Attempt] = []
    done = asyncio.Event()

    async def writer(client: httpx.AsyncClient, prompt_id: str) -> None:
        for sequence in itertools.count():
            if done.is_set():
                return
            attempts.append(await write(client, prompt_id, f"{prompt_id}-{sequence}"))
            await asyncio.sleep(0.01)  # paces the load: a client writing again and again

    async with client_for(settings_for(url, database_timeout_seconds=OUTAGE_TIMEOUT)) as client:
        tasks = [asyncio.create_task(writer(client, pid)) for pid in ids]
        try:
            await eventually(
                lambda: {a.prompt_id for a in attempts if a.outcome == OK} == set(ids),
                within=10,
                what="not every writer was served before the outage",
            )
            # when: PostgreSQL is stopped like a crash, stays down 2 s, and is started again
            stopping = time.monotonic()
            await asyncio.to_thread(cluster.stop_immediately)
            down = time.monotonic()
            await asyncio.sleep(2.0)  # the outage itself: requests meet a server that is down
            restarting = time.monotonic()
            await asyncio.to_thread(cluster.start)
            up = time.monotonic()
            await eventually(
                lambda: settled_writes_each(attempts, since=up + 0.5, ids=ids) >= 5,
                within=15,
                what="the writers did not write five times each after the restart",
            )
        finally:
            done.set()
            await asyncio.gather(*tasks)

    # then: callers only ever saw a success, SERVICE_UNAVAILABLE, or OUTCOME_UNKNOWN for a
    # write the crash cut off after it was sent; masked, with its request id
    outcomes = Counter(attempt.outcome for attempt in attempts)
    assert set(outcomes) <= {OK, "SERVICE_UNAVAILABLE", "OUTCOME_UNKNOWN"}, outcomes
    assert {OK, "SERVICE_UNAVAILABLE"} <= set(outcomes), outcomes
    for attempt in attempts:
        if attempt.outcome != OK:
            assert_masked(attempt, attempt.outcome)
    before = [a for a in attempts if a.finished < stopping]
    assert before and all(a.outcome == OK for a in before)
    # and: every request made while the server was down failed fast, within the bound
    during = [a for a in attempts if down <= a.started and a.finished < restarting]
    assert len(during) >= 20
    assert all(a.outcome == "SERVICE_UNAVAILABLE" for a in during)
    slowest = max(a.seconds for a in during)
    assert slowest <= OUTAGE_TIMEOUT + SLACK
    # and: the gateway served again by itself, within seconds of the restart
    first_ok = min(a.finished for a in attempts if a.started >= restarting and a.outcome == OK)
    assert first_ok - up <= 5.0
    settled = [a for a in attempts if a.started >= up + 0.5]
    assert settled and all(a.outcome == OK for a in settled)
    # and: no partial writes; each prompt holds its last acknowledged write, or a later one
    # answered OUTCOME_UNKNOWN: never one answered SERVICE_UNAVAILABLE
    rows = await stored_rows(url, ids)
    for pid in ids:
        mine = [a for a in attempts if a.prompt_id == pid]
        last_ok = max(i for i, a in enumerate(mine) if a.outcome == OK)
        row = rows[pid]
        assert row.title == row.description and row.tags == [row.description]
        possible = {mine[last_ok].mark} | {
            a.mark for a in mine[last_ok:] if a.outcome == "OUTCOME_UNKNOWN"
        }
        assert row.description in possible
    print(
        f"\noutage: {len(during)} requests while down, all SERVICE_UNAVAILABLE, slowest "
        f"{slowest * 1000:.0f} ms; first success {first_ok - restarting:.2f} s after the "
        f"restart began ({first_ok - up:+.2f} s from ready); {outcomes[OK]} writes served, "
        f"0 partial"
    )


async def test_postgres_restarted_while_idle_costs_no_failed_request(
    cluster: Cluster,
) -> None:
    # given: a gateway whose pool holds several connections from earlier traffic
    url = await cluster.new_database()
    ids = await prepare_database(url, extra_prompts=8)
    async with client_for(settings_for(url, database_timeout_seconds=OUTAGE_TIMEOUT)) as client:
        warm = await asyncio.gather(*(write(client, pid, f"{pid}-warm") for pid in ids))
        assert {a.outcome for a in warm} == {OK}
        # when: PostgreSQL restarts while no request runs, so every pooled connection is stale
        await asyncio.to_thread(cluster.stop_immediately)
        await asyncio.to_thread(cluster.start)
        restarted = time.monotonic()
        after = [await write(client, ids[n % len(ids)], f"after-{n}") for n in range(10)]
    # then: connections the server closed while idle are replaced before any statement runs
    # on them: not one request fails
    failures = [a for a in after if a.outcome != OK]
    assert failures == []
    recovered = after[0].finished - restarted
    assert recovered <= 3.0
    print(f"\nidle restart: {len(failures)} failed request(s), serving {recovered:.2f} s after")


async def test_postgres_that_stops_answering_is_unavailable_within_the_timeout_bound(
    cluster: Cluster,
) -> None:
    # given: a gateway whose pool holds connections from earlier traffic
    url = await cluster.new_database()
    ids = await prepare_database(url, extra_prompts=12)
    async with client_for(settings_for(url, database_timeout_seconds=OUTAGE_TIMEOUT)) as client:
        warm = await asyncio.gather(*(write(client, pid, f"{pid}-warm") for pid in ids[:4]))
        assert {a.outcome for a in warm} == {OK}
        # when: the server freezes (SIGSTOP: connections stay open, nothing answers), and
        # requests keep coming, more of them than the pool has connections
        frozen = cluster.processes()
        cluster.signal(frozen, signal.SIGSTOP)
        try:
            hung = await asyncio.gather(*(write(client, pid, f"{pid}-frozen") for pid in ids))
        finally:
            cluster.signal(frozen, signal.SIGCONT)
        # and: the server answers again
        thawed = [await write(client, ids[n], f"{ids[n]}-thawed") for n in range(4)]
        rows = await stored_rows(url, ids)
    # then: every request was answered within the timeout: OUTCOME_UNKNOWN where its write
    # had been sent to the frozen server, SERVICE_UNAVAILABLE where it never was
    outcomes = Counter(a.outcome for a in hung)
    assert set(outcomes) <= {"SERVICE_UNAVAILABLE", "OUTCOME_UNKNOWN"}, outcomes
    assert outcomes["OUTCOME_UNKNOWN"] >= 1
    for attempt in hung:
        assert_masked(attempt, attempt.outcome)
    slowest = max(a.seconds for a in hung)
    assert slowest <= OUTAGE_TIMEOUT + SLACK
    # and: SERVICE_UNAVAILABLE never hid a write (the thawed server ran what it had received)
    for attempt in hung[4:]:
        if attempt.outcome == "SERVICE_UNAVAILABLE":
            assert rows[attempt.prompt_id].description != attempt.mark
    # and: it serves again at once
    assert {a.outcome for a in thawed} == {OK}
    print(
        f"\nfrozen server: {dict(outcomes)} in "
        f"{min(a.seconds for a in hung):.2f}-{slowest:.2f} s (timeout {OUTAGE_TIMEOUT:.0f} s); "
        f"{len(thawed)} served at once after"
    )


# --- SQLite locked by another process -------------------------------------------------------

LOCK_TIMEOUT = 1.0  # database_timeout_seconds: SQLite's busy timeout and the pool's wait
LOCKED_WRITERS = 20  # more than SQLAlchemy's SQLite pool holds (5 + 10 overflow)


async def test_sqlite_locked_by_another_process_is_unavailable_in_bounds_then_writable(
    tmp_path: Path,
) -> None:
    # given: a gateway with a 1 s database timeout, and another process holding the write lock
    path = tmp_path / "locked.db"
    url = f"sqlite+aiosqlite:///{path}"
    ids = await prepare_database(url, extra_prompts=LOCKED_WRITERS)
    async with client_for(settings_for(url, database_timeout_seconds=LOCK_TIMEOUT)) as client:
        before = await write(client, ids[0], "before the lock")
        holder = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            HOLD_SQLITE_LOCK,
            str(path),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert holder.stdin is not None and holder.stdout is not None
        try:
            assert await asyncio.wait_for(holder.stdout.readline(), 10) == b"locked\n"
            # when: a read arrives, then twenty writes at once
            read = await client.post(
                "/graphql", json={"query": PROMPT, "variables": {"id": ids[0]}}, headers=alice()
            )
            locked = await asyncio.gather(*(write(client, pid, f"{pid}-locked") for pid in ids))
        finally:
            holder.stdin.write(b"\n")
            await holder.stdin.drain()
            await asyncio.wait_for(holder.wait(), 10)
        # and: the lock is released, and the same writes are sent again
        released = await asyncio.gather(*(write(client, pid, f"{pid}-free") for pid in ids))
    # then: each locked write was SERVICE_UNAVAILABLE (SQLite said "locked": nothing written)
    # after waiting half the timeout for the lock, within the timeout, with nothing about the
    # lock in the answer
    assert before.outcome == OK
    assert {a.outcome for a in locked} == {"SERVICE_UNAVAILABLE"}
    for attempt in locked:
        assert_masked(attempt, "SERVICE_UNAVAILABLE")
    durations = [a.seconds for a in locked]
    slowest_after = max(a.seconds for a in released)
    assert min(durations) >= LOCK_TIMEOUT * 0.4
    assert max(durations) <= LOCK_TIMEOUT + SLACK
    # and: reads went on while the file was locked (WAL)
    assert read.json()["data"]["prompt"]["description"] == "before the lock"
    # and: once released, writes succeed at once, and nothing of the failed ones landed
    assert {a.outcome for a in released} == {OK}
    rows = await stored_rows(url, ids)
    assert {pid: rows[pid].description for pid in ids} == {pid: f"{pid}-free" for pid in ids}
    assert all(rows[pid].title != "written by the lock holder" for pid in ids)
    print(
        f"\nsqlite lock: {len(locked)} writes SERVICE_UNAVAILABLE in "
        f"{min(durations):.2f}-{max(durations):.2f} s (timeout {LOCK_TIMEOUT:.0f} s); "
        f"after release all {len(released)} served, slowest {slowest_after:.3f} s"
    )


# --- SQLite with twenty concurrent writers --------------------------------------------------

CONCURRENT_WRITERS = 20
WRITES_EACH = 10


async def test_sqlite_twenty_concurrent_writers_never_see_database_is_locked(
    tmp_path: Path,
) -> None:
    # given: two gateways on one SQLite file, as `patchbay serve --workers 2` runs them (each
    # with its own pool, so they meet only at SQLite's lock), with the default settings
    url = f"sqlite+aiosqlite:///{tmp_path / 'writers.db'}"
    ids = await prepare_database(url, extra_prompts=CONCURRENT_WRITERS)

    async def writer(client: httpx.AsyncClient, prompt_id: str) -> list[Attempt]:
        return [await write(client, prompt_id, f"{prompt_id}-{n}") for n in range(WRITES_EACH)]

    async with client_for(settings_for(url)) as first, client_for(settings_for(url)) as second:
        # when: twenty clients write at the same time, ten writes each, half through each
        started = time.monotonic()
        results = await asyncio.gather(
            *(writer((first, second)[n % 2], pid) for n, pid in enumerate(ids))
        )
        elapsed = time.monotonic() - started
    # then: every write succeeded; no "database is locked" reached anyone
    attempts = [attempt for result in results for attempt in result]
    assert len(attempts) == CONCURRENT_WRITERS * WRITES_EACH
    assert Counter(a.outcome for a in attempts) == {OK: len(attempts)}
    assert not any("locked" in a.body.lower() for a in attempts)
    # and: each prompt holds its last write
    rows = await stored_rows(url, ids)
    assert {pid: rows[pid].description for pid in ids} == {
        pid: f"{pid}-{WRITES_EACH - 1}" for pid in ids
    }
    print(
        f"\nsqlite writers: {len(attempts)} writes by {CONCURRENT_WRITERS} concurrent writers in "
        f"{elapsed:.2f} s, 0 errors, slowest {max(a.seconds for a in attempts) * 1000:.0f} ms"
    )


# --- SQLite's shared write connection closed under the gateway ----------------------------


async def test_a_closed_sqlite_write_connection_costs_one_request_then_is_replaced(
    tmp_path: Path,
) -> None:
    # given: a gateway that has written once, so its shared write connection is open
    url = f"sqlite+aiosqlite:///{tmp_path / 'closed.db'}"
    ids = await prepare_database(url, extra_prompts=3)
    app = create_app(settings_for(url))
    try:
        async with asgi_client(app) as client:
            assert (await write(client, ids[0], "before")).outcome == OK
            # when: the driver's connection is closed behind SQLAlchemy's back
            shared = await app.state.db.backend.shared.get()
            await (await shared.get_raw_connection()).driver_connection.close()
            broken = await write(client, ids[1], "while closed")
            after = [await write(client, pid, "after") for pid in ids[1:]]
    finally:
        await app.state.db.dispose()
    # then: the one request on the closed connection was told to retry, and the next ones
    # were served on a new connection
    assert broken.outcome == "SERVICE_UNAVAILABLE"
    assert_masked(broken, "SERVICE_UNAVAILABLE")
    assert {a.outcome for a in after} == {OK}
