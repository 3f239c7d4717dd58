"""graphql-transport-ws against what a careless or hostile client sends: a subscribe
message's parameters are checked as an HTTP request's and refused with HTTP's message and
code on a connection that stays open. Against real `patchbay serve` processes and the
`websockets` client."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from db.database import Database
from tests.factories import token
from tests.test_subscription_gate import (
    _auth,
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
