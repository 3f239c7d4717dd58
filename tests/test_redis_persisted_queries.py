"""Automatic persisted queries shared by replicas through Redis (PATCHBAY_REDIS_URL).

Three gateways on one database and one Redis stand for three replicas. The Redis is the
test's own (tests/own_servers.py), so that it can be killed and started again; a Redis that
accepts connections but never answers is a listening socket nobody reads.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from starlette.applications import Starlette

from db.database import Database
from gateway.app import create_app
from gateway.graphql.view import PatchbayGraphQL
from tests.conftest import settings_for
from tests.factories import asgi_client, token
from tests.own_servers import OwnRedis, own_redis

VIEWER = "query Who { viewer { ... on Viewer { subject organization { slug } } } }"
DIGEST = hashlib.sha256(VIEWER.encode()).hexdigest()
BY_HASH = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": DIGEST}}}
ALICE = {"Authorization": f"Bearer {token('alice')}"}
FALLBACKS = re.compile(r"^patchbay_persisted_query_store_fallbacks_total (\S+)$", re.M)


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnRedis]:
    with own_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@asynccontextmanager
async def replicas(
    database_url: str, redis_url: str, prefix: str | None = None, **settings: Any
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Three gateways sharing the database and Redis, each with a client."""
    prefix = prefix or f"test:{uuid.uuid4().hex}:"
    apps = [
        create_app(
            settings_for(database_url, redis_url=redis_url, redis_key_prefix=prefix, **settings)
        )
        for _ in range(3)
    ]
    try:
        async with (
            asgi_client(apps[0]) as one,
            asgi_client(apps[1]) as two,
            asgi_client(apps[2]) as three,
        ):
            yield [one, two, three]
    finally:
        for app in apps:
            await app.state.db.dispose()
            shared = _view(app).persisted.shared
            assert shared is not None
            await shared.redis.aclose()


def _view(app: Starlette) -> PatchbayGraphQL:
    return next(r.app for r in app.routes if isinstance(getattr(r, "app", None), PatchbayGraphQL))


async def _by_hash(client: httpx.AsyncClient) -> httpx.Response:
    return await client.post("/graphql", json=BY_HASH, headers=ALICE)


async def _register(client: httpx.AsyncClient) -> httpx.Response:
    return await client.post("/graphql", json={"query": VIEWER, **BY_HASH}, headers=ALICE)


def _asks_again(response: httpx.Response) -> bool:
    errors = response.json().get("errors") or [{}]
    return response.status_code == 200 and errors[0].get("message") == "PersistedQueryNotFound"


def _served(response: httpx.Response) -> bool:
    return response.status_code == 200 and response.json()["data"] == {
        "viewer": {"subject": "alice", "organization": {"slug": "acme"}}
    }


async def _fallbacks(client: httpx.AsyncClient) -> float:
    found = FALLBACKS.search((await client.get("/metrics")).text)
    assert found is not None, "the fallback counter is missing from /metrics"
    return float(found.group(1))


async def test_a_document_registered_through_one_replica_is_served_by_the_others(
    database_url: str, redis_server: OwnRedis, db: Database
) -> None:
    async with replicas(database_url, redis_server.url) as (one, two, three):
        # given: the second replica has never seen the document
        assert _asks_again(await _by_hash(two))
        # when: the client registers it through the first
        assert _served(await _register(one))
        # then: the hash alone runs it on the second and third, by POST and by GET
        assert _served(await _by_hash(two))
        params = {"extensions": json.dumps(BY_HASH["extensions"])}
        assert _served(await three.get("/graphql", params=params, headers=ALICE))
        assert await _fallbacks(three) == 0


async def test_an_unreachable_redis_asks_the_client_again_and_is_counted(
    database_url: str, tmp_path: Path, db: Database
) -> None:
    with own_redis(tmp_path) as redis_server:
        async with replicas(database_url, redis_server.url) as (one, two, three):
            assert _served(await _register(one))
            # when: Redis dies
            redis_server.kill()
            # then: a replica that lacks the document asks for it, never a 500 ...
            assert _asks_again(await _by_hash(two))
            # ... and runs it when the client sends it, though it cannot share it
            assert _served(await _register(two))
            assert _served(await _by_hash(two))  # kept in its own process
            assert await _fallbacks(two) == 2  # the lookup and the registration
            assert await _fallbacks(one) == 0
            # when: Redis is back (empty: no persistence), the replicas use it again by themselves
            redis_server.start()
            assert _asks_again(await _by_hash(three))
            assert _served(await _register(three))
            assert _served(await _by_hash(one))  # one had it; now also shared by three
            one_side = await _fallbacks(three)
            assert one_side == 0


async def test_a_redis_that_never_answers_costs_a_request_its_timeout_only(
    database_url: str, db: Database
) -> None:
    # given: a "Redis" that accepts connections and never answers
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        async with replicas(database_url, url, redis_timeout_seconds=0.2) as (one, _, _):
            # when
            started = time.monotonic()
            response = await _by_hash(one)
            took = time.monotonic() - started
            # then
            assert _asks_again(response)
            assert took < 2.0
            assert _served(await _register(one))
            assert await _fallbacks(one) == 2


async def test_a_document_planted_in_redis_under_another_hash_is_never_run(
    database_url: str, redis_server: OwnRedis, db: Database
) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"
    async with replicas(database_url, redis_server.url, prefix) as (one, two, _):
        # given: whoever can write to Redis stores a mutation under the viewer query's hash
        planted = 'mutation { updatePrompt(id: "prm_acme_welcome", input: {}) { __typename } }'
        raw = Redis.from_url(redis_server.url)
        await raw.set(f"{prefix}apq:{DIGEST}", planted)
        await raw.aclose()
        # when / then: the hash is checked, and the client asked for the document
        assert _asks_again(await _by_hash(two))
        # and a registration by the client replaces the planted entry for every replica
        assert _served(await _register(two))
        assert _served(await _by_hash(one))


async def test_a_document_over_the_length_cap_is_not_kept_in_redis(
    database_url: str, redis_server: OwnRedis, db: Database
) -> None:
    # given: a cap below the document's length
    prefix = f"test:{uuid.uuid4().hex}:"
    capped = {"max_document_chars": len(VIEWER) - 1}
    async with replicas(database_url, redis_server.url, prefix, **capped) as (one, _, _):
        # when
        refused = await _register(one)
        # then: refused as it would be without a hash, and nothing stored for other replicas
        assert refused.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
        raw = Redis.from_url(redis_server.url)
        assert await raw.exists(f"{prefix}apq:{DIGEST}") == 0
        await raw.aclose()
