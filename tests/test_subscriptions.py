"""Subscriptions over WebSocket (graphql-transport-ws) against real `patchbay serve`
processes, with a real client library (gql's websockets transport): a change reaches its
organization's subscribers only, across processes on PostgreSQL; an expired credential
ends the stream; a subscriber that falls behind is disconnected with close code 4008."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from gql import Client, gql
from gql.transport.exceptions import TransportConnectionFailed, TransportQueryError
from gql.transport.websockets import WebsocketsTransport
from websockets.exceptions import ConnectionClosed, InvalidStatus

from db.database import Database
from tests.factories import TEST_SECRET, token
from tests.live_server import PATCHBAY
from tests.waiting import poll_until

WELCOME = "prm_acme_welcome"
CAROLS = "prm_globex_welcome"
# Documents as text: gql keeps variables on a parsed request between calls
PROMPT_CHANGED = """
    subscription ($id: ID) {
      promptChanged(id: $id) {
        entry { version changes { field before after } actor { subject } }
        prompt { id title version }
      }
    }
    """
POOL_CHANGED = "subscription { guardrailPoolChanged { guardrailPool { name } } }"
UPDATE = """
mutation ($id: ID!, $title: String) {
  updatePrompt(id: $id, input: {title: $title}) { __typename }
}
"""
BULK = """
mutation ($items: [UpdatePromptItem!]!) { updatePrompts(items: $items) { __typename } }
"""


@contextmanager
def serving(database_url: str, home: Path, **settings: str) -> Iterator[str]:
    """A real `patchbay serve` on a free port; its base URL."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "PATCHBAY_DATABASE_URL": database_url,
        "PATCHBAY_JWT_SECRET": TEST_SECRET,
        **settings,
    }
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = home / f"serve-{port}.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [PATCHBAY, "serve", "--port", str(port)], env=env, stdout=output, stderr=output
        )
    url = f"http://127.0.0.1:{port}"
    try:
        assert poll_until(lambda: _ready(url, server), timeout=30), log.read_text()
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def _ready(url: str, server: subprocess.Popen[bytes]) -> bool:
    assert server.poll() is None, "patchbay serve exited"
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@asynccontextmanager
async def subscribed(url: str, credential: str | None) -> AsyncIterator[Any]:
    """A gql session over graphql-transport-ws, the credential in connection_init."""
    transport = WebsocketsTransport(
        url=url.replace("http", "ws", 1) + "/graphql",
        init_payload={} if credential is None else {"Authorization": f"Bearer {credential}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )
    async with Client(transport=transport) as session:
        yield session


async def _write(url: str, prompt_id: str, title: str, user: str = "alice") -> None:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{url}/graphql",
            json={"query": UPDATE, "variables": {"id": prompt_id, "title": title}},
            headers={"Authorization": f"Bearer {token(user)}"},
        )
    assert response.json()["data"] == {"updatePrompt": {"__typename": "UpdatePromptSuccess"}}


async def _first(session: Any, document: str, **variables: Any) -> asyncio.Task[Any]:
    """A task that yields the subscription's first event; started, and given time to
    register its subscription before the caller writes."""

    async def first() -> Any:
        request = gql(document)
        request.variable_values = variables
        async for event in session.subscribe(request):
            return event
        return None

    task = asyncio.create_task(first())
    await asyncio.sleep(0.5)
    return task


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


async def test_a_change_reaches_its_organization_and_nobody_else(
    db: Database, database_url: str, home: Path
) -> None:
    # given: alice watches her prompt, carol watches all of globex's prompts
    with serving(database_url, home) as url:
        async with (
            subscribed(url, token("alice")) as alice,
            subscribed(url, token("carol")) as carol,
        ):
            alices = await _first(alice, PROMPT_CHANGED, id=WELCOME)
            carols = await _first(carol, PROMPT_CHANGED)
            # when: acme's prompt changes, then (a marker) carol's own
            await _write(url, WELCOME, "Live")
            alice_saw = await asyncio.wait_for(alices, 10)
            await _write(url, CAROLS, "Globex live", user="carol")
            carol_saw = await asyncio.wait_for(carols, 10)
    # then: alice got acme's change; carol's first event is her own prompt's
    assert alice_saw["promptChanged"] == {
        "entry": {
            "version": 2,
            "changes": [{"field": "title", "before": "Welcome", "after": "Live"}],
            "actor": {"subject": "alice"},
        },
        "prompt": {"id": WELCOME, "title": "Live", "version": 2},
    }
    assert carol_saw["promptChanged"]["prompt"]["id"] == CAROLS


async def test_a_change_through_one_process_reaches_a_subscriber_of_another(
    db: Database, database_url: str, home: Path, is_postgres: bool
) -> None:
    if not is_postgres:
        pytest.skip("SQLite serves one process: its fan-out is in process")
    # given: two processes on one database
    with serving(database_url, home) as first, serving(database_url, home) as second:
        async with subscribed(second, token("alice")) as alice:
            seen = await _first(alice, PROMPT_CHANGED)
            # when
            await _write(first, WELCOME, "Across")
            event = await asyncio.wait_for(seen, 10)
    # then
    assert event["promptChanged"]["prompt"]["title"] == "Across"


async def test_an_expired_token_ends_the_stream(
    db: Database, database_url: str, home: Path
) -> None:
    # given: a token good for two more seconds, re-checked every 0.2 s
    with serving(
        database_url,
        home,
        PATCHBAY_SUBSCRIPTION_RECHECK_SECONDS="0.2",
        PATCHBAY_JWT_LEEWAY_SECONDS="0",
    ) as url:
        async with subscribed(url, token("alice", ttl=2)) as alice:
            # when: nothing changes, and the token expires
            with pytest.raises((TransportQueryError, TransportConnectionFailed)) as ended:
                await asyncio.wait_for(_drain(alice, PROMPT_CHANGED), 15)
    # then: the stream ends with UNAUTHORIZED, and the connection closes with 4403 right after
    # (gql reports whichever it reads first; tests/test_subscription_gate.py checks both)
    if isinstance(ended.value, TransportQueryError):
        assert ended.value.errors is not None
        assert ended.value.errors[0]["extensions"]["code"] == "UNAUTHORIZED"
    else:
        assert "4403" in repr(ended.value.__cause__)


async def _drain(session: Any, document: str) -> None:
    async for _ in session.subscribe(gql(document)):
        pass


async def test_a_connection_without_a_credential_is_refused(
    db: Database, database_url: str, home: Path
) -> None:
    refusal = (TransportConnectionFailed, ConnectionClosed, InvalidStatus)
    with serving(database_url, home) as url, pytest.raises(refusal) as refused:
        async with subscribed(url, None) as anonymous:
            await _drain(anonymous, PROMPT_CHANGED)
    assert "4403" in repr(refused.value.__cause__ or refused.value)


async def test_the_scope_of_the_kind_is_needed(db: Database, database_url: str, home: Path) -> None:
    with serving(database_url, home) as url:
        async with subscribed(url, token("alice", scope="prompts:read")) as reader:
            with pytest.raises(TransportQueryError) as refused:
                await asyncio.wait_for(_drain(reader, POOL_CHANGED), 10)
    assert refused.value.errors is not None
    assert refused.value.errors[0]["extensions"]["code"] == "FORBIDDEN"


async def test_a_subscriber_that_falls_behind_is_disconnected_with_4008(
    db: Database, database_url: str, home: Path
) -> None:
    # given: room for one queued change per subscriber
    with serving(database_url, home, PATCHBAY_SUBSCRIPTION_QUEUE_SIZE="1") as url:
        async with subscribed(url, token("alice")) as alice:
            watching = asyncio.create_task(_drain(alice, PROMPT_CHANGED))
            await asyncio.sleep(0.5)
            # when: one batch commits ten changes at once
            items = [{"id": WELCOME, "input": {"title": f"t{n}"}} for n in range(10)]
            async with httpx.AsyncClient() as client:
                await client.post(
                    f"{url}/graphql",
                    json={"query": BULK, "variables": {"items": items}},
                    headers={"Authorization": f"Bearer {token()}"},
                )
            with pytest.raises(TransportConnectionFailed) as closed:
                await asyncio.wait_for(watching, 10)
    # then
    assert "4008" in repr(closed.value.__cause__)


async def test_a_subscription_over_http_is_a_typed_refusal(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        json={"query": PROMPT_CHANGED},
        headers={"Authorization": f"Bearer {token()}"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_the_legacy_graphql_ws_protocol_stays_off(
    db: Database, database_url: str, home: Path
) -> None:
    with serving(database_url, home) as url:
        transport = WebsocketsTransport(
            url=url.replace("http", "ws", 1) + "/graphql",
            init_payload={"Authorization": f"Bearer {token()}"},
            subprotocols=[WebsocketsTransport.APOLLO_SUBPROTOCOL],
        )
        refusal = (TransportConnectionFailed, ConnectionClosed, InvalidStatus)
        with pytest.raises(refusal) as refused:
            async with Client(transport=transport) as session:
                await _drain(session, PROMPT_CHANGED)
    assert "4406" in repr(refused.value.__cause__ or refused.value)
