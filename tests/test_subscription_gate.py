"""Every operation a WebSocket starts goes through the HTTP front's gate (issue 18's review):
trusted documents, the cost cap, the rate limit, a request id and an access line; a
credential is checked again per operation and its end closes the connection (4403); the
limits on subscriptions and connections hold. Against real `patchbay serve` processes, with
real clients: gql (as tests/test_subscriptions.py) and, where the protocol's messages and
close codes are what is checked, the `websockets` client gql itself runs on."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from db.database import Database
from db.models import api_keys
from db.seed import ACME_DEFAULT_POOL
from tests.factories import api_key, token
from tests.test_subscriptions import PROMPT_CHANGED, UPDATE, WELCOME, _first, serving, subscribed

WATCH = 'subscription Watch { promptChanged(id: "prm_acme_welcome") { prompt { title } } }'
POOL_WATCH = "subscription ($id: ID) { guardrailPoolChanged(id: $id) { guardrailPool { name } } }"
RENAME_POOL = """
mutation ($id: ID!, $name: String) {
  updateGuardrailPool(id: $id, input: {name: $name}) { __typename }
}
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


@asynccontextmanager
async def connected(url: str, credential: str) -> AsyncIterator[ClientConnection]:
    """A graphql-transport-ws connection, acknowledged."""
    ws_url = url.replace("http", "ws", 1) + "/graphql"
    async with connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
        await ws.send(json.dumps({"type": "connection_init", "payload": _auth(credential)}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10)) == {"type": "connection_ack"}
        yield ws


def _operator() -> str:
    """A credential that writes under enforce."""
    return token("alice", scope="prompts:write graphql:freeform")


def _auth(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}"}


async def _subscribe(ws: ClientConnection, id: str, **payload: Any) -> None:
    await ws.send(json.dumps({"id": id, "type": "subscribe", "payload": payload}))


async def _next_message(ws: ClientConnection, wait: float = 10) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), wait))
    return found


async def _reply(ws: ClientConnection, wait: float = 10) -> dict[str, Any]:
    """The next message other than a `complete`."""
    while True:
        found = await _next_message(ws, wait)
        if found["type"] != "complete":
            return found


async def _still_open(ws: ClientConnection) -> None:
    await ws.send(json.dumps({"type": "ping"}))
    assert await _next_message(ws) == {"type": "pong"}


async def _close_code(ws: ClientConnection, wait: float = 15) -> int | None:
    """The code the server closed with (messages before the close are skipped)."""
    with pytest.raises(ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), wait)
    return ws.close_code


async def _post(url: str, document: str, credential: str, **variables: Any) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{url}/graphql",
            json={"query": document, "variables": variables},
            headers=_auth(credential),
        )
    found: dict[str, Any] = response.json()
    return found


def _manifest(home: Path, *bodies: str) -> str:
    path = home / "manifest.json"
    operations = [
        {"id": _digest(body), "name": "Watch", "type": "subscription", "body": body}
        for body in bodies
    ]
    path.write_text(
        json.dumps(
            {"format": "apollo-persisted-query-manifest", "version": 1, "operations": operations}
        )
    )
    return str(path)


def _digest(body: str) -> str:
    return hashlib.sha256(body.encode()).hexdigest()


def _access_lines(home: Path) -> list[dict[str, Any]]:
    lines = []
    for log in home.glob("serve-*.log"):
        for line in log.read_text().splitlines():
            if line.startswith("{") and '"method":"WS"' in line:
                lines.append(json.loads(line))
    return lines


