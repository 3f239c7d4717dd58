"""The rate limit in Redis: one budget for every gateway process, and what a request gets
when Redis cannot be reached (PATCHBAY_RATE_LIMIT_REDIS_FAILURE)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import redis.asyncio

from db.database import Database
from tests.conftest import settings_for
from tests.factories import client_for, token
from tests.test_rate_limits import rename as rename_as
from tests.test_rate_limits import title_now

SHARED_REDIS = os.environ.get("PATCHBAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
async def redis_url() -> AsyncIterator[str]:
    """The machine's Redis (CI starts it); every test's keys under a prefix of its own."""
    client = redis.asyncio.Redis.from_url(SHARED_REDIS)
    try:
        await client.ping()
    except (OSError, redis.RedisError) as error:
        if os.environ.get("CI"):
            pytest.fail(f"Redis is required but unreachable at {SHARED_REDIS}: {error}")
        pytest.skip(f"Redis unreachable at {SHARED_REDIS}")
    finally:
        await client.aclose()
    yield SHARED_REDIS


def shared(database_url: str, redis_url: str, prefix: str, **more: Any) -> Any:
    values: dict[str, Any] = {
        "rate_limit": True,
        "rate_limit_maximum": 25,
        "rate_limit_restore_rate": 0.01,
        "redis_url": redis_url,
        "redis_key_prefix": prefix,
        "rate_limit_hold_seconds": 0,
    }
    return settings_for(database_url, **(values | more))


def new_prefix() -> str:
    return f"patchbay-test-{uuid.uuid4().hex[:12]}:"


async def rename(client: httpx.AsyncClient, title: str) -> httpx.Response:
    return await rename_as(client, title, token("alice"))


async def test_two_gateways_share_one_budget(
    database_url: str, db: Database, redis_url: str
) -> None:
    settings = shared(database_url, redis_url, new_prefix())
    async with client_for(settings) as one, client_for(settings) as two:
        first = await rename(one, "one")  # 1 (a new document) + 10: 14 left
        second = await rename(two, "two")  # new to this process too: 1 + 10, 3 left
        third = await rename(one, "three")  # 10 needed
        fourth = await rename(two, "four")
    assert [r.status_code for r in (first, second, third, fourth)] == [200, 200, 429, 429]
    # 3 or 4 left in all (4 when `two` knew the document from Redis), of which the other
    # gateway's lease, half a point (1/50 of 25), is not in this process's view
    assert third.json()["errors"][0]["extensions"]["cost"]["throttleStatus"][
        "currentlyAvailable"
    ] in (2, 3)
    assert await title_now(db) == "two"


async def test_the_sum_admitted_across_gateways_stays_within_the_budget(
    database_url: str, db: Database, redis_url: str
) -> None:
    # 100 points, restored at 1 a second; three gateways send 120 cheap requests
    settings = shared(
        database_url, redis_url, new_prefix(), rate_limit_maximum=100, rate_limit_restore_rate=1
    )
    query = {"query": "{ viewer { ... on Viewer { organization { id } } } }"}  # 2 points
    headers = {"Authorization": f"Bearer {token('alice')}"}
    async with (
        client_for(settings) as one,
        client_for(settings) as two,
        client_for(settings) as three,
    ):
        for client in (one, two, three):  # each learns the document: 3 + 3 x 2 points
            assert (await client.post("/graphql", json=query, headers=headers)).status_code == 200
        # three at a time, one on each gateway: 120 at once in one event loop would keep
        # Redis's replies unread past its timeout on a loaded machine (failing open)
        responses = []
        for _ in range(40):
            responses += await asyncio.gather(
                *(c.post("/graphql", json=query, headers=headers) for c in (one, two, three))
            )
        unreachable = [
            line
            for c in (one, two, three)
            for line in (await c.get("/metrics")).text.splitlines()
            if line.startswith("patchbay_rate_limiter_unreachable_total")
        ]
    admitted = sum(r.status_code == 200 for r in responses)
    assert unreachable == ["patchbay_rate_limiter_unreachable_total 0.0"] * 3
    assert {r.status_code for r in responses} == {200, 429}
    # 91 points left, 2 per request, plus what a second restores: 45, and within 10%
    assert 45 <= admitted <= 50


async def test_give_backs_reach_the_shared_bucket(
    database_url: str, db: Database, redis_url: str
) -> None:
    settings = shared(database_url, redis_url, new_prefix(), rate_limit_maximum=1000)
    page = "{ prompts(first: 100) { ... on PromptConnection { edges { node { id } } } } }"
    headers = {"Authorization": f"Bearer {token('alice')}"}
    async with client_for(settings) as one, client_for(settings) as two:
        answers = [
            await client.post("/graphql", json={"query": page}, headers=headers)
            for client in (one, two, one, two)
        ]
    # 201 asked, 7 used (3 prompts); a point for each gateway's first sight of the document.
    # Each gateway holds a lease of 20 points (1/50 of 1000) that the other does not see:
    # what a gateway reports is the shared bucket plus its own lease
    left = [a.json()["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] for a in answers]
    lease = 20
    assert left == [
        1000 - 1 - 7,
        1000 - 2 - 14 - lease,
        1000 - 2 - 21 - lease,
        1000 - 2 - 28 - lease,
    ]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.mark.parametrize(("failure", "status"), [("open", 200), ("closed", 503)])
async def test_an_unreachable_redis_never_gives_a_500(
    database_url: str, db: Database, failure: str, status: int
) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    settings = shared(database_url, nowhere, new_prefix(), rate_limit_redis_failure=failure)
    async with client_for(settings) as client:
        response = await rename(client, "while Redis is away")
        metrics = (await client.get("/metrics")).text
    assert response.status_code == status
    if failure == "closed":
        error = response.json()["errors"][0]
        assert error["extensions"]["code"] == "RATE_LIMIT_UNAVAILABLE"
        assert response.headers["retry-after"] == "1"
        assert await title_now(db) == "After hours"  # refused: nothing ran
    else:
        assert response.json()["data"] == {"updatePrompt": {"__typename": "UpdatePromptSuccess"}}
    # open: the look before parsing and the charge; closed: the look refused it
    asked = "2.0" if failure == "open" else "1.0"
    assert f"patchbay_rate_limiter_unreachable_total {asked}" in metrics


@pytest.fixture
def own_redis() -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A redis-server of this test's own, which it may stop."""
    server = shutil.which("redis-server")
    if server is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server is required")
        pytest.skip("no redis-server")
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
    )
    yield f"redis://127.0.0.1:{port}/0", process
    process.kill()
    process.wait()


