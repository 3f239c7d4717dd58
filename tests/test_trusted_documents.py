"""Trusted documents: manifests checked at start, documents named by id (POST and GET, the
GraphQL-over-HTTP `documentId` and Apollo's persisted-query hash), and the three policies."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from db.database import Database
from db.models import prompts
from gateway.app import create_app
from gateway.graphql.trusted_documents import ManifestError
from tests.conftest import settings_for
from tests.factories import ALL_SCOPES, client_for, token

ME = "query Me { viewer { ... on Viewer { subject } } }"
RENAME = """mutation Rename($id: ID!, $title: String) {
  updatePrompt(id: $id, input: {title: $title}) { __typename } }"""
FREEFORM = "{ viewer { __typename } }"
INTROSPECTION = "{ __schema { queryType { name } } }"
WITH_FREEFORM = f"{ALL_SCOPES} graphql:freeform"
PATCHBAY = str(Path(sys.executable).parent / "patchbay")  # the installed command


PLAIN_RENAME = """mutation Plain($id: ID!, $title: String) {
  updatePrompt(id: $id, input: {title: $title}) { __typename } }"""
KEYED_RENAME = """mutation Keyed($id: ID!, $title: String, $key: String!) {
  updatePrompt(id: $id, input: {title: $title}) @idempotent(key: $key) { __typename } }"""


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def manifest(*operations: tuple[str, str, str]) -> dict[str, Any]:
    return {
        "format": "apollo-persisted-query-manifest",
        "version": 1,
        "operations": [
            {"id": sha256(body), "name": name, "type": kind, "body": body}
            for name, kind, body in operations
        ],
    }


@pytest.fixture
def manifest_path(tmp_path: Path) -> Path:
    path = tmp_path / "web.json"
    path.write_text(json.dumps(manifest(("Me", "query", ME), ("Rename", "mutation", RENAME))))
    return path


def trusted_settings(database_url: str, path: Path, policy: str, **more: object) -> Any:
    return settings_for(
        database_url,
        trusted_documents=str(path),
        trusted_documents_policy=policy,
        **more,
    )


def bearer(who: str = "alice", scope: str = ALL_SCOPES) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(who, scope=scope)}"}


async def title_of(db: Database, prompt_id: str) -> str | None:
    async with db.read() as conn:
        found = await conn.execute(select(prompts.c.title).where(prompts.c.id == prompt_id))
        title: str | None = found.scalar_one()
        return title


@pytest.mark.parametrize("document_id", [f"sha256:{sha256(ME)}", sha256(ME), sha256(ME).upper()])
async def test_a_trusted_document_runs_by_its_document_id_over_post_and_get(
    database_url: str, db: Database, manifest_path: Path, document_id: str
) -> None:
    async with client_for(trusted_settings(database_url, manifest_path, "enforce")) as client:
        posted = await client.post("/graphql", json={"documentId": document_id}, headers=bearer())
        got = await client.get("/graphql", params={"documentId": document_id}, headers=bearer())
    for response in (posted, got):
        assert response.status_code == 200, response.text
        assert response.json()["data"] == {"viewer": {"subject": "alice"}}


async def test_a_trusted_mutation_runs_by_id_with_variables_and_writes(
    database_url: str, db: Database, manifest_path: Path
) -> None:
    async with client_for(trusted_settings(database_url, manifest_path, "enforce")) as client:
        response = await client.post(
            "/graphql",
            json={
                "documentId": f"sha256:{sha256(RENAME)}",
                "variables": {"id": "prm_acme_welcome", "title": "Trusted"},
            },
            headers=bearer(),
        )
        over_get = await client.get(
            "/graphql", params={"documentId": sha256(RENAME)}, headers=bearer()
        )
    assert response.json()["data"] == {"updatePrompt": {"__typename": "UpdatePromptSuccess"}}
    assert await title_of(db, "prm_acme_welcome") == "Trusted"
    assert over_get.status_code == 405  # a mutation never runs over GET
    assert over_get.headers["allow"] == "POST"


async def test_a_trusted_mutation_keyed_by_its_directive_is_answered_once(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    # given: a trusted mutation whose key is its @idempotent directive's: the bodies name
    # it by id, and hold no text of the directive
    keyed = KEYED_RENAME
    path = tmp_path / "keyed.json"
    path.write_text(json.dumps(manifest(("Keyed", "mutation", keyed))))
    async with client_for(trusted_settings(database_url, path, "enforce")) as client:

        async def send(title: str) -> Any:
            variables = {"id": "prm_acme_welcome", "title": title, "key": "k-trusted"}
            body = {"documentId": f"sha256:{sha256(keyed)}", "variables": variables}
            return await client.post("/graphql", json=body, headers=bearer())

        # when: the request, its retry, and another request under the same key
        first, retry, other = await send("Once"), await send("Once"), await send("Twice")
    # then
    assert first.json()["data"] == {"updatePrompt": {"__typename": "UpdatePromptSuccess"}}
    assert retry.headers.get("idempotent-replayed") == "true"
    assert other.status_code == 422
    assert await title_of(db, "prm_acme_welcome") == "Once"


@pytest.mark.parametrize(
    "persisted",
    [{}, {"version": 2}, {"version": "1"}, {"version": 1}],
    ids=["no version", "version 2", "version as a string", "version 1"],
)
@pytest.mark.parametrize("keyed_by", ["header", "directive"])
async def test_a_trusted_mutation_named_by_its_hash_keeps_its_key_whatever_the_version(
    database_url: str, db: Database, tmp_path: Path, persisted: dict[str, Any], keyed_by: str
) -> None:
    # given: a trusted mutation named by its hash alone; the view runs a trusted document
    # whatever the extension's version says, so its key must hold whatever it says too
    document = KEYED_RENAME if keyed_by == "directive" else PLAIN_RENAME
    name = "Keyed" if keyed_by == "directive" else "Plain"
    path = tmp_path / "trusted.json"
    path.write_text(json.dumps(manifest((name, "mutation", document))))
    extensions = {"persistedQuery": {**persisted, "sha256Hash": sha256(document)}}
    key = f"k-{keyed_by}-{persisted.get('version')!r}"
    headers = bearer() | ({"Idempotency-Key": key} if keyed_by == "header" else {})
    async with client_for(trusted_settings(database_url, path, "enforce")) as client:

        async def send(title: str) -> Any:
            variables = {"id": "prm_acme_welcome", "title": title, "key": key}
            if keyed_by == "header":
                del variables["key"]
            body = {"extensions": extensions, "variables": variables}
            return await client.post("/graphql", json=body, headers=headers)

        # when: the request, its retry, and another request under the same key
        first, retry, other = await send("Once"), await send("Once"), await send("Twice")
    # then
    assert first.json()["data"] == {"updatePrompt": {"__typename": "UpdatePromptSuccess"}}
    assert retry.headers.get("idempotent-replayed") == "true"
    assert other.status_code == 422
    assert await title_of(db, "prm_acme_welcome") == "Once"


async def test_apollo_persisted_query_hashes_name_trusted_documents(
    database_url: str, db: Database, manifest_path: Path
) -> None:
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256(ME)}}
    async with client_for(trusted_settings(database_url, manifest_path, "enforce")) as client:
        posted = await client.post("/graphql", json={"extensions": extensions}, headers=bearer())
        got = await client.get(
            "/graphql", params={"extensions": json.dumps(extensions)}, headers=bearer()
        )
    assert posted.json()["data"] == got.json()["data"] == {"viewer": {"subject": "alice"}}


@pytest.mark.parametrize("document", [FREEFORM, INTROSPECTION, RENAME.replace("Rename", "Other")])
async def test_enforce_refuses_free_form_documents_without_the_freeform_scope(
    database_url: str, db: Database, manifest_path: Path, document: str
) -> None:
    variables = {"id": "prm_acme_welcome", "title": "Untrusted"}
    async with client_for(trusted_settings(database_url, manifest_path, "enforce")) as client:
        posted = await client.post(
            "/graphql", json={"query": document, "variables": variables}, headers=bearer()
        )
        got = await client.get("/graphql", params={"query": document}, headers=bearer())
        anonymous = await client.post("/graphql", json={"query": document})
    for response in (posted, got, anonymous):
        assert response.status_code == 403
        body = response.json()
        assert "data" not in body
        assert body["errors"][0]["extensions"]["code"] == "TRUSTED_DOCUMENTS_ONLY"
        assert "graphql:freeform" in body["errors"][0]["message"]
    assert await title_of(db, "prm_acme_welcome") == "Welcome"  # nothing ran


async def test_enforce_runs_free_form_documents_for_the_freeform_scope(
    database_url: str, db: Database, manifest_path: Path
) -> None:
    async with client_for(trusted_settings(database_url, manifest_path, "enforce")) as client:
        responses = [
            await client.post(
                "/graphql", json={"query": query}, headers=bearer(scope=WITH_FREEFORM)
            )
            for query in (FREEFORM, FREEFORM, INTROSPECTION)
        ]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert responses[1].json()["data"] == {"viewer": {"__typename": "Viewer"}}
    assert responses[2].json()["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_the_text_of_a_trusted_document_is_trusted_as_free_form(
    database_url: str, db: Database, manifest_path: Path
) -> None:
    async with client_for(trusted_settings(database_url, manifest_path, "enforce")) as client:
        response = await client.post("/graphql", json={"query": ME}, headers=bearer())
    assert response.json()["data"] == {"viewer": {"subject": "alice"}}


async def test_enforce_registers_no_automatic_persisted_query(
    database_url: str, db: Database, manifest_path: Path
) -> None:
    extensions = {"persistedQuery": {"version": 1, "sha256Hash": sha256(FREEFORM)}}
    async with client_for(trusted_settings(database_url, manifest_path, "enforce")) as client:
        # an app without the scope: the registration is refused
        app_registers = await client.post(
            "/graphql", json={"query": FREEFORM, "extensions": extensions}, headers=bearer()
        )
        # a person with the scope: the document runs, but is not kept
        person_runs = await client.post(
            "/graphql",
            json={"query": FREEFORM, "extensions": extensions},
            headers=bearer(scope=WITH_FREEFORM),
        )
        by_hash = await client.post(
            "/graphql", json={"extensions": extensions}, headers=bearer(scope=WITH_FREEFORM)
        )
    assert app_registers.status_code == 403
    assert person_runs.json()["data"] == {"viewer": {"__typename": "Viewer"}}
    assert by_hash.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


@pytest.mark.parametrize("policy", ["off", "log", "enforce"])
async def test_an_unknown_document_id_is_a_typed_request_error(
    database_url: str, db: Database, manifest_path: Path, policy: str
) -> None:
    async with client_for(trusted_settings(database_url, manifest_path, policy)) as client:
        unknown = await client.post(
            "/graphql", json={"documentId": f"sha256:{sha256('{ nope }')}"}, headers=bearer()
        )
        not_a_string = await client.post("/graphql", json={"documentId": 5}, headers=bearer())
        both = await client.post(
            "/graphql", json={"documentId": sha256(ME), "query": ME}, headers=bearer()
        )
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["extensions"]["code"] == "TRUSTED_DOCUMENT_NOT_FOUND"
    assert unknown.json()["errors"][0]["extensions"]["requestId"]
    for response in (not_a_string, both):
        assert response.status_code == 400
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert "documentId" in not_a_string.json()["errors"][0]["message"]


async def test_log_runs_untrusted_documents_and_counts_each_by_operation_name(
    database_url: str, db: Database, manifest_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    query = "query Untrusted { viewer { __typename } }"
    async with client_for(trusted_settings(database_url, manifest_path, "log")) as client:
        responses = [
            await client.post("/graphql", json={"query": query}, headers=bearer()) for _ in range(3)
        ]
        trusted = await client.post("/graphql", json={"query": ME}, headers=bearer())
        metrics = (await client.get("/metrics")).text
    assert all(r.json()["data"] == {"viewer": {"__typename": "Viewer"}} for r in responses)
    assert trusted.status_code == 200
    assert 'patchbay_untrusted_documents_total{operation="Untrusted"} 3.0' in metrics
    assert 'operation="Me"' not in metrics.split("patchbay_untrusted_documents_total")[-1]
    logged = [r for r in caplog.records if "untrusted document ran" in r.getMessage()]
    assert len(logged) == 1 and sha256(query) in logged[0].getMessage()


async def test_off_runs_everything_and_still_knows_document_ids(
    database_url: str, db: Database, manifest_path: Path
) -> None:
    async with client_for(trusted_settings(database_url, manifest_path, "off")) as client:
        free = await client.post("/graphql", json={"query": FREEFORM}, headers=bearer())
        by_id = await client.post("/graphql", json={"documentId": sha256(ME)}, headers=bearer())
    assert free.json()["data"] == {"viewer": {"__typename": "Viewer"}}
    assert by_id.json()["data"] == {"viewer": {"subject": "alice"}}


BAD_MANIFESTS = [
    pytest.param(
        {
            **manifest(("Me", "query", ME)),
            "operations": [{"id": "0" * 64, "name": "Me", "body": ME}],
        },
        "operation 'Me': `id` is not the sha256 of its body",
        id="bad-hash",
    ),
    pytest.param(
        manifest(("Broken", "query", "query Broken { nope }")),
        "operation 'Broken': invalid against the schema: Cannot query field 'nope'",
        id="invalid-document",
    ),
    pytest.param(
        manifest(("Broken", "query", "query Broken {")),
        "operation 'Broken': invalid against the schema: Syntax Error",
        id="syntax-error",
    ),
    pytest.param(
        manifest(("Other", "query", ME)), "operation 'Other': the body has no operation", id="name"
    ),
    pytest.param(
        manifest(("Me", "mutation", ME)),
        "operation 'Me': the operation is not a mutation",
        id="type",
    ),
    pytest.param({"format": "something-else", "version": 1}, "format is not", id="format"),
    pytest.param({**manifest(), "version": 2}, "version must be 1", id="version"),
]


@pytest.mark.parametrize(("content", "message"), BAD_MANIFESTS)
def test_a_manifest_that_cannot_be_trusted_refuses_to_start(
    tmp_path: Path, content: dict[str, Any], message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ManifestError, match=None) as refused:
        create_app(trusted_settings("sqlite+aiosqlite:///unused.db", path, "enforce"))
    assert message in str(refused.value)
    assert str(path) in str(refused.value)


def test_patchbay_serve_refuses_a_bad_manifest_in_one_line(tmp_path: Path, repo_root: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(manifest(("Broken", "query", "query Broken { nope }"))))
    database = tmp_path / "patchbay.db"
    env = {
        "PATH": "/usr/bin:/bin",
        "PATCHBAY_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "PATCHBAY_TRUSTED_DOCUMENTS": str(path),
    }
    subprocess.run([PATCHBAY, "db", "upgrade"], env=env, cwd=repo_root, check=True)
    result = subprocess.run(
        [PATCHBAY, "serve", "--port", "1"],
        env=env,
        cwd=repo_root,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("patchbay: cannot serve: trusted documents manifest")
    assert "operation 'Broken'" in lines[-1]
    assert "Traceback" not in result.stderr


def test_the_manifest_command_builds_a_manifest_the_gateway_loads(
    tmp_path: Path, repo_root: Path
) -> None:
    (tmp_path / "me").write_text(ME)
    (tmp_path / "rename").write_text(RENAME)
    result = subprocess.run(
        [PATCHBAY, "documents", "manifest", *(str(tmp_path / n) for n in ("me", "rename"))],
        cwd=repo_root,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    built = json.loads(result.stdout)
    assert built == manifest(("Me", "query", ME), ("Rename", "mutation", RENAME))
    (tmp_path / "built.json").write_text(result.stdout)
    create_app(
        trusted_settings("sqlite+aiosqlite:///unused.db", tmp_path / "built.json", "enforce")
    )


def test_the_manifest_command_refuses_an_invalid_document(tmp_path: Path, repo_root: Path) -> None:
    (tmp_path / "bad.graphql").write_text("query Bad { nope }")
    result = subprocess.run(
        [PATCHBAY, "documents", "manifest", str(tmp_path / "bad.graphql")],
        cwd=repo_root,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 1
    assert "bad.graphql" in result.stderr and "nope" in result.stderr


async def test_client_sees_a_trusted_document_planned_from_the_first_request(
    database_url: str, db: Database, manifest_path: Path
) -> None:
    """Checked and planned at start: the first request already runs from its plan."""
    settings = trusted_settings(database_url, manifest_path, "enforce")
    app = create_app(settings)
    try:
        graphql = app.state.graphql
        assert graphql.planned.plan_for(ME, "Me") is not None
        assert graphql.planned.plan_for(ME, None) is not None
        assert graphql.planned.plan_for(RENAME, "Rename") is not None
    finally:
        await app.state.db.dispose()


@pytest.mark.parametrize(
    "params",
    [
        # a trusted document first, another after it: Starlette would read the last
        [("query", ME), ("query", FREEFORM)],
        [("query", FREEFORM), ("query", ME)],
        # `extensions` that mention persistedQuery without carrying one
        [("query", FREEFORM), ("extensions", '{"persistedQuery2": 1}')],
        [("query", FREEFORM), ("extensions", '{"x": "persistedQuery"}')],
        [("query", FREEFORM), ("extensions", "not json persistedQuery")],
        [("query", FREEFORM), ("operationName", "A"), ("operationName", "B")],
    ],
)
async def test_no_shape_of_a_get_runs_an_untrusted_document(
    database_url: str, db: Database, manifest_path: Path, params: list[tuple[str, str]]
) -> None:
    async with client_for(trusted_settings(database_url, manifest_path, "enforce")) as client:
        response = await client.get("/graphql", params=params, headers=bearer())
    assert response.status_code in (400, 403), response.text
    assert "data" not in response.json()


def test_a_body_with_an_operation_no_entry_lists_refuses_to_start(tmp_path: Path) -> None:
    """Its other operation would run by the body's id and an operationName."""
    body = "query Listed { viewer { __typename } } query Hidden { __schema { types { name } } }"
    path = tmp_path / "two.json"
    path.write_text(json.dumps(manifest(("Listed", "query", body))))
    with pytest.raises(ManifestError, match="Hidden"):
        create_app(trusted_settings("sqlite+aiosqlite:///unused.db", path, "enforce"))