async def test_under_enforce_only_trusted_subscriptions_run_over_websocket(
    db: Database, database_url: str, home: Path
) -> None:
    # given: enforce, with one trusted subscription
    manifest = _manifest(home, WATCH)
    settings = {
        "PATCHBAY_TRUSTED_DOCUMENTS": manifest,
        "PATCHBAY_TRUSTED_DOCUMENTS_POLICY": "enforce",
    }
    with serving(database_url, home, **settings) as url:
        async with connected(url, token("alice")) as ws:
            # when: an untrusted mutation, an untrusted subscription, then the trusted one
            await _subscribe(ws, "1", query=UPDATE, variables={"id": WELCOME, "title": "WS"})
            mutation = await _next_message(ws)
            await _subscribe(ws, "2", query=PROMPT_CHANGED)
            untrusted = await _next_message(ws)
            await _subscribe(ws, "3", documentId=f"sha256:{_digest(WATCH)}")
            await asyncio.sleep(0.5)
            await _post(url, UPDATE, _operator(), id=WELCOME, title="Seen")
            trusted = await _next_message(ws)
        # and: a free-form subscription with the graphql:freeform scope
        async with connected(url, token("alice", scope="prompts:read graphql:freeform")) as ws:
            await _subscribe(ws, "1", query=PROMPT_CHANGED)
            await asyncio.sleep(0.5)
            await _post(url, UPDATE, _operator(), id=WELCOME, title="Free")
            freeform = await _next_message(ws)
        title = await _post(
            url,
            '{ prompt(id: "prm_acme_welcome") { ... on Prompt { title } } }',
            token("alice", scope="prompts:read graphql:freeform"),
        )
    # then: the untrusted ones were refused with HTTP's code, on a connection that stayed open
    assert mutation["type"] == "error"
    assert mutation["payload"][0]["extensions"]["code"] == "TRUSTED_DOCUMENTS_ONLY"
    assert untrusted["type"] == "error"
    assert untrusted["payload"][0]["extensions"]["code"] == "TRUSTED_DOCUMENTS_ONLY"
    assert trusted == {
        "id": "3",
        "type": "next",
        "payload": {"data": {"promptChanged": {"prompt": {"title": "Seen"}}}},
    }
    assert freeform["payload"]["data"]["promptChanged"]["prompt"]["title"] == "Free"
    assert title["data"]["prompt"]["title"] == "Free"  # the WebSocket mutation never ran


async def test_queries_and_mutations_over_websocket_are_refused(
    db: Database, database_url: str, home: Path
) -> None:
    with serving(database_url, home) as url:
        async with connected(url, token("alice")) as ws:
            await _subscribe(ws, "1", query=UPDATE, variables={"id": WELCOME, "title": "WS"})
            mutation = await _next_message(ws)
            await _subscribe(ws, "2", query="{ viewer { __typename } }")
            query = await _next_message(ws)
            await _still_open(ws)
        title = await _post(
            url, '{ prompt(id: "prm_acme_welcome") { ... on Prompt { title } } }', token("alice")
        )
    for refused, id in ((mutation, "1"), (query, "2")):
        assert refused["id"] == id and refused["type"] == "error"
        assert refused["payload"][0]["extensions"]["code"] == "BAD_REQUEST"
        assert "Only subscriptions" in refused["payload"][0]["message"]
    assert title["data"]["prompt"]["title"] == "Welcome"


async def test_each_subscription_is_charged_and_a_throttled_one_is_refused(
    db: Database, database_url: str, home: Path
) -> None:
    # given: a bucket of 30 points that barely refills
    settings = {
        "PATCHBAY_SUBSCRIPTIONS_PER_CONNECTION": "100",
        "PATCHBAY_RATE_LIMIT": "true",
        "PATCHBAY_RATE_LIMIT_MAXIMUM": "30",
        "PATCHBAY_RATE_LIMIT_RESTORE_RATE": "0.01",
    }
    with serving(database_url, home, **settings) as url:
        async with connected(url, token("alice")) as ws:
            # when: subscription after subscription on one connection
            replies: list[dict[str, Any]] = []
            for n in range(40):
                await _subscribe(ws, str(n), query=WATCH)
                try:
                    replies.append(await _next_message(ws, wait=0.5))
                except TimeoutError:
                    continue  # running: nothing to say until a change
                if replies[-1]["type"] == "error":
                    break
            await _still_open(ws)
    # then: the bucket ran dry and the next one was THROTTLED, with the cost extension
    assert replies, "no subscription was ever refused: WebSocket operations are not charged"
    refusal = replies[-1]
    assert refusal["type"] == "error"
    extensions = refusal["payload"][0]["extensions"]
    assert extensions["code"] == "THROTTLED"
    assert extensions["cost"]["throttleStatus"]["maximumAvailable"] == 30
    assert len(extensions["requestId"]) == 32