async def test_a_redis_that_stops_mid_way_fails_open_then_recovers(
    database_url: str, db: Database, own_redis: tuple[str, subprocess.Popen[bytes]]
) -> None:
    url, process = own_redis
    client_of_redis = redis.asyncio.Redis.from_url(url)
    for _ in range(50):
        try:
            await client_of_redis.ping()
            break
        except (OSError, redis.RedisError):
            await asyncio.sleep(0.1)  # the server is starting
    await client_of_redis.aclose()
    settings = shared(database_url, url, new_prefix(), rate_limit_maximum=1000)
    async with client_for(settings) as client:
        before = await rename(client, "before")
        process.kill()
        process.wait()
        during = await rename(client, "during")
    assert before.status_code == 200
    assert "throttleStatus" in before.json()["extensions"]["cost"]
    assert during.status_code == 200  # fail-open, the default
    assert await title_now(db) == "during"


async def test_a_document_too_long_for_the_whole_shared_bucket_empties_it(
    database_url: str, db: Database, redis_url: str
) -> None:
    settings = shared(database_url, redis_url, new_prefix(), rate_limit_anonymous_maximum=5)
    long = "{ __typename " + "# padding\n" * 1000 + "}"
    async with client_for(settings) as one, client_for(settings) as two:
        refused = await one.post("/graphql", json={"query": long})
        after = await two.post("/graphql", json={"query": "{ __typename }"})  # another process
    assert refused.status_code == 429
    assert after.status_code == 429
