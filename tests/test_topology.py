"""The deploy/ topology for real: PgBouncer (transaction pooling) before PostgreSQL, three
`patchbay serve` replicas, HAProxy with /readyz checks, Redis, all on free ports.

Writes go through HAProxy with per-write accounting (bench/topology_load.py): a steady
phase, a phase where replica 2 is SIGKILLed and started again, and a rolling restart with
SIGTERM. No acknowledged write may be missing from the database; only requests in flight
on the killed replica may fail, and none during the rolling restart.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete

from db.database import Database
from db.models import prompts
from db.rate_limits import set_rate_limit
from db.seed import GLOBEX
from tests.factories import TEST_SECRET, token
from tests.own_servers import program

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))
import topology_load  # noqa: E402  (bench/, with deploy/topology.py)
from topology_load import topology  # noqa: E402

CLIENTS = 8
PHASE_SECONDS = 5.0
VIEWER = "query Who { viewer { ... on Viewer { subject } } }"


@pytest.fixture(scope="module")
async def layout(database_url: str) -> AsyncIterator[topology.Topology]:
    """The topology, up for this module's tests, on the suite's PostgreSQL database."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PgBouncer stands before PostgreSQL")
    for name in ("haproxy", "pgbouncer", "redis-server"):
        program(name, debian_package=name)
    # Short: HAProxy's stats socket lives there, and a socket path has at most 107 bytes.
    run_dir = Path(tempfile.mkdtemp(prefix="pb-topo-"))
    layout = topology_load.layout_for(run_dir, database_url)
    with pytest.MonkeyPatch.context() as environment:  # the replicas' settings
        environment.setenv("PATCHBAY_JWT_SECRET", TEST_SECRET)
        environment.setenv("PATCHBAY_LOG_LEVEL", "warning")
        # Rate limits on, in Redis: too large to matter but for globex, which gets its own
        # small bucket in the test of the shared budget.
        environment.setenv("PATCHBAY_RATE_LIMIT", "true")
        environment.setenv("PATCHBAY_RATE_LIMIT_MAXIMUM", "1e9")
        environment.setenv("PATCHBAY_RATE_LIMIT_RESTORE_RATE", "1e9")
        environment.setenv("PATCHBAY_RATE_LIMIT_HOLD_SECONDS", "0")
        try:
            await asyncio.to_thread(topology.up, layout)
            yield layout
        finally:
            await asyncio.to_thread(topology.down, layout)
            await _remove_bench_prompts(database_url)
            shutil.rmtree(run_dir, ignore_errors=True)


async def _remove_bench_prompts(database_url: str) -> None:
    db = Database(database_url)
    try:
        async with db.write() as conn:
            await conn.execute(delete(prompts).where(prompts.c.owner_id == topology_load.USER))
    finally:
        await db.dispose()


async def test_a_persisted_query_registered_on_one_replica_is_served_by_the_others(
    layout: topology.Topology,
) -> None:
    digest = hashlib.sha256(VIEWER.encode()).hexdigest()
    persisted = {"persistedQuery": {"version": 1, "sha256Hash": digest}}
    headers = {"Authorization": f"Bearer {token('alice')}"}
    one, two, three = (f"http://127.0.0.1:{port}/graphql" for port in layout.replica_ports)
    async with httpx.AsyncClient(timeout=10) as client:
        # given
        unknown = await client.post(two, json={"extensions": persisted}, headers=headers)
        assert unknown.json()["errors"][0]["message"] == "PersistedQueryNotFound"
        # when
        registered = await client.post(
            one, json={"query": VIEWER, "extensions": persisted}, headers=headers
        )
        assert registered.json()["data"] == {"viewer": {"subject": "alice"}}
        # then
        for replica in (two, three):
            served = await client.post(replica, json={"extensions": persisted}, headers=headers)
            assert served.json()["data"] == {"viewer": {"subject": "alice"}}


async def test_one_rate_limit_budget_is_shared_by_every_replica(
    layout: topology.Topology, database_url: str
) -> None:
    # given globex's own bucket: 60 points, hardly restored
    db = Database(database_url)
    try:
        async with db.write() as conn:
            await set_rate_limit(conn, org_id=GLOBEX, maximum=60, restore_rate=0.001)
    finally:
        await db.dispose()
    headers = {"Authorization": f"Bearer {token('carol')}"}
    query = {"query": "{ viewer { ... on Viewer { organization { id } } } }"}  # 2 points
    replicas = [f"http://127.0.0.1:{port}/graphql" for port in layout.replica_ports]
    # when carol sends 90 requests, each replica a third of them, 3 at a time
    async with httpx.AsyncClient(timeout=10) as client:
        statuses = []
        for _ in range(30):
            answers = await asyncio.gather(
                *(client.post(url, json=query, headers=headers) for url in replicas)
            )
            statuses += [answer.status_code for answer in answers]
    # then the three admitted one budget between them: 60 points, a point for each replica's
    # first sight of the document and 2 per request, 28 requests, within 10%
    admitted = statuses.count(200)
    assert set(statuses) == {200, 429}
    assert 26 <= admitted <= 31, statuses


async def test_no_acknowledged_write_is_lost_through_a_kill_and_a_rolling_restart(
    layout: topology.Topology,
) -> None:
    # when
    steady, kill, rolling = await topology_load.phases(
        layout, clients=CLIENTS, seconds=PHASE_SECONDS, rows=20_000
    )
    # then
    report = "\n".join(str(phase.summary()) for phase in (steady, kill, rolling))
    for phase in (steady, kill, rolling):
        assert phase.missing == 0, report
        assert len(phase.acked) > 20, report
    assert steady.failed == 0, report
    # each client has one request in flight: at most that many were on the killed replica
    assert kill.failed <= CLIENTS, report
    assert kill.events and "exit status 137" in kill.events[0], report
    assert rolling.failed == 0, report
    assert rolling.events == ["rolling restart with SIGTERM, exit statuses [0, 0, 0]"], report
