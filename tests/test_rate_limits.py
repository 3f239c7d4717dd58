"""The rate limit per client, in process: a token bucket of cost points per API key, per
user of an organization, and per address for callers without a valid credential."""

from __future__ import annotations

import asyncio
import gc
import re
import socket
import time
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import select

from db.database import Database
from db.models import prompts
from db.rate_limits import set_rate_limit
from db.seed import GLOBEX
from gateway.app import create_app
from gateway.cli import main
from gateway.graphql.admission import Gate
from schema.context import Context
from tests.conftest import settings_for
from tests.factories import api_key, client_for, token
from tests.waiting import eventually

RENAME = """mutation Rename($title: String) {
  updatePrompt(id: "prm_acme_after_hours", input: {title: $title}) { __typename } }"""
PAGE = "query Page { prompts(first: 100) { ... on PromptConnection { edges { node { id } } } } }"


def limited(database_url: str, **more: Any) -> Any:
    """Mutations cost 10, and a document the gateway has not seen a point more: a bucket of
    25 points admits two (11 + 10), then refuses for 6 s."""
    values: dict[str, Any] = {
        "rate_limit": True,
        "rate_limit_maximum": 25,
        "rate_limit_restore_rate": 1,
        "rate_limit_hold_seconds": 0,  # answered at once here; the hold has its own test
    }
    return settings_for(database_url, **(values | more))


async def rename(client: httpx.AsyncClient, title: str, credential: str) -> httpx.Response:
    return await client.post(
        "/graphql",
        json={"query": RENAME, "variables": {"title": title}},
        headers={"Authorization": f"Bearer {credential}"},
    )


async def title_now(db: Database) -> str | None:
    async with db.read() as conn:
        found = await conn.execute(
            select(prompts.c.title).where(prompts.c.id == "prm_acme_after_hours")
        )
        title: str | None = found.scalar_one()
        return title


async def test_a_client_over_its_budget_is_throttled_and_nothing_runs(
    database_url: str, db: Database
) -> None:
    alice = token("alice")
    async with client_for(limited(database_url)) as client:
        first = await rename(client, "one", alice)
        second = await rename(client, "two", alice)
        third = await rename(client, "three", alice)  # 10 points needed, 4 left
    assert first.status_code == second.status_code == 200
    assert third.status_code == 429
    body = third.json()
    assert "data" not in body
    error = body["errors"][0]
    assert error["extensions"]["code"] == "THROTTLED"
    assert error["extensions"]["requestId"] == third.headers["x-request-id"]
    cost = error["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 10 and cost["actualQueryCost"] == 0
    assert cost["throttleStatus"]["maximumAvailable"] == 25
    assert cost["throttleStatus"]["currentlyAvailable"] in (4, 5)
    assert cost["throttleStatus"]["restoreRate"] == 1
    assert int(third.headers["retry-after"]) in (5, 6)
    assert await title_now(db) == "two"  # the third never ran


async def test_every_response_carries_the_ratelimit_headers(
    database_url: str, db: Database
) -> None:
    async with client_for(limited(database_url)) as client:
        response = await rename(client, "one", token("alice"))
    assert response.headers["ratelimit-policy"] == '"cost";q=25;w=25'
    found = re.fullmatch(r'"cost";r=(\d+);t=(\d+)', response.headers["ratelimit"])
    assert found is not None
    assert int(found[1]) in (14, 15) and int(found[2]) in (10, 11, 12)
    assert "retry-after" not in response.headers
    assert response.json()["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] in (14, 15)


async def test_a_request_leaves_nothing_for_the_cycle_collector(
    database_url: str, db: Database
) -> None:
    """Reference counting frees a request's gate and context: when they held each other,
    every request waited for the cycle collector, whose runs walked all requests in flight.
    Served by uvicorn, as in production: its `send` is a method of an object that holds the
    request's scope (which holds the context), what an in-memory transport's is not."""
    app = create_app(limited(database_url, rate_limit_maximum=1000))
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_config=None))
    serving = asyncio.create_task(server.serve(sockets=[listening]))
    try:
        await eventually(lambda: server.started, within=10, what="uvicorn did not start")
        url = f"http://127.0.0.1:{listening.getsockname()[1]}"
        async with httpx.AsyncClient(base_url=url) as client:
            await rename(client, "warm", token("alice"))
            gc.collect()
            gc.disable()
            gc.set_debug(gc.DEBUG_SAVEALL)  # what a collection finds stays in gc.garbage
            try:
                response = await rename(client, "one", token("alice"))
                await asyncio.sleep(0.1)  # the server's side of the request ends too
                gc.collect()
                left = [kept for kept in gc.garbage if isinstance(kept, Gate | Context)]
            finally:
                gc.set_debug(0)
                gc.garbage.clear()
                gc.enable()
    finally:
        server.should_exit = True
        await serving
        await app.state.db.dispose()
    assert response.headers["ratelimit"]
    assert left == []


