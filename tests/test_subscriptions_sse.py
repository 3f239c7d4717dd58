"""GraphQL over Server-Sent Events (graphql-sse, distinct connections mode) against a real
`patchbay serve`, with a real SSE client (httpx-sse): a change streams as `event: next`;
the trusted-documents policy, the rate limit and the credential hold as over HTTP and
WebSocket; another organization hears nothing; a stream counts as one of its principal's
connections."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import aconnect_sse
from websockets.asyncio.client import connect

from db.database import Database
from tests.factories import token
from tests.test_subscription_gate import (
    WATCH,
    _auth,
    _close_code,
    _manifest,
    _operator,
    connected,
)
from tests.test_subscriptions import PROMPT_CHANGED, UPDATE, WELCOME, serving


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


async def _events(
    url: str, credential: str, body: dict[str, Any], count: int, write: Any = None
) -> tuple[int, list[tuple[str, Any]]]:
    """The status and the first `count` events of a stream (`write` runs once it is open)."""
    found: list[tuple[str, Any]] = []
    async with (
        httpx.AsyncClient(timeout=20) as client,
        aconnect_sse(
            client,
            "POST",
            f"{url}/graphql",
            json=body,
            headers={"Authorization": f"Bearer {credential}"},
        ) as source,
    ):
        response = source.response
        if "text/event-stream" not in response.headers.get("content-type", ""):
            await response.aread()
            return response.status_code, [("refused", response.json())]
        if write is not None:
            asyncio.get_running_loop().call_later(0.5, lambda: asyncio.ensure_future(write()))
        async for event in source.aiter_sse():
            found.append((event.event, json.loads(event.data) if event.data else None))
            if len(found) == count:
                break
    return response.status_code, found


def _writer(url: str, title: str, credential: str | None = None) -> Any:
    async def write() -> None:
        async with httpx.AsyncClient() as client:
            await client.post(
                f"{url}/graphql",
                json={"query": UPDATE, "variables": {"id": WELCOME, "title": title}},
                headers={"Authorization": f"Bearer {credential or token('alice')}"},
            )

    return write


async def test_a_change_streams_as_a_next_event(
    db: Database, database_url: str, home: Path
) -> None:
    with serving(database_url, home) as url:
        status, events = await asyncio.wait_for(
            _events(url, token("alice"), {"query": WATCH}, 1, _writer(url, "Streamed")), 15
        )
    assert status == 200
    assert events == [
        (
            "next",
            {
                "data": {"promptChanged": {"prompt": {"title": "Streamed"}}},
                "extensions": {"cost": {"requestedQueryCost": 2, "actualQueryCost": 2}},
            },
        )
    ]


async def test_a_mutation_does_not_stream(db: Database, database_url: str, home: Path) -> None:
    # a mutation sent as a stream would skip what its JSON path gives it (Idempotency-Key,
    # the fast path): only subscriptions stream, as over WebSocket
    body = {"query": UPDATE, "variables": {"id": WELCOME, "title": "Streamed write"}}
    with serving(database_url, home) as url:
        _, events = await asyncio.wait_for(_events(url, token("alice"), body, 2), 15)
        async with httpx.AsyncClient() as client:
            read = await client.post(
                f"{url}/graphql",
                json={"query": f'{{ prompt(id: "{WELCOME}") {{ ... on Prompt {{ title }} }} }}'},
                headers={"Authorization": f"Bearer {token('alice')}"},
            )
    answered = [data for kind, data in events if data]
    assert answered and all("data" not in a or a["data"] is None for a in answered), events
    assert answered[0]["errors"], events
    refusal = answered[0]["errors"][0]
    assert refusal["extensions"]["code"] == "BAD_REQUEST", refusal  # the caller's, not a 500
    assert refusal["message"].startswith("Only subscriptions stream"), refusal
    assert read.json()["data"]["prompt"]["title"] != "Streamed write"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("subscription Broken {", "Syntax Error"),
        ("#" * 101, "Syntax Error: Document contains more than 100 characters"),
    ],
    ids=["syntax", "too-long"],
)
async def test_a_document_refused_before_its_operation_is_refused_so_every_time(
    db: Database, database_url: str, home: Path, query: str, message: str
) -> None:
    # a refusal is remembered with a stand-in operation: it must be one a stream runs, or
    # the second answer would be the stream's refusal of queries instead of the real one
    body = {"query": query}
    with serving(database_url, home, PATCHBAY_MAX_DOCUMENT_CHARS="100") as url:
        answers = [await asyncio.wait_for(_events(url, token("alice"), body, 1), 15) for _ in "12"]
    for _, events in answers:
        (error,) = events[0][1]["errors"]
        assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED", events
        assert error["message"].startswith(message), events


async def test_another_organization_hears_nothing(
    db: Database, database_url: str, home: Path
) -> None:
    with serving(database_url, home) as url:
        carol = asyncio.create_task(_events(url, token("carol"), {"query": PROMPT_CHANGED}, 1))
        await asyncio.sleep(0.5)
        await _writer(url, "Acme only")()
        await asyncio.sleep(1.5)
        heard = carol.done()
        carol.cancel()
    assert not heard


async def test_under_enforce_an_untrusted_stream_is_refused_before_it_starts(
    db: Database, database_url: str, home: Path
) -> None:
    settings = {
        "PATCHBAY_TRUSTED_DOCUMENTS": _manifest(home, WATCH),
        "PATCHBAY_TRUSTED_DOCUMENTS_POLICY": "enforce",
    }
    with serving(database_url, home, **settings) as url:
        refused_status, refused = await asyncio.wait_for(
            _events(url, token("alice"), {"query": PROMPT_CHANGED}, 1), 15
        )
        document_id = f"sha256:{hashlib.sha256(WATCH.encode()).hexdigest()}"
        status, events = await asyncio.wait_for(
            _events(
                url,
                token("alice"),
                {"documentId": document_id},
                1,
                _writer(url, "Trusted", _operator()),
            ),
            15,
        )
    assert refused_status == 403
    assert refused[0][1]["errors"][0]["extensions"]["code"] == "TRUSTED_DOCUMENTS_ONLY"
    assert status == 200
    assert events[0][1]["data"]["promptChanged"]["prompt"]["title"] == "Trusted"


async def test_each_stream_is_charged_until_the_client_is_throttled(
    db: Database, database_url: str, home: Path
) -> None:
    settings = {
        "PATCHBAY_RATE_LIMIT": "true",
        "PATCHBAY_RATE_LIMIT_MAXIMUM": "12",
        "PATCHBAY_RATE_LIMIT_RESTORE_RATE": "0.01",
    }
    with serving(database_url, home, **settings) as url:
        refusal: tuple[int, list[tuple[str, Any]]] | None = None
        for _ in range(15):
            try:
                found = await asyncio.wait_for(_events(url, token("alice"), {"query": WATCH}, 1), 1)
            except TimeoutError:
                continue  # admitted: it waits for a change
            refusal = found
            break
    assert refusal is not None, "streams are never charged"
    status, events = refusal
    errors = events[0][1]["errors"]
    assert errors[0]["extensions"]["code"] == "THROTTLED"
    assert status in (200, 429)  # in the stream once it started; 429 when refused up front


async def test_an_expired_token_ends_the_stream(
    db: Database, database_url: str, home: Path
) -> None:
    settings = {"PATCHBAY_SUBSCRIPTION_RECHECK_SECONDS": "0.2", "PATCHBAY_JWT_LEEWAY_SECONDS": "0"}
    with serving(database_url, home, **settings) as url:
        status, events = await asyncio.wait_for(
            _events(url, token("alice", ttl=2), {"query": WATCH}, 2), 15
        )
    assert status == 200
    assert events[0][0] == "next"
    assert events[0][1]["errors"][0]["extensions"]["code"] == "UNAUTHORIZED"
    assert events[1] == ("complete", None)


async def test_an_unknown_operation_name_is_the_validation_error_json_gives(
    db: Database, database_url: str, home: Path
) -> None:
    # given: a document of one subscription, and a name it does not have
    body = {"query": WATCH, "operationName": "Nope"}
    with serving(database_url, home) as url:
        # when: streamed over SSE, and sent as plain JSON
        status, events = await _events(url, token("alice"), body, 1)
        async with httpx.AsyncClient() as client:
            plain = await client.post(
                f"{url}/graphql", json=body, headers={"Authorization": f"Bearer {token('alice')}"}
            )
    # then: both are the caller's GRAPHQL_VALIDATION_FAILED, in the same words
    (expected,) = plain.json()["errors"]
    assert expected["message"] == "Unknown operation named 'Nope'."
    assert status == 200
    ((kind, payload),) = events
    (error,) = payload["errors"]
    assert kind == "next"
    assert error["message"] == expected["message"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "unexpected error" not in _server_log(home)  # the caller's mistake, not ours


def _server_log(home: Path) -> str:
    (log,) = home.glob("serve-*.log")
    return log.read_text()


@asynccontextmanager
async def _open_stream(url: str, credential: str) -> AsyncIterator[httpx.Response]:
    """An event stream, held open while the block runs; its response (status, headers)."""
    async with (
        httpx.AsyncClient(timeout=20) as client,
        aconnect_sse(
            client,
            "POST",
            f"{url}/graphql",
            json={"query": WATCH},
            headers={"Authorization": f"Bearer {credential}"},
        ) as source,
    ):
        if source.response.status_code != 200:
            await source.response.aread()
        yield source.response


def _streams(response: httpx.Response) -> bool:
    return response.status_code == 200 and "text/event-stream" in response.headers["content-type"]


async def test_streams_and_websockets_count_together_against_the_connections_limit(
    db: Database, database_url: str, home: Path
) -> None:
    # given: two connections per principal, alice holding a stream and a WebSocket
    with serving(database_url, home, PATCHBAY_CONNECTIONS_PER_PRINCIPAL="2") as url:
        async with (
            _open_stream(url, token("alice")) as first,
            connected(url, token("alice")),
        ):
            # when: a third, as a stream and as a WebSocket; and bob's own
            async with _open_stream(url, token("alice")) as third:
                refused = third.status_code, None if _streams(third) else third.json()
            ws_url = url.replace("http", "ws", 1) + "/graphql"
            async with connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
                await ws.send(
                    json.dumps({"type": "connection_init", "payload": _auth(token("alice"))})
                )
                closed = await _close_code(ws)
            async with _open_stream(url, token("bob")) as bobs:
                bob_streams = _streams(bobs)
        # and: once they are closed, a stream is let in again
        await asyncio.sleep(0.5)
        async with _open_stream(url, token("alice")) as again:
            alice_streams_again = _streams(again)
    # then
    assert _streams(first)
    status, document = refused
    assert status == 429 and document is not None
    assert document["errors"][0]["extensions"]["code"] == "TOO_MANY_CONNECTIONS"
    assert closed == 4029
    assert bob_streams and alice_streams_again
