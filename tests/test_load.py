"""bench/load.py, run for a few seconds: a real server under concurrent writers, on both
databases, with 0 errors and every acknowledged write in the database afterwards."""

from __future__ import annotations

import asyncio
import re
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import delete

from db.database import Database
from db.models import prompts

LOAD = Path(__file__).resolve().parent.parent / "bench" / "load.py"
BENCH_USER = "bench-user"  # the owner of bench/prepare.py's prompts
SUMMARY = re.compile(
    r"load: (?P<clients>\d+) clients x (?P<seconds>[\d.]+) s on \w+: (?P<served>\d+) served "
    r"\(\d+/s\), (?P<errors>\d+) errors, p50 (?P<p50>[\d.]+) ms, p99 (?P<p99>[\d.]+) ms, "
    r"(?P<lost>\d+) lost writes"
)
RUN_LIMIT_SECONDS = 90.0  # the whole script, set-up and server start included


@pytest.fixture
async def load_database_url(database_url: str) -> AsyncIterator[str]:
    """The suite's database; the bench prompts are removed afterwards."""
    yield database_url
    db = Database(database_url)
    try:
        async with db.write() as conn:
            await conn.execute(delete(prompts).where(prompts.c.owner_id == BENCH_USER))
    finally:
        await db.dispose()


async def run_load(url: str, *args: str) -> tuple[int, str, str, float]:
    """Runs the script; returns its exit code, stdout, stderr and wall time."""
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(LOAD),
        "--url",
        url,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), RUN_LIMIT_SECONDS)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode(), time.monotonic() - started


def summary(stdout: str) -> dict[str, float]:
    match = SUMMARY.search(stdout)
    assert match, stdout
    return {name: float(value) for name, value in match.groupdict().items()}


async def test_four_clients_for_three_seconds_lose_nothing(load_database_url: str) -> None:
    # when
    code, stdout, stderr, _ = await run_load(load_database_url, "--clients", "4", "--seconds", "3")
    # then
    assert code == 0, stdout + stderr
    figures = summary(stdout)
    assert figures["clients"] == 4
    assert 3 <= figures["seconds"] < 3 + 10  # stopped by itself once the time was out
    assert figures["served"] > 0
    assert figures["errors"] == 0
    assert figures["lost"] == 0
    print(f"\n{stdout.strip()}")


async def test_the_request_budget_stops_the_run(tmp_path: Path) -> None:
    # given: a SQLite file of its own (the budget works the same on any database)
    url = f"sqlite+aiosqlite:///{tmp_path / 'budget.db'}"
    # when: a budget of 40 requests and far more time than they need
    code, stdout, stderr, wall = await run_load(
        url, "--clients", "4", "--seconds", "60", "--max-requests", "40"
    )
    # then
    assert code == 0, stdout + stderr
    figures = summary(stdout)
    assert figures["served"] == 40
    assert (figures["errors"], figures["lost"]) == (0, 0)
    assert wall < 60