async def test_a_refused_client_is_answered_before_its_document_is_parsed(
    database_url: str, db: Database
) -> None:
    # 21 points, restored slowly: two renames (11 + 10) empty the bucket
    settings = limited(database_url, rate_limit_maximum=21, rate_limit_restore_rate=0.01)
    alice = token("alice")
    async with client_for(settings) as client:
        statuses = [(await rename(client, title, alice)).status_code for title in "abc"]
        # empty: a document is refused before it is parsed, even one that would not parse
        broken = await client.post(
            "/graphql",
            json={"query": "{ this is not graphql"},
            headers={"Authorization": f"Bearer {alice}"},
        )
        # nor is a body that is not even JSON decoded
        not_json = await client.post(
            "/graphql",
            content=b"{not json",
            headers={"Authorization": f"Bearer {alice}", "Content-Type": "application/json"},
        )
    assert not_json.status_code == 429
    assert statuses == [200, 200, 429]
    assert broken.status_code == 429
    assert broken.json()["errors"][0]["extensions"]["code"] == "THROTTLED"


async def test_buckets_are_per_user_per_api_key_and_per_address(
    database_url: str, db: Database
) -> None:
    settings = limited(database_url, rate_limit_anonymous_maximum=2)
    key = await api_key(db)
    async with client_for(settings) as client:
        alice = [await rename(client, str(i), token("alice")) for i in range(3)]
        bob = await client.post(
            "/graphql",
            json={"query": "{ viewer { __typename } }"},
            headers={"Authorization": f"Bearer {token('bob')}"},
        )
        by_key = await rename(client, "key", key)
        anonymous = [
            await client.post("/graphql", json={"query": "{ viewer { __typename } }"})
            for _ in range(3)
        ]
    assert [r.status_code for r in alice] == [200, 200, 429]
    assert bob.status_code == 200  # alice's bucket is hers
    assert by_key.status_code == 200  # an API key has its own
    assert [r.status_code for r in anonymous] == [200, 200, 429]  # 2 points, 1 each
    assert anonymous[0].headers["ratelimit-policy"] == '"cost";q=2;w=2'


async def test_what_an_operation_did_not_use_is_given_back(database_url: str, db: Database) -> None:
    # a page of 100 asks 1 + 100 x 2 = 201 points; acme has 3 prompts: 1 + 3 x 2 = 7 ran
    # (and the first sight of the document costs a point)
    settings = limited(database_url, rate_limit_maximum=1000, rate_limit_restore_rate=0.001)
    alice = token("alice")
    async with client_for(settings) as client:
        pages = [
            await client.post(
                "/graphql", json={"query": PAGE}, headers={"Authorization": f"Bearer {alice}"}
            )
            for _ in range(6)  # 6 x 201 > 1000: only the refunds let the sixth through
        ]
    assert [r.status_code for r in pages] == [200] * 6
    for number, page in enumerate(pages, start=1):
        cost = page.json()["extensions"]["cost"]
        assert cost["requestedQueryCost"] == 201 and cost["actualQueryCost"] == 7
        assert cost["throttleStatus"]["currentlyAvailable"] == 1000 - 1 - 7 * number