async def test_each_operation_has_a_request_id_and_an_access_line(
    db: Database, database_url: str, home: Path
) -> None:
    with serving(database_url, home) as url:
        async with connected(url, token("alice")) as ws:
            await _subscribe(ws, "1", query="{ viewer { __typename } }")
            refused = await _next_message(ws)
            await _subscribe(ws, "2", query=WATCH)
            await asyncio.sleep(0.5)
            await _post(url, UPDATE, token("alice"), id=WELCOME, title="Logged")
            await _next_message(ws)
            await ws.send(json.dumps({"id": "2", "type": "complete"}))
            await _still_open(ws)
        await asyncio.sleep(0.5)  # the access line is written once per loop pass
        lines = _access_lines(home)
    by_id = {line["request_id"]: line for line in lines}
    assert len(lines) == 2
    assert by_id[refused["payload"][0]["extensions"]["requestId"]]["status"] == 400
    (watch,) = (line for line in lines if line["operation"] == "Watch")
    assert watch["status"] == 200 and watch["path"] == "/graphql"
    assert watch["principal"] == {"subject": "alice", "kind": "USER"}
    assert len(watch["request_id"]) == 32 and watch["request_id"] != "-"
    assert watch["duration_ms"] > 400  # the subscription's whole life


async def test_an_expired_token_closes_the_connection_at_its_next_operation(
    db: Database, database_url: str, home: Path
) -> None:
    with serving(database_url, home, PATCHBAY_JWT_LEEWAY_SECONDS="0") as url:
        async with connected(url, token("alice", ttl=2)) as ws:
            await asyncio.sleep(3)
            # when: a subscription after the token expired
            await _subscribe(ws, "1", query=WATCH)
            code = await _close_code(ws)
    assert code == 4403


