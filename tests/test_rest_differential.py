"""The same update through GraphQL and through REST leaves the same stored row and the same
outcome, over generated inputs: the two fronts share their rules, not just their intent."""

from __future__ import annotations

from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from db.database import Database
from tests.conftest import reset_demo_data
from tests.factories import token
from tests.rest_requests import ALICES, ALICES_TTS, BOBS, CAROLS, PROMPTS, stored_prompt

UPDATE = """
mutation Update($id: ID!, $input: UpdatePromptInput!) {
  updatePrompt(id: $id, input: $input) {
    __typename
    ... on Error { code }
    ... on ValidationError { fields { field code message } }
    ... on ConflictError { fields { field code message } }
  }
}
"""
STATUS_OF = {
    "UpdatePromptSuccess": 200,
    "ValidationError": 400,
    "UnauthorizedError": 401,
    "ForbiddenError": 403,
    "NotFoundError": 404,
    "ConflictError": 409,
}
EXAMPLES = 40  # per database; each example resets the demo data twice
# Values the rules care about: taken names, the demo upload, limits, file names, whitespace.
TEXT = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "welcome",
            "hold-music",
            "New name",
            "req-welcome-v2",
            "no-such-upload",
            "b.ogg",
            "a.MP3",
            "notes.txt",
            "../x.mp3",
            "x" * 101,
            "x" * 201,
            "tab\tname",
        ]
    ),
    st.text(st.characters(exclude_categories=["Cs"]), max_size=30),
)
# Mostly values the rules accept, so that most examples write something.
VALID = st.sampled_from(["Fresh", "Second thoughts", "b", "New name", "x" * 100])


def value(valid: st.SearchStrategy[Any], other: st.SearchStrategy[Any] = TEXT) -> Any:
    return st.one_of(*[valid] * 8, other, st.none())


FIELDS = {
    "name": value(VALID),
    "title": value(VALID),
    "description": value(VALID),
    "content": value(VALID),
    "model": value(VALID),
    # GraphQL coerces a lone string to a list of one; JSON has no such rule: lists only
    "tags": value(st.lists(VALID, max_size=4), st.lists(TEXT, max_size=4)),
    "requestId": value(st.just("req-welcome-v2")),
    "fileName": value(st.sampled_from(["b.ogg", "a.MP3", "c.wav"])),
}
PATCHES = st.fixed_dictionaries({}, optional=FIELDS)


async def through_graphql(
    client: httpx.AsyncClient, prompt_id: str, patch: dict[str, Any], who: str
) -> tuple[int, Any]:
    response = await client.post(
        "/graphql",
        json={"query": UPDATE, "variables": {"id": prompt_id, "input": patch}},
        headers={"Authorization": f"Bearer {token(who)}"},
    )
    result = response.json()["data"]["updatePrompt"]
    fields = sorted((f["field"], f["code"]) for f in result.get("fields", []))
    return STATUS_OF[result["__typename"]], fields


async def through_rest(
    client: httpx.AsyncClient, prompt_id: str, patch: dict[str, Any], who: str
) -> tuple[int, Any]:
    response = await client.patch(
        f"{PROMPTS}/{prompt_id}", json=patch, headers={"Authorization": f"Bearer {token(who)}"}
    )
    body = response.json()
    fields = sorted((f["field"], f["code"]) for f in body.get("fields", []))
    return response.status_code, fields


def without_version(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != "updated_at"}


@given(
    patch=PATCHES,
    prompt_id=st.sampled_from([ALICES, ALICES_TTS, BOBS, CAROLS]),
    who=st.sampled_from(["alice", "alice", "bob"]),
)
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
async def test_graphql_and_rest_store_the_same_row(
    client: httpx.AsyncClient, db: Database, patch: dict[str, Any], prompt_id: str, who: str
) -> None:
    # given / when: the same patch on fresh demo data, once per front
    rows, outcomes = [], []
    for front in (through_graphql, through_rest):
        await reset_demo_data(db)
        outcomes.append(await front(client, prompt_id, patch, who))
        owned = prompt_id if prompt_id != CAROLS else ALICES
        rows.append(without_version(await stored_prompt(db, owned)))
    # then
    assert outcomes[0] == outcomes[1], patch
    assert rows[0] == rows[1], patch