async def test_an_operation_dearer_than_the_whole_bucket_says_so(
    database_url: str, db: Database
) -> None:
    settings = limited(database_url, rate_limit_maximum=100)
    async with client_for(settings) as client:
        response = await client.post(
            "/graphql",
            json={"query": PAGE},
            headers={"Authorization": f"Bearer {token('alice')}"},
        )
    assert response.status_code == 429
    assert "whole budget" in response.json()["errors"][0]["message"]
    assert "retry-after" not in response.headers  # waiting would not help


async def test_an_organization_may_have_its_own_limit(database_url: str, db: Database) -> None:
    async with db.write() as conn:
        await set_rate_limit(conn, org_id=GLOBEX, maximum=12, restore_rate=0.01)
    async with client_for(limited(database_url)) as client:
        carol = [
            await client.post(
                "/graphql",
                json={"query": RENAME, "variables": {"title": str(i)}},
                headers={"Authorization": f"Bearer {token('carol')}"},
            )
            for i in range(2)
        ]
        alice = [await rename(client, str(i), token("alice")) for i in range(2)]
    # carol's mutations find no prompt of that id in globex, but still cost 10 each
    assert [r.status_code for r in carol] == [200, 429]
    assert carol[0].headers["ratelimit-policy"] == '"cost";q=12;w=1200'
    assert [r.status_code for r in alice] == [200, 200]  # acme keeps the default


