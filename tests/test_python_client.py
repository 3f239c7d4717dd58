"""Server to server: another service calls Patchbay with gql (a GraphQL client library) and an
organization API key, over real HTTP to a live uvicorn on a fresh SQLite file."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from gql import Client, GraphQLRequest
from gql.transport.httpx import HTTPXAsyncTransport
from prometheus_client.parser import text_string_to_metric_families

from db.database import Database
from db.migrate import upgrade_async
from db.prompts import fetch_prompt
from db.seed import ACME, seed_demo
from gateway.app import create_app
from tests.conftest import settings_for
from tests.factories import api_key
from tests.waiting import wait_until

UPDATE_PROMPT = """
mutation UpdatePrompt($id: ID!, $input: UpdatePromptInput!) {
  updatePrompt(id: $id, input: $input) {
    __typename
    ... on UpdatePromptSuccess { prompt { id title tags updatedBy updatedUserName } }
    ... on Error { code message requestId }
    ... on NotFoundError { resource id }
    ... on ValidationError { fields { field code } }
  }
}
"""
PROMPT = """
query Prompt($id: ID!) {
  prompt(id: $id) {
    __typename
    ... on Prompt { id title tags updatedBy }
    ... on Error { code }
  }
}
"""
VIEWER = "query Viewer { viewer { __typename ... on Viewer { subject kind scopes } } }"
STARTUP_SECONDS = 10


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'patchbay.db'}"
    await upgrade_async(url)
    database = Database(url)
    async with database.write() as conn:
        await seed_demo(conn)
    yield database
    await database.dispose()


@pytest.fixture
def live_url(database: Database) -> Iterator[str]:
    """The app served by uvicorn in a thread of its own, on a port the OS picked."""
    app = create_app(settings_for(database.url))
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False)
    )
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    wait_until(
        lambda: server.started or not thread.is_alive(),
        timeout=STARTUP_SECONDS,
        what="uvicorn did not start",
    )
    assert server.started, "uvicorn stopped before it started serving"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_SECONDS)


def gql_client(url: str, credential: str) -> Client:
    """A client of the gql library, sending this credential to the live server."""
    transport = HTTPXAsyncTransport(
        url=f"{url}/graphql", headers={"Authorization": f"Bearer {credential}"}, timeout=10
    )
    return Client(transport=transport)


async def run(client: Client, document: str, **variables: Any) -> dict[str, Any]:
    async with client as session:
        return await session.execute(GraphQLRequest(document, variable_values=variables))


def results_per_type(metrics_text: str) -> dict[tuple[str, str], float]:
    return {
        (sample.labels["operation"], sample.labels["result"]): sample.value
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
        if sample.name == "patchbay_graphql_results_total"
    }


async def test_a_service_updates_and_reads_a_prompt_with_an_api_key(
    database: Database, live_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # given: an API key of acme, made the way `patchbay apikey create` makes one
    secret = await api_key(database, org="acme", name="catalog-sync")
    client = gql_client(live_url, secret)
    # when
    viewer = await run(client, VIEWER)
    updated = await run(
        client,
        UPDATE_PROMPT,
        id="prm_acme_welcome",
        input={"title": "Welcome (synced)", "tags": ["sync", "main", "sync"]},
    )
    read = await run(client, PROMPT, id="prm_acme_welcome")
    # then: union members, as a typed client sees them
    assert viewer["viewer"]["__typename"] == "Viewer"
    assert viewer["viewer"]["kind"] == "API_KEY"
    prefix = viewer["viewer"]["subject"]
    assert secret.startswith(prefix)
    assert updated["updatePrompt"] == {
        "__typename": "UpdatePromptSuccess",
        "prompt": {
            "id": "prm_acme_welcome",
            "title": "Welcome (synced)",
            "tags": ["sync", "main"],
            "updatedBy": prefix,
            "updatedUserName": "catalog-sync",
        },
    }
    assert read["prompt"] == {
        "__typename": "Prompt",
        "id": "prm_acme_welcome",
        "title": "Welcome (synced)",
        "tags": ["sync", "main"],
        "updatedBy": prefix,
    }
    # then: the database holds it
    async with database.read() as conn:
        row = await fetch_prompt(conn, org_id=ACME, prompt_id="prm_acme_welcome")
    assert row is not None
    assert (row.title, row.tags, row.updated_by) == ("Welcome (synced)", ["sync", "main"], prefix)
    # then: the server's access log names the key by its prefix, never by its secret
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "patchbay.access"]
    assert [line["operation"] for line in lines] == ["Viewer", "UpdatePrompt", "Prompt"]
    assert all(line["principal"] == {"subject": prefix, "kind": "API_KEY"} for line in lines)
    assert all(secret not in record.getMessage() for record in caplog.records)


async def test_a_services_failures_arrive_as_union_members_and_in_the_metrics(
    database: Database, live_url: str
) -> None:
    # given: a key of globex, and a read-only key of acme
    globex = gql_client(live_url, await api_key(database, org="globex"))
    reader = gql_client(live_url, await api_key(database, org="acme", scope="prompts:read"))
    writer = gql_client(live_url, await api_key(database, org="acme"))
    # when
    not_found = await run(globex, UPDATE_PROMPT, id="prm_acme_welcome", input={"title": "x"})
    forbidden = await run(reader, UPDATE_PROMPT, id="prm_acme_welcome", input={"title": "x"})
    async with writer as session:  # one session, three requests in flight at once
        invalid = await asyncio.gather(
            *(
                session.execute(
                    GraphQLRequest(
                        UPDATE_PROMPT,
                        variable_values={"id": "prm_acme_welcome", "input": {"title": ""}},
                    )
                )
                for _ in range(3)
            )
        )
    readable = await run(reader, PROMPT, id="prm_acme_welcome")
    async with httpx.AsyncClient(base_url=live_url) as http:
        scrape = (await http.get("/metrics")).text
    # then
    assert not_found["updatePrompt"]["__typename"] == "NotFoundError"
    assert not_found["updatePrompt"]["resource"] == "prompt"
    assert forbidden["updatePrompt"]["__typename"] == "ForbiddenError"
    assert [answer["updatePrompt"]["__typename"] for answer in invalid] == ["ValidationError"] * 3
    assert invalid[0]["updatePrompt"]["fields"] == [{"field": "title", "code": "TOO_SHORT"}]
    assert readable["prompt"]["__typename"] == "Prompt"
    assert results_per_type(scrape) == {
        ("UpdatePrompt", "NotFoundError"): 1,
        ("UpdatePrompt", "ForbiddenError"): 1,
        ("UpdatePrompt", "ValidationError"): 3,
        ("Prompt", "Prompt"): 1,
    }
    async with database.read() as conn:
        row = await fetch_prompt(conn, org_id=ACME, prompt_id="prm_acme_welcome")
    assert row is not None
    assert row.title != "x"
