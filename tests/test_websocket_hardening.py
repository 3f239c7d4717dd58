"""graphql-transport-ws against what a careless or hostile client sends: a subscribe
message's parameters are checked as an HTTP request's and refused with HTTP's message and
code on a connection that stays open, and a close whose reason the client wrote (an unknown
operation, a syntax error) still closes with 4400, never a dropped connection (1006).
Against real `patchbay serve` processes and the `websockets` client."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from db.database import Database
from tests.credentials import rsa_key
from tests.factories import token
from tests.test_authentication_jwks import jwk, rs256, serve_jwks
from tests.test_subscription_gate import (
    _auth,
    _close_code,
    _next_message,
    _still_open,
    _subscribe,
    connected,
)
from tests.test_subscriptions import PROMPT_CHANGED, serving

# Parameters of the wrong JSON type, or not there: each is a 400 over HTTP
MALFORMED: list[dict[str, Any]] = [
    {"query": PROMPT_CHANGED, "variables": [1]},
    {"query": PROMPT_CHANGED, "variables": "id=prm_acme_welcome"},
    {"query": PROMPT_CHANGED, "variables": 5},
    {"query": PROMPT_CHANGED, "variables": True},
    {"query": PROMPT_CHANGED, "operationName": 5},
    {"query": PROMPT_CHANGED, "operationName": ["Watch"]},
    {"query": PROMPT_CHANGED, "operationName": {"name": "Watch"}},
    {"query": PROMPT_CHANGED, "operationName": "\ud800"},
    {"query": PROMPT_CHANGED, "extensions": "x"},
    {"query": PROMPT_CHANGED, "extensions": [1]},
    {"query": ""},
    {"query": [PROMPT_CHANGED]},
    {"query": 5},
    {},
    {"documentId": 5},
]


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


async def test_malformed_subscribe_parameters_get_the_refusal_http_gives(
    db: Database, database_url: str, home: Path
) -> None:
    with serving(database_url, home) as url:
        over_http = [await _http_refusal(url, payload) for payload in MALFORMED]
        over_websocket = []
        async with connected(url, token("alice")) as ws:
            for n, payload in enumerate(MALFORMED):
                await _subscribe(ws, str(n), **payload)
                over_websocket.append(await _next_message(ws))
            await _still_open(ws)
    for payload, http, reply in zip(MALFORMED, over_http, over_websocket, strict=True):
        assert reply["type"] == "error", (payload, reply)
        (error,) = reply["payload"]
        assert (error["message"], error["extensions"]["code"]) == http, payload


async def _http_refusal(url: str, payload: dict[str, Any]) -> tuple[str, str]:
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{url}/graphql",
            content=json.dumps(payload),  # a lone surrogate as JSON's \ud800, as over WebSocket
            headers={**_auth(token("alice")), "content-type": "application/json"},
        )
    assert response.status_code == 400, payload
    (error,) = response.json()["errors"]
    return error["message"], error["extensions"]["code"]


async def test_variables_of_the_wrong_type_are_a_validation_error(
    db: Database, database_url: str, home: Path
) -> None:
    with serving(database_url, home) as url:
        async with connected(url, token("alice")) as ws:
            for n, value in enumerate(([1, 2], {"a": 1}, 1.5, True)):
                await _subscribe(ws, str(n), query=PROMPT_CHANGED, variables={"id": value})
                reply = await _next_message(ws)
                assert reply["type"] == "error", reply
                assert reply["payload"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
            await _still_open(ws)


# Close reasons the client's own text makes long: an unknown operation's name, the token a
# syntax error quotes. A WebSocket close reason holds at most 123 bytes of UTF-8.
CLOSED_WITH_4400: list[dict[str, Any]] = [
    {"query": PROMPT_CHANGED, "operationName": "W" * 200},
    {"query": PROMPT_CHANGED, "operationName": "é" * 100},
    {"query": 'subscription { "' + "x" * 300 + '" }'},
    {"query": 'subscription { "' + "é" * 100 + '" }'},
]


@pytest.mark.parametrize("payload", CLOSED_WITH_4400, ids=["name", "name-utf8", "syntax", "utf8"])
async def test_a_long_close_reason_still_closes_with_4400(
    db: Database, database_url: str, home: Path, payload: dict[str, Any]
) -> None:
    with serving(database_url, home) as url:
        async with connected(url, token("alice")) as ws:
            await _subscribe(ws, "1", **payload)
            code = await _close_code(ws)
            reason = ws.close_reason
        async with connected(url, token("alice")) as ws:  # the server lives on
            await _still_open(ws)
    assert code == 4400
    assert 0 < len(reason.encode()) <= 123


async def test_a_message_larger_than_a_request_body_may_be_closes_1009(
    db: Database, database_url: str, home: Path
) -> None:
    # bounded as an HTTP body is (PATCHBAY_MAX_BODY_BYTES), not by uvicorn's 16 MiB
    padding = "x" * 70_000
    big = {"type": "subscribe", "id": "1", "payload": {"query": PROMPT_CHANGED, "v": padding}}
    with serving(database_url, home, PATCHBAY_MAX_BODY_BYTES="65536") as url:
        async with connected(url, token("alice")) as ws:
            await ws.send(json.dumps(big))
            code = await _close_code(ws)
        async with connected(url, token("alice")) as ws:  # the server lives on
            await _still_open(ws)
    assert code == 1009


async def test_a_document_that_does_not_parse_is_closed_4400_every_time(
    db: Database, database_url: str, home: Path
) -> None:
    # the second time, its refusal is remembered with a stand-in operation: one a WebSocket
    # runs (a subscription), or the answer would be the refusal of queries instead
    closes = []
    with serving(database_url, home) as url:
        for _ in "12":
            async with connected(url, token("alice")) as ws:
                await _subscribe(ws, "1", query="subscription Broken {")
                closes.append((await _close_code(ws), ws.close_reason))
    assert [code for code, _ in closes] == [4400, 4400], closes
    assert all(reason.startswith("Syntax Error") for _, reason in closes), closes


async def test_a_null_connection_init_payload_is_acknowledged_with_the_upgrades_credential(
    db: Database, database_url: str, home: Path
) -> None:
    # graphql-transport-ws: ConnectionInit's payload is optional and may be null
    with serving(database_url, home) as url:
        ws_url = url.replace("http", "ws", 1) + "/graphql"
        headers = {"Authorization": f"Bearer {token('alice')}"}
        async with connect(
            ws_url,
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            additional_headers=headers,
        ) as ws:
            await ws.send(json.dumps({"type": "connection_init", "payload": None}))
            reply = json.loads(await ws.recv())
    assert reply["type"] == "connection_ack", reply


async def test_a_connection_init_payload_that_is_not_an_object_is_closed_4400(
    db: Database, database_url: str, home: Path
) -> None:
    with serving(database_url, home) as url:
        ws_url = url.replace("http", "ws", 1) + "/graphql"
        async with connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            await ws.send(json.dumps({"type": "connection_init", "payload": [1]}))
            with pytest.raises(ConnectionClosed):
                await ws.recv()
    assert ws.close_code == 4400


# Messages that are not JSON objects, or whose `id` is not a string (the protocol's ids are)
NOT_MESSAGES = [
    "[1, 2]",
    '"subscribe"',
    "5",
    "null",
    json.dumps({"id": [1], "type": "subscribe", "payload": {"query": PROMPT_CHANGED}}),
    json.dumps({"id": {"a": 1}, "type": "complete"}),
    json.dumps({"id": 5, "type": "subscribe", "payload": {"query": PROMPT_CHANGED}}),
]


async def test_a_message_that_is_not_one_is_closed_with_4400(
    db: Database, database_url: str, home: Path
) -> None:
    with serving(database_url, home, PATCHBAY_CONNECTIONS_PER_PRINCIPAL="1") as url:
        for raw in NOT_MESSAGES:
            async with connected(url, token("alice")) as ws:
                await ws.send(raw)
                assert await _close_code(ws) == 4400, raw
                assert ws.close_reason == "Failed to parse message"
        async with connected(url, token("alice")) as ws:  # and the one slot was given back
            await _still_open(ws)
    assert "Traceback" not in _server_log(home)


def _server_log(home: Path) -> str:
    (log,) = home.glob("serve-*.log")
    return log.read_text()


async def test_a_client_gone_while_it_is_authenticated_gives_its_slot_back(
    db: Database, database_url: str, home: Path
) -> None:
    # given: one connection per principal, and a JWKS endpoint that hangs, so that
    # authenticating connection_init takes as long as the test wants
    with serve_jwks(jwk(rsa_key("main"), "k1")) as endpoint:
        endpoint.answering.clear()
        settings = {
            "PATCHBAY_JWKS_URL": endpoint.url,
            "PATCHBAY_JWT_ALGORITHMS": "RS256",
            "PATCHBAY_CONNECTIONS_PER_PRINCIPAL": "1",
        }
        with serving(database_url, home, **settings) as url:
            # when: a client sends connection_init and hangs up while it is authenticated
            ws_url = url.replace("http", "ws", 1) + "/graphql"
            async with connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
                init = {"type": "connection_init", "payload": _auth(rs256("k1"))}
                await ws.send(json.dumps(init))
                assert await asyncio.to_thread(endpoint.hung.wait, 10)
            endpoint.answering.set()  # the server's authentication ends after the client left
            await asyncio.sleep(0.5)
            # then: the principal's one slot is free again
            async with connected(url, rs256("k1")) as again:
                await _still_open(again)


async def test_a_socket_that_never_sends_connection_init_is_closed_after_the_setting(
    db: Database, database_url: str, home: Path
) -> None:
    # given: a server that waits 1 s for connection_init (the default is 10 s)
    with serving(database_url, home, PATCHBAY_CONNECTION_INIT_SECONDS="1") as url:
        ws_url = url.replace("http", "ws", 1) + "/graphql"
        async with connect(ws_url, subprotocols=["graphql-transport-ws"]) as ws:  # type: ignore[list-item]
            # when: the client opens the socket and says nothing
            opened = asyncio.get_running_loop().time()
            code = await _close_code(ws, wait=8)
            held = asyncio.get_running_loop().time() - opened
    # then: it is closed with 4408 about a second later, not held for Strawberry's minute
    assert code == 4408
    assert held < 5
