"""Enforce mode against generated documents: not one untrusted document runs.

hypothesis-graphql writes queries and mutations from the schema (valid ones and broken
ones); callers without the graphql:freeform scope send them free-form, over POST and GET.
Every answer must be the refusal, and no row may change.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any, cast

import hypothesis_graphql
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from starlette.applications import Starlette

from db.database import Database
from db.models import guardrail_pools, prompts
from gateway.app import create_app
from schema.schema import build_schema
from tests.conftest import reset_demo_data, settings_for
from tests.factories import asgi_client, token
from tests.test_trusted_documents import ME, RENAME, manifest

SDL = build_schema().as_str()
EXAMPLES = 120
CALLERS = {
    "alice": lambda: {"Authorization": f"Bearer {token('alice')}"},
    "reader": lambda: {"Authorization": f"Bearer {token('alice', scope='prompts:read')}"},
    "garbage": lambda: {"Authorization": "Bearer not-a-token"},
    "nobody": dict,
}


def documents() -> st.SearchStrategy[str]:
    kinds = [
        generate(SDL, mode=mode)
        for generate in (hypothesis_graphql.queries, hypothesis_graphql.mutations)
        for mode in (hypothesis_graphql.Mode.POSITIVE, hypothesis_graphql.Mode.NEGATIVE)
    ]
    return cast("st.SearchStrategy[str]", st.one_of(kinds))


@pytest.fixture(scope="module")
async def enforcing(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Starlette]:
    path = tmp_path_factory.mktemp("manifest") / "web.json"
    path.write_text(json.dumps(manifest(("Me", "query", ME), ("Rename", "mutation", RENAME))))
    app = create_app(
        settings_for(database_url, trusted_documents=str(path), trusted_documents_policy="enforce")
    )
    await reset_demo_data(app.state.db)
    yield app
    await app.state.db.dispose()


async def rows(db: Database) -> list[Any]:
    async with db.read() as conn:
        found = [*(await conn.execute(select(prompts))).all()]
        found += (await conn.execute(select(guardrail_pools))).all()
    return sorted(found, key=str)


@given(document=documents(), caller=st.sampled_from(sorted(CALLERS)), over_get=st.booleans())
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
async def test_enforce_runs_no_untrusted_document(
    enforcing: Starlette, document: str, caller: str, over_get: bool
) -> None:
    db: Database = enforcing.state.db
    before = await rows(db)
    async with asgi_client(enforcing) as client:
        headers = CALLERS[caller]()
        response = (
            await client.get("/graphql", params={"query": document}, headers=headers)
            if over_get
            else await client.post("/graphql", json={"query": document}, headers=headers)
        )
    assert response.status_code == 403, (document, response.text)
    body = response.json()
    assert "data" not in body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["TRUSTED_DOCUMENTS_ONLY"]
    assert await rows(db) == before


async def test_the_fuzzed_gateway_still_runs_its_trusted_documents(
    enforcing: Starlette,
) -> None:
    """The refusals above are the policy's, not a broken gateway's."""
    async with asgi_client(enforcing) as client:
        response = await client.post(
            "/graphql",
            json={"query": ME},
            headers={"Authorization": f"Bearer {token('alice')}"},
        )
    assert response.json()["data"] == {"viewer": {"subject": "alice"}}
