"""Idempotency-Key: a retry gets the first answer byte for byte and never writes twice; the
key's record lives in the write's own transaction (both databases)."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import func, select, update

from db import idempotency
from db.database import Database
from db.models import idempotency_keys, prompts
from gateway.cli import main
from gateway.settings import Settings
from tests.conftest import settings_for
from tests.factories import TEST_SECRET, client_for, token
from tests.row_locks import far_database, lock_waiters, until_waiting, write_blocked
from tests.waiting import wait_until

WELCOME = "prm_acme_welcome"  # alice's
PATCHBAY = str(Path(sys.executable).parent / "patchbay")
DATABASE_POOL_SIZE = Settings.model_fields["database_pool_size"].default
UPDATE = """
mutation Retitle($id: ID!, $input: UpdatePromptInput!, $dry: Boolean) {
  updatePrompt(id: $id, input: $input, dryRun: $dry) {
    __typename
    ... on UpdatePromptSuccess { written prompt { title version updatedAt } }
    ... on Error { code message requestId }
    ... on ConflictError { currentVersion }
  }
}
"""
UPDATE_DIRECTIVE = """
mutation Retitle($id: ID!, $input: UpdatePromptInput!) {
  updatePrompt(id: $id, input: $input) @idempotent(key: "directive-key-1") {
    __typename
    ... on UpdatePromptSuccess { prompt { title version } }
  }
}
"""


def _body(title: str = "retried", **input_fields: Any) -> dict[str, Any]:
    return {
        "query": UPDATE,
        "variables": {"id": WELCOME, "input": {"title": title, **input_fields}},
    }


async def _post(
    client: httpx.AsyncClient,
    body: dict[str, Any],
    key: str | None = "key-1",
    *,
    user: str = "alice",
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token(user)}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return await client.post("/graphql", json=body, headers=headers)


def _by_hash(document: str) -> dict[str, Any]:
    """Apollo's persisted-query extension naming `document` by its hash."""
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256(document.encode()).hexdigest()}}


async def _version(db: Database) -> int:
    async with db.write() as conn:
        return int(
            (
                await conn.execute(select(prompts.c.version).where(prompts.c.id == WELCOME))
            ).scalar_one()
        )


# Another title, by hand (its version stays): a request that runs again writes its own back
_TITLE_CHANGED_SINCE = update(prompts).where(prompts.c.id == WELCOME).values(title="by hand")


async def _records(db: Database) -> int:
    async with db.write() as conn:
        return int(
            (await conn.execute(select(func.count()).select_from(idempotency_keys))).scalar_one()
        )


@pytest.fixture(autouse=True)
async def no_records(db: Database) -> None:
    async with db.write() as conn:
        await conn.execute(idempotency_keys.delete())


