"""A change is read once per process for all its subscribers, and made into its GraphQL
result once per selection; each event carries the entity as the entry's own write left
it. Against real `patchbay serve` processes, with the `websockets` client (as
tests/test_subscription_gate.py)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from websockets.asyncio.client import ClientConnection

from db.database import Database
from tests.factories import token
from tests.test_subscription_gate import _next_message, _post, _subscribe, connected
from tests.test_subscriptions import BULK, UPDATE, WELCOME, serving

WATCH_STATES = """
subscription {
  promptChanged(id: "prm_acme_welcome") {
    entry { version recordedAt changes { field after } actor { subject name } }
    prompt { version title updatedAt updatedBy updatedUserName }
  }
}
"""


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path


async def _messages(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    return [await _next_message(ws) for _ in range(count)]


async def test_each_event_carries_the_entity_as_its_entry_left_it(
    db: Database, database_url: str, home: Path
) -> None:
    # given: a subscriber, and a batch that commits its changes at once: by the time they
    # are read the prompt is at its last version. One item sets the title it already has:
    # it changes nothing (no version, no entry), and is heard by nobody
    titles = ["t1", "t2", "t2", "t3", "t4", "t5"]
    with serving(database_url, home) as url:
        async with connected(url, token("alice")) as ws:
            await _subscribe(ws, "1", query=WATCH_STATES)
            await asyncio.sleep(0.5)
            # when
            items = [{"id": WELCOME, "input": {"title": title}} for title in titles]
            async with httpx.AsyncClient() as client:
                answer = await client.post(
                    f"{url}/graphql",
                    json={"query": BULK, "variables": {"items": items}},
                    headers={"Authorization": f"Bearer {token('alice', name='Alice A')}"},
                )
            assert answer.json()["data"]["updatePrompts"]["__typename"] == "UpdatePromptsPayload"
            events = [m["payload"]["data"]["promptChanged"] for m in await _messages(ws, 5)]
    # then: each event's prompt is the one its entry describes, not the latest
    assert [e["entry"]["version"] for e in events] == [2, 3, 4, 5, 6]
    for event in events:
        entry, prompt = event["entry"], event["prompt"]
        assert prompt["version"] == entry["version"]
        assert [prompt["title"]] == [c["after"] for c in entry["changes"] if c["field"] == "title"]
        assert prompt["updatedAt"] == entry["recordedAt"]
        assert (prompt["updatedBy"], prompt["updatedUserName"]) == ("alice", "Alice A")


async def _scans(db: Database) -> dict[str, int]:
    """Scans PostgreSQL counted on prompts and history_entries, by index or not (its
    statistics; a table this small may be read whole)."""
    async with db.read() as conn:
        await conn.execute(text("SELECT pg_stat_clear_snapshot()"))
        rows = await conn.execute(
            text(
                "SELECT relname, seq_scan + coalesce(idx_scan, 0) FROM pg_stat_user_tables "
                "WHERE relname IN ('prompts', 'history_entries')"
            )
        )
        return {name: count for name, count in rows.all()}


async def _settled_scans(db: Database) -> dict[str, int]:
    """The counts once they stop moving. A server process reports its counts when it goes
    idle, but at most once a second: a count it holds back waits for its next report,
    up to 10 s later (PostgreSQL's PGSTAT_IDLE_INTERVAL)."""
    last, steady_since = await _scans(db), time.monotonic()
    while time.monotonic() - steady_since < 11:
        await asyncio.sleep(0.5)
        now = await _scans(db)
        if now != last:
            last, steady_since = now, time.monotonic()
    return last


async def test_the_subscribers_of_a_process_share_one_read_of_each_change(
    db: Database, database_url: str, home: Path, is_postgres: bool
) -> None:
    if not is_postgres:
        pytest.skip("counted by PostgreSQL's statistics")
    # given: five subscribers on one process
    changes = 3
    with serving(database_url, home) as url:
        async with connected(url, token("alice")) as ws:
            for n in range(5):
                await _subscribe(ws, str(n), query=WATCH_STATES)
            await asyncio.sleep(0.5)
            before = await _settled_scans(db)
            # when: three changes, one after the other
            heard = []
            for n in range(changes):
                await _post(url, UPDATE, token("alice"), id=WELCOME, title=f"Change {n}")
                heard += await _messages(ws, 5)
            after = await _settled_scans(db)
    # then: every subscriber heard each change; the database read each change's entries
    # once, and its prompt once beside the write's own two scans (its row locked, then
    # updated). Before, each subscriber read both: 15 and 21
    assert [m["type"] for m in heard] == ["next"] * 5 * changes
    scans = {table: after[table] - before[table] for table in after}
    assert scans == {"history_entries": changes, "prompts": 3 * changes}


SELECTED = """
subscription ($withTitle: Boolean!) {
  promptChanged(id: "prm_acme_welcome") { prompt { name title @include(if: $withTitle) } }
}
"""
OTHER_SELECTION = 'subscription { promptChanged(id: "prm_acme_welcome") { entry { version } } }'
WITH_HISTORY = """
subscription {
  promptChanged(id: "prm_acme_welcome") {
    prompt { history(first: 1) { edges { node { version } } } }
  }
}
"""


async def test_subscribers_share_a_result_only_for_the_same_selection_and_variables(
    db: Database, database_url: str, home: Path
) -> None:
    # given: four subscriptions of one change, each asking for something else (`history`
    # reads with its subscriber's own credential: its selection is never shared)
    with serving(database_url, home) as url:
        async with connected(url, token("alice")) as ws:
            await _subscribe(ws, "with", query=SELECTED, variables={"withTitle": True})
            await _subscribe(ws, "without", query=SELECTED, variables={"withTitle": False})
            await _subscribe(ws, "other", query=OTHER_SELECTION)
            await _subscribe(ws, "history", query=WITH_HISTORY)
            await asyncio.sleep(0.5)
            # when
            await _post(url, UPDATE, token("alice"), id=WELCOME, title="Shared")
            heard = {m["id"]: m["payload"]["data"] for m in await _messages(ws, 4)}
    # then: each got its own
    assert heard == {
        "with": {"promptChanged": {"prompt": {"name": "welcome", "title": "Shared"}}},
        "without": {"promptChanged": {"prompt": {"name": "welcome"}}},
        "other": {"promptChanged": {"entry": {"version": 2}}},
        "history": {
            "promptChanged": {"prompt": {"history": {"edges": [{"node": {"version": 2}}]}}}
        },
    }