async def test_a_running_subscription_ends_and_the_connection_closes_when_the_token_expires(
    db: Database, database_url: str, home: Path
) -> None:
    settings = {"PATCHBAY_SUBSCRIPTION_RECHECK_SECONDS": "0.2", "PATCHBAY_JWT_LEEWAY_SECONDS": "0"}
    with serving(database_url, home, **settings) as url:
        async with connected(url, token("alice", ttl=2)) as ws:
            await _subscribe(ws, "1", query=WATCH)
            ended = await _next_message(ws, wait=15)
            code = await _close_code(ws)
    assert ended["type"] == "next"
    assert ended["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHORIZED"
    assert code == 4403


async def test_a_revoked_api_key_ends_the_stream_and_closes_the_connection(
    db: Database, database_url: str, home: Path
) -> None:
    # given: a subscriber with an API key, re-checked every 0.2 s
    key = await api_key(db)
    with serving(database_url, home, PATCHBAY_SUBSCRIPTION_RECHECK_SECONDS="0.2") as url:
        async with connected(url, key) as ws:
            await _subscribe(ws, "1", query=WATCH)
            await asyncio.sleep(0.5)
            await _post(url, UPDATE, token("alice"), id=WELCOME, title="Before")
            before = await _next_message(ws)
            # when: the key is revoked
            async with db.write() as conn:
                await conn.execute(update(api_keys).values(revoked_at=datetime.now(UTC)))
            ended = await _next_message(ws)
            code = await _close_code(ws)
    # then
    assert before["payload"]["data"]["promptChanged"]["prompt"]["title"] == "Before"
    assert ended["payload"]["errors"][0]["extensions"]["code"] == "UNAUTHORIZED"
    assert code == 4403


async def test_a_revoked_api_key_is_refused_at_its_next_operation(
    db: Database, database_url: str, home: Path
) -> None:
    key = await api_key(db)
    with serving(database_url, home) as url:
        async with connected(url, key) as ws:
            async with db.write() as conn:
                await conn.execute(update(api_keys).values(revoked_at=datetime.now(UTC)))
            await _subscribe(ws, "1", query=WATCH)
            code = await _close_code(ws)
    assert code == 4403


@pytest.mark.parametrize(
    "spelling",
    [str(ACME_DEFAULT_POOL).upper(), "{" + str(ACME_DEFAULT_POOL) + "}", ACME_DEFAULT_POOL.hex],
)
async def test_a_pool_id_in_any_accepted_spelling_hears_its_changes(
    db: Database, database_url: str, home: Path, spelling: str
) -> None:
    with serving(database_url, home) as url:
        async with subscribed(url, token("alice")) as alice:
            seen = await _first(alice, POOL_WATCH, id=spelling)
            await _post(url, RENAME_POOL, token("alice"), id=str(ACME_DEFAULT_POOL), name="Live")
            event = await asyncio.wait_for(seen, 10)
    assert event["guardrailPoolChanged"]["guardrailPool"]["name"] == "Live"


async def test_an_id_that_cannot_be_valid_is_not_found(
    db: Database, database_url: str, home: Path
) -> None:
    with serving(database_url, home) as url:
        async with connected(url, token("alice")) as ws:
            await _subscribe(ws, "1", query=POOL_WATCH, variables={"id": "not-a-uuid"})
            pool = await _reply(ws)
            await _subscribe(ws, "2", query=PROMPT_CHANGED, variables={"id": "x" * 200})
            prompt = await _reply(ws)
    assert pool["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert prompt["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND"


async def test_the_subscriptions_per_connection_limit(
    db: Database, database_url: str, home: Path
) -> None:
    with serving(database_url, home, PATCHBAY_SUBSCRIPTIONS_PER_CONNECTION="2") as url:
        async with connected(url, token("alice")) as ws:
            for n in range(3):
                await _subscribe(ws, str(n), query=WATCH)
            refused = await _next_message(ws)
            await _still_open(ws)
    assert refused["id"] == "2" and refused["type"] == "error"
    assert refused["payload"][0]["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"


async def test_the_subscriptions_per_principal_limit_holds_for_concurrent_first_subscribes(
    db: Database, database_url: str, home: Path
) -> None:
    # given: two subscriptions per principal; on PostgreSQL the first subscribe of the
    # process waits for its LISTEN connection to start, so these ten all arrive meanwhile
    with serving(database_url, home, PATCHBAY_SUBSCRIPTIONS_PER_PRINCIPAL="2") as url:
        async with connected(url, token("alice")) as first, connected(url, token("alice")) as other:
            for n in range(5):
                await _subscribe(first, str(n), query=WATCH)
                await _subscribe(other, str(n), query=WATCH)
            refused = await _all_messages(first) + await _all_messages(other)
            await _post(url, UPDATE, token("alice"), id=WELCOME, title="Two")
            heard = await _all_messages(first) + await _all_messages(other)
    # then: eight refused, two running
    ends = [m for m in refused if m["type"] == "next"]
    assert [m["payload"]["errors"][0]["extensions"]["code"] for m in ends] == [
        "TOO_MANY_SUBSCRIPTIONS"
    ] * 8
    titles = [m["payload"]["data"]["promptChanged"]["prompt"]["title"] for m in heard]
    assert titles == ["Two", "Two"]


async def _all_messages(ws: ClientConnection, quiet: float = 1.5) -> list[dict[str, Any]]:
    """What the server sends until it has been quiet for `quiet` seconds."""
    found = []
    while True:
        try:
            found.append(await _next_message(ws, wait=quiet))
        except TimeoutError:
            return found


async def test_the_connections_per_principal_limit(
    db: Database, database_url: str, home: Path
) -> None:
    with serving(database_url, home, PATCHBAY_CONNECTIONS_PER_PRINCIPAL="2") as url:
        async with connected(url, token("alice")), connected(url, token("alice")) as second:
            ws_url = url.replace("http", "ws", 1) + "/graphql"
            async with connect(ws_url, subprotocols=["graphql-transport-ws"]) as third:  # type: ignore[list-item]
                await third.send(
                    json.dumps({"type": "connection_init", "payload": _auth(token("alice"))})
                )
                code = await _close_code(third)
            async with connected(url, token("bob")) as bob:  # another principal's own budget
                await _still_open(bob)
            await second.close()
            await asyncio.sleep(0.3)
            async with connected(url, token("alice")) as again:  # a closed one is given back
                await _still_open(again)
    assert code == 4029


async def test_a_subscription_over_the_cost_cap_is_refused(
    db: Database, database_url: str, home: Path
) -> None:
    # given: a cap of one point; WATCH costs two (promptChanged and prompt)
    with serving(database_url, home, PATCHBAY_MAX_OPERATION_COST="1") as url:
        async with connected(url, token("alice")) as ws:
            await _subscribe(ws, "1", query=WATCH)
            refused = await _next_message(ws)
            await _still_open(ws)
    assert refused["type"] == "error"
    extensions = refused["payload"][0]["extensions"]
    assert extensions["code"] == "OPERATION_TOO_COSTLY"
    assert extensions["maximumCost"] == 1
    assert extensions["cost"]["requestedQueryCost"] == 2