async def test_a_retry_gets_the_first_answer_byte_for_byte_without_writing(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given: a first update with a key
    first = await _post(client, _body())
    # when: the same request again, with the same key
    retry = await _post(client, _body())
    # then: the same bytes (data and union member), flagged as a replay; one write only
    assert first.status_code == retry.status_code == 200
    assert retry.content == first.content
    assert retry.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert orjson.loads(first.content)["data"]["updatePrompt"]["prompt"]["version"] == 2
    assert await _version(db) == 2
    assert await _records(db) == 1


async def test_a_documented_failure_is_replayed_like_a_success(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given: a stale guard answered with a ConflictError
    first = await _post(client, _body(expectedVersion=7))
    assert orjson.loads(first.content)["data"]["updatePrompt"]["__typename"] == "ConflictError"
    # when: the prompt reaches version 7's neighbourhood meanwhile, and the request is retried
    await _post(client, _body("other"), key="key-2")
    retry = await _post(client, _body(expectedVersion=7))
    # then: the stored answer, not a new evaluation
    assert retry.content == first.content
    assert retry.headers["idempotent-replayed"] == "true"


async def test_the_same_key_for_another_request_is_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    await _post(client, _body("first"))
    reused = await _post(client, _body("second"))
    assert reused.status_code == 422
    assert reused.json()["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await _version(db) == 2


async def test_keys_are_scoped_to_the_caller(client: httpx.AsyncClient, db: Database) -> None:
    # bob's request with alice's key is bob's own: it runs (and is forbidden: not his prompt)
    await _post(client, _body("alice's"))
    bobs = await _post(client, _body("bob's"), user="bob")
    assert bobs.status_code == 200
    assert "idempotent-replayed" not in bobs.headers
    assert bobs.json()["data"]["updatePrompt"]["__typename"] == "ForbiddenError"


@pytest.mark.parametrize("key", [b"", b"x" * 256, "clé".encode(), b"two words", b"tab\tkey"])
async def test_a_malformed_key_is_refused_before_anything_runs(
    client: httpx.AsyncClient, db: Database, key: bytes
) -> None:
    refused = await client.post(
        "/graphql",
        json=_body(),
        headers={"Authorization": f"Bearer {token()}", "Idempotency-Key": key},
    )
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_INVALID"
    assert await _version(db) == 1


async def test_a_quoted_key_and_the_longest_key_are_accepted(
    client: httpx.AsyncClient, db: Database
) -> None:
    assert (await _post(client, _body(), key='"quoted"')).status_code == 200
    assert (await _post(client, _body(), key="quoted")).headers["idempotent-replayed"] == "true"
    assert (await _post(client, _body("long"), key="k" * 255)).status_code == 200


async def test_twenty_concurrent_requests_with_one_key_write_once(
    client: httpx.AsyncClient, db: Database, database_url: str
) -> None:
    # given: the write held up, so all twenty copies are in flight together, meeting at the
    # key's claim in the database (PostgreSQL: its unique index; SQLite: its writer queue)
    async with write_blocked(database_url, WELCOME) as blocker:
        racing = [asyncio.create_task(_post(client, _body("raced"))) for _ in range(20)]
        # PostgreSQL: the first waits for the row, the others for its claim, as many as the
        # gateway has connections (the rest wait for one). SQLite: they queue in the gateway.
        await until_waiting(blocker, DATABASE_POOL_SIZE)
        await asyncio.sleep(0.2)  # and nothing finishes while the write is held up
        assert not any(task.done() for task in racing)
    # when
    answers = await asyncio.gather(*racing)
    # then: one write, one answer for all
    assert {a.status_code for a in answers} == {200}
    assert len({a.content for a in answers}) == 1
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 19
    assert await _version(db) == 2
    assert await _records(db) == 1


@contextmanager
def _patchbay_serve(database_url: str, home: Path) -> Iterator[str]:
    """A real `patchbay serve` on a free port; killed (SIGKILL: a crash) when the block ends."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home), "PATCHBAY_DATABASE_URL": database_url}
    env["PATCHBAY_JWT_SECRET"] = TEST_SECRET
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = home / f"serve-{port}.log"
    with log.open("wb") as output:
        server = subprocess.Popen(
            [PATCHBAY, "serve", "--port", str(port)], env=env, stdout=output, stderr=output
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _serving(url, server), timeout=30, what=f"serve: {log.read_text()}")
        yield url
    finally:
        server.kill()
        server.wait(timeout=10)


def _serving(url: str, server: subprocess.Popen[bytes]) -> bool:
    assert server.poll() is None, "patchbay serve exited"
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


async def test_a_replay_survives_a_crash_and_restart_of_the_gateway(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    # given: an answer given by a gateway that then crashed
    with _patchbay_serve(database_url, tmp_path) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            first = await _post(client, _body())
    # when: the retry reaches the restarted gateway
    with _patchbay_serve(database_url, tmp_path) as url:
        async with httpx.AsyncClient(base_url=url) as client:
            retry = await _post(client, _body())
    # then
    assert first.status_code == 200
    assert retry.content == first.content
    assert retry.headers["idempotent-replayed"] == "true"
    assert await _version(db) == 2


async def test_an_expired_key_runs_again_and_prune_removes_old_records(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given: a record from two days ago, and a title changed since (a write that sets the
    # title it has changes nothing: only a change shows that it ran again)
    await _post(client, _body())
    async with db.write() as conn:
        two_days_ago = datetime.now(UTC) - timedelta(days=2)
        await conn.execute(update(idempotency_keys).values(created_at=two_days_ago))
        await conn.execute(_TITLE_CHANGED_SINCE)
    # when: the same request with the same key (past the 24 h default)
    again = await _post(client, _body())
    # then: it ran again, and its new record is kept
    assert "idempotent-replayed" not in again.headers
    assert await _version(db) == 3
    assert await _records(db) == 1
    # and pruning removes only what is past the retention
    async with db.write() as conn:
        await conn.execute(update(idempotency_keys).values(created_at=two_days_ago))
    await _post(client, _body("fresh"), key="key-fresh")
    removed = await idempotency.prune(db, before=datetime.now(UTC) - timedelta(days=1), batch=1)
    assert removed == 1
    assert await _records(db) == 1


async def test_a_dry_run_keeps_no_record(client: httpx.AsyncClient, db: Database) -> None:
    dry = await _post(client, {**_body(), "variables": {**_body()["variables"], "dry": True}})
    assert dry.json()["data"]["updatePrompt"]["written"] is False
    assert await _records(db) == 0
    real = await _post(client, _body(), key="key-dry")  # another key: the dry one is not used
    assert real.status_code == 200
    assert await _version(db) == 2


async def test_request_errors_are_not_kept_so_a_retry_runs(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given: a first attempt the server refused (a variable of the wrong type)
    bad = await _post(client, {"query": UPDATE, "variables": {"id": WELCOME, "input": 5}})
    assert bad.json()["errors"]
    # when: the corrected request with the same key
    fixed = await _post(client, _body())
    # then: it ran (the refused attempt kept nothing)
    assert fixed.json()["data"]["updatePrompt"]["prompt"]["version"] == 2
    assert "idempotent-replayed" not in fixed.headers


async def test_queries_and_anonymous_requests_run_as_without_a_key(
    client: httpx.AsyncClient, db: Database
) -> None:
    query = {"query": "query { viewer { __typename } }"}
    assert (await _post(client, query)).json()["data"]["viewer"]["__typename"] == "Viewer"
    anonymous = await client.post("/graphql", json=_body(), headers={"Idempotency-Key": "k"})
    assert anonymous.json()["data"]["updatePrompt"]["__typename"] == "UnauthorizedError"
    assert await _records(db) == 0


async def test_the_idempotent_directive_is_a_key_too(
    client: httpx.AsyncClient, db: Database
) -> None:
    body = {"query": UPDATE_DIRECTIVE, "variables": {"id": WELCOME, "input": {"title": "d"}}}
    first = await _post(client, body, key=None)
    retry = await _post(client, body, key=None)
    assert first.json()["data"]["updatePrompt"]["prompt"]["version"] == 2
    assert retry.content == first.content
    assert retry.headers["idempotent-replayed"] == "true"
    assert await _version(db) == 2


@pytest.mark.parametrize(
    "spelling",
    ["@ idempotent", "@ # the retry's key\\n  idempotent", "@\\u0069dempotent"],
    ids=["a space after @", "a comment after @", "a JSON escape"],
)
async def test_the_directive_is_a_key_however_the_body_spells_it(
    client: httpx.AsyncClient, db: Database, spelling: str
) -> None:
    # given: the directive as GraphQL (ignored tokens between @ and the name) and JSON allow
    body = {"query": UPDATE_DIRECTIVE, "variables": {"id": WELCOME, "input": {"title": "s"}}}
    content = orjson.dumps(body).replace(b"@idempotent", spelling.encode())
    headers = {"Authorization": f"Bearer {token('alice')}", "Content-Type": "application/json"}
    # when: the same request twice, then another under the same key
    first, retry = [await client.post("/graphql", content=content, headers=headers) for _ in "12"]
    other = await client.post("/graphql", content=content.replace(b'"s"', b'"t"'), headers=headers)
    # then
    assert first.json()["data"]["updatePrompt"]["prompt"]["version"] == 2
    assert retry.headers.get("idempotent-replayed") == "true"
    assert retry.content == first.content
    assert other.status_code == 422
    assert other.json()["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await _version(db) == 2


async def test_the_directive_of_a_document_sent_by_its_hash_alone_is_a_key(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given: a document with the directive, registered with its hash (Apollo's persisted
    # queries); the bodies after it hold the hash alone, not the directive's name
    document = UPDATE_DIRECTIVE.replace("mutation Retitle", "mutation RetitleByHash")
    extensions = _by_hash(document)
    variables = {"id": WELCOME, "input": {"title": "h"}}
    first = await _post(
        client, {"query": document, "variables": variables, "extensions": extensions}, key=None
    )
    # when
    retry = await _post(client, {"variables": variables, "extensions": extensions}, key=None)
    other_variables = {"id": WELCOME, "input": {"title": "other"}}
    other = await _post(client, {"variables": other_variables, "extensions": extensions}, key=None)
    # then
    assert retry.headers.get("idempotent-replayed") == "true"
    assert retry.content == first.content
    assert other.status_code == 422
    assert other.json()["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert await _version(db) == 2


@pytest.mark.parametrize("accept", ["text/event-stream", "TEXT/EVENT-STREAM", "Text/Event-Stream"])
async def test_a_mutation_asking_for_an_event_stream_writes_nothing_in_any_case(
    client: httpx.AsyncClient, db: Database, accept: str
) -> None:
    # given: the document run once as JSON, so the fast path knows it
    await _post(client, _body("learnt"), key=None)
    # when: it asks for a stream (media types are case-insensitive, RFC 9110 8.3.1)
    headers = {"Authorization": f"Bearer {token('alice')}", "Accept": accept}
    streamed = await client.post("/graphql", json=_body("streamed"), headers=headers)
    # then: only subscriptions stream; the mutation did not run (nor skip its key)
    assert streamed.headers["content-type"].startswith("text/event-stream"), streamed.text
    assert "Only subscriptions stream" in streamed.text
    assert await _version(db) == 2


# --- faults, made to happen: a locked row or database ----------------------------------------


async def test_a_server_error_keeps_nothing_and_the_retry_writes_once(
    database_url: str, db: Database
) -> None:
    async with client_for(settings_for(database_url, database_timeout_seconds=1.0)) as client:
        # given: a first attempt that fails with the write blocked past the timeout
        async with write_blocked(database_url, WELCOME):
            failed = await _post(client, _body())
        assert failed.json()["errors"][0]["extensions"]["code"] in {
            "SERVICE_UNAVAILABLE",
            "OUTCOME_UNKNOWN",
        }
        assert await _records(db) == 0
        assert await _version(db) == 1
        # when: the retry, with the database free again
        retry = await _post(client, _body())
    # then: it ran, once
    assert retry.json()["data"]["updatePrompt"]["prompt"]["version"] == 2
    assert await _version(db) == 2


async def test_a_twin_of_a_request_still_running_is_told_so(
    database_url: str, db: Database, is_postgres: bool
) -> None:
    if not is_postgres:
        pytest.skip("SQLite runs one writer at a time: a twin waits in its queue instead")
    async with client_for(settings_for(database_url, database_timeout_seconds=2.0)) as client:
        # given: a first request stuck behind a row lock, holding its key
        async with write_blocked(database_url, WELCOME) as blocker:
            first = asyncio.create_task(_post(client, _body()))
            await until_waiting(blocker, 1)
            # when: its twin arrives, and waits past half the database timeout
            twin = await _post(client, _body())
        answered = await first
        replay = await _post(client, _body())
    # then
    assert twin.status_code == 409
    assert twin.json()["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_IN_FLIGHT"
    assert answered.json()["data"]["updatePrompt"]["prompt"]["version"] == 2
    assert replay.content == answered.content
    assert await _version(db) == 2


async def test_the_directive_takes_its_key_from_a_variable(
    client: httpx.AsyncClient, db: Database
) -> None:
    document = UPDATE_DIRECTIVE.replace(
        "$input: UpdatePromptInput!)", "$input: UpdatePromptInput!, $key: String!)"
    ).replace('key: "directive-key-1"', "key: $key")
    body = {"query": document, "variables": {"id": WELCOME, "input": {"title": "v"}, "key": "k-9"}}
    first = await _post(client, body, key=None)
    retry = await _post(client, body, key=None)
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.content == first.content
    long_key = {**body, "variables": {**body["variables"], "key": "k" * 256}}
    assert (await _post(client, long_key, key=None)).status_code == 400


async def test_patchbay_db_prune_removes_expired_records(
    no_patchbay_environment: None,
    client: httpx.AsyncClient,
    db: Database,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # given: an expired record and a fresh one
    await _post(client, _body("old"), key="old")
    async with db.write() as conn:
        await conn.execute(
            update(idempotency_keys).values(created_at=datetime.now(UTC) - timedelta(days=2))
        )
    await _post(client, _body("new"), key="new")
    # when
    monkeypatch.setenv("PATCHBAY_DATABASE_URL", database_url)
    code = await asyncio.to_thread(main, ["db", "prune"])
    # then
    assert code == 0
    assert "1 expired idempotency records removed" in capsys.readouterr().err
    assert await _records(db) == 1


async def test_the_retention_is_the_setting(database_url: str, db: Database) -> None:
    # given: a gateway that keeps answers a minute, an answer two minutes old, and a title
    # changed since
    settings = settings_for(database_url, idempotency_ttl_seconds=60)
    async with client_for(settings) as client:
        await _post(client, _body())
        async with db.write() as conn:
            two_minutes_ago = datetime.now(UTC) - timedelta(minutes=2)
            await conn.execute(update(idempotency_keys).values(created_at=two_minutes_ago))
            await conn.execute(_TITLE_CHANGED_SINCE)
        # when
        again = await _post(client, _body())
    # then: expired for this gateway (the default, a day, would have replayed it)
    assert "idempotent-replayed" not in again.headers
    assert await _version(db) == 3


BULK = """
mutation Bulk($items: [UpdatePromptItem!]!, $policy: BulkErrorPolicy, $dry: Boolean) {
  updatePrompts(items: $items, errorPolicy: $policy, dryRun: $dry) {
    __typename
    ... on UpdatePromptsPayload {
      writtenCount
      results { __typename ... on UpdatePromptSuccess { written prompt { version } } }
    }
  }
}
"""


async def test_a_bulk_update_with_a_key_is_answered_once(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given: a batch with a failing item, its good items written (REJECT_FAILED_ROWS)
    items = [
        {"id": WELCOME, "input": {"title": "bulk"}},
        {"id": "prm_nobody", "input": {"title": "bulk"}},
        {"id": WELCOME, "input": {"title": "bulk again"}},
    ]
    body = {"query": BULK, "variables": {"items": items, "policy": "REJECT_FAILED_ROWS"}}
    first = await _post(client, body, key="bulk-1")
    # when
    retry = await _post(client, body, key="bulk-1")
    dry = await _post(client, {**body, "variables": {**body["variables"], "dry": True}}, key="d")
    # then: the batch ran once (two writes), its answer replayed; the dry run kept nothing
    assert first.json()["data"]["updatePrompts"]["writtenCount"] == 2
    assert retry.content == first.content
    assert retry.headers["idempotent-replayed"] == "true"
    assert dry.json()["data"]["updatePrompts"]["writtenCount"] == 0
    assert await _version(db) == 3
    assert await _records(db) == 1


async def test_a_persisted_query_retried_by_its_hash_alone_is_replayed(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given: a mutation sent with its document and its hash (Apollo's persisted queries)
    document = UPDATE.replace("mutation Retitle", "mutation RetitlePersisted")
    extensions = _by_hash(document)
    variables = _body()["variables"]
    first = await _post(
        client, {"query": document, "variables": variables, "extensions": extensions}
    )
    # when: the retry sends the hash alone
    retry = await _post(client, {"variables": variables, "extensions": extensions})
    # then: the same request, by the document the hash stands for
    assert retry.content == first.content
    assert retry.headers["idempotent-replayed"] == "true"
    assert await _version(db) == 2


@pytest.mark.parametrize("key", [None, "key-timed-out"], ids=["single write", "keyed unit"])
async def test_a_write_that_timed_out_on_a_lock_is_stopped_on_the_server(
    database_url: str, db: Database, is_postgres: bool, key: str | None
) -> None:
    if not is_postgres:
        pytest.skip("SQLite's writers queue inside the gateway: no statement is left behind")
    async with (
        far_database(database_url, delay=0.01) as far_url,
        client_for(settings_for(far_url, database_timeout_seconds=1.0)) as client,
    ):
        # given: a database 20 ms away, and a write that timed out behind a row lock (with
        # a key, in a transaction)
        async with write_blocked(database_url, WELCOME) as blocker:
            failed = await _post(client, _body("abandoned"), key=key)
            # then: its statement was cancelled on the server too, not left waiting for the
            # lock (where a write without a key would commit once the lock is gone)
            assert blocker is not None
            stopped_by = time.monotonic() + 2
            while await lock_waiters(blocker):
                assert time.monotonic() < stopped_by, "the timed-out statement still waits"
                await asyncio.sleep(0.02)
        assert failed.json()["errors"][0]["extensions"]["code"] in {
            "SERVICE_UNAVAILABLE",
            "OUTCOME_UNKNOWN",
        }
        await asyncio.sleep(0.3)
        assert await _version(db) == 1


async def test_a_keyed_rename_that_loses_its_connection_is_unavailable(
    client: httpx.AsyncClient, database_url: str, db: Database, is_postgres: bool
) -> None:
    if not is_postgres:
        pytest.skip("a PostgreSQL backend terminated mid-statement")
    # given: a keyed rename (a savepoint in the unit, for the name's unique key) waiting for
    # its row
    async with write_blocked(database_url, WELCOME) as blocker:
        assert blocker is not None
        sent = asyncio.create_task(_post(client, _body(name="renamed while lost")))
        await until_waiting(blocker, 1)
        # when: its connection is lost (the savepoint's and the unit's rollbacks fail too)
        await blocker.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        answered = await sent
    # then: a retryable SERVICE_UNAVAILABLE, nothing written
    assert answered.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert await _version(db) == 1