async def test_the_ratelimit_command_sets_shows_and_clears_an_organization_limit(
    database_url: str, db: Database, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv("PATCHBAY_DATABASE_URL", database_url)

    async def patchbay(*argv: str) -> int:  # the command runs its own event loop
        return await asyncio.to_thread(main, list(argv))

    assert (
        await patchbay("ratelimit", "set", "globex", "--maximum", "40", "--restore-rate", "2") == 0
    )
    assert await patchbay("ratelimit", "show", "globex") == 0
    assert "globex: 40 points, 2 per second" in capsys.readouterr().out
    assert (
        await patchbay("ratelimit", "set", "globex", "--maximum", "-1", "--restore-rate", "2") == 2
    )
    assert (
        await patchbay("ratelimit", "set", "nowhere", "--maximum", "1", "--restore-rate", "2") == 1
    )
    assert await patchbay("ratelimit", "clear", "globex") == 0
    assert await patchbay("ratelimit", "show", "globex") == 0
    assert "the default" in capsys.readouterr().out


async def test_without_the_limit_there_are_no_ratelimit_headers(
    database_url: str, db: Database
) -> None:
    async with client_for(settings_for(database_url)) as client:
        responses = [await rename(client, str(i), token("alice")) for i in range(5)]
    assert all(r.status_code == 200 for r in responses)
    assert all("ratelimit" not in r.headers for r in responses)
    assert "throttleStatus" not in responses[0].json()["extensions"]["cost"]


async def test_a_refused_document_is_charged_its_parsing_each_time(
    database_url: str, db: Database
) -> None:
    # an anonymous caller's bucket of 5 points: an invalid document costs a point each time
    settings = limited(database_url, rate_limit_anonymous_maximum=5)
    async with client_for(settings) as client:
        answers = [await client.post("/graphql", json={"query": "{ nope }"}) for _ in range(7)]
    statuses = [answer.status_code for answer in answers]
    assert statuses[:5] == [200] * 5  # GRAPHQL_VALIDATION_FAILED under application/json
    assert statuses[5:] == [429, 429]
    assert answers[0].json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_a_document_too_long_for_the_whole_bucket_empties_it(
    database_url: str, db: Database
) -> None:
    # 5 points; a 10,000-character document would cost 10 to parse: it is never parsed
    settings = limited(database_url, rate_limit_anonymous_maximum=5)
    long = "{ __typename " + "# padding\n" * 1000 + "}"
    async with client_for(settings) as client:
        refused = await client.post("/graphql", json={"query": long})
        after = await client.post("/graphql", json={"query": "{ __typename }"})
    assert refused.status_code == 429
    assert "whole budget" in refused.json()["errors"][0]["message"]
    assert after.status_code == 429  # the bucket it emptied refills at 1 point a second


async def test_a_throttled_answer_is_held_until_its_points_are_back(
    database_url: str, db: Database
) -> None:
    # 21 points restored at 4 a second: the third rename lacks 10 points, 2.5 s away; the
    # answer waits the hold (0.5 s), so a client that never pauses cannot take the server
    settings = limited(
        database_url,
        rate_limit_maximum=21,
        rate_limit_restore_rate=4,
        rate_limit_hold_seconds=0.5,
    )
    alice = token("alice")
    async with client_for(settings) as client:
        for title in ("one", "two"):
            assert (await rename(client, title, alice)).status_code == 200
        started = time.monotonic()
        held = await rename(client, "three", alice)
        waited = time.monotonic() - started
    assert held.status_code == 429
    assert int(held.headers["retry-after"]) == 3  # what is still owed, rounded up
    assert 0.45 <= waited < 2.0


async def test_a_planned_document_with_bad_variables_is_charged_once(
    database_url: str, db: Database
) -> None:
    # 1000 points; the page costs 1 + 100 x 2; a bad variable sends the planned document
    # to Strawberry's path, which refuses it: one charge (given back), not two
    page = (
        "query P($n: Int) { prompts(first: $n) "
        "{ ... on PromptConnection { edges { node { id } } } } }"
    )
    settings = limited(database_url, rate_limit_maximum=1000, rate_limit_restore_rate=0.001)
    headers = {"Authorization": f"Bearer {token('alice')}"}
    async with client_for(settings) as client:
        for _ in range(2):  # learnt, then planned
            await client.post(
                "/graphql", json={"query": page, "variables": {"n": 100}}, headers=headers
            )
        bad = await client.post(
            "/graphql", json={"query": page, "variables": {"n": "abc"}}, headers=headers
        )
        after = await client.post(
            "/graphql", json={"query": page, "variables": {"n": 100}}, headers=headers
        )
    assert bad.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    left = after.json()["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"]
    # 1 (first sight) + 3 x 7 (pages of 3) + the refused one's at most 201, not 402
    assert left >= 1000 - 1 - 21 - 201


async def test_with_an_error_nothing_is_given_back(database_url: str, db: Database) -> None:
    # a page and a refused argument in one document: the page ran, the data is null
    document = (
        "{ a: prompts(first: 100) { ... on PromptConnection { edges { node { id } } } } "
        "b: prompts(first: -1) { __typename } }"
    )
    settings = limited(database_url, rate_limit_maximum=1000, rate_limit_restore_rate=0.001)
    async with client_for(settings) as client:
        answer = await client.post(
            "/graphql",
            json={"query": document},
            headers={"Authorization": f"Bearer {token('alice')}"},
        )
    cost = answer.json()["extensions"]["cost"]
    assert answer.json()["errors"]
    assert cost["actualQueryCost"] == cost["requestedQueryCost"] == (1 + 100 * 2) + 1


async def test_an_unreachable_database_while_rate_limiting_is_503_not_500() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{port}/patchbay"
    settings = settings_for(url, rate_limit=True, database_timeout_seconds=1)
    async with client_for(settings) as client:
        # an API key is looked up in the database before the rate limit can charge it
        answer = await client.post(
            "/graphql",
            json={"query": "{ viewer { __typename } }"},
            headers={
                "Authorization": "Bearer am_live_0123456789abcdef_0123456789abcdef0123456789abcdef"
            },
        )
    assert answer.status_code == 503
    assert answer.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
