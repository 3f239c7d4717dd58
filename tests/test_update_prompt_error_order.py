"""When an updatePrompt breaks several rules, the contract's order decides which error the
caller gets, with that error's own details."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from db.database import Database
from tests.factories import gql, token
from tests.updating_prompts import AFTER_HOURS, STALE, WELCOME, field_codes, stored, update

ORDER = [
    pytest.param(
        {"user": "alice", "scope": "prompts:read", "ttl": -3600},
        "prm_nope",
        {"name": ""},
        "UnauthorizedError",
        id="unauthorized-before-missing-scope",
    ),
    pytest.param(
        {"user": "alice", "scope": "prompts:read"},
        "prm_nope",
        {"name": ""},
        "ForbiddenError",
        id="missing-scope-before-invalid-input",
    ),
    pytest.param(
        {"user": "alice"},
        "prm_nope",
        {"name": "", "requestId": "req-nope"},
        "ValidationError",
        id="invalid-input-before-not-found",
    ),
    pytest.param(
        {"user": "bob"},
        WELCOME,
        {"name": "", "expectedUpdatedAt": STALE},
        "ValidationError",
        id="invalid-input-before-not-owner",
    ),
    pytest.param(
        {"user": "carol"},
        WELCOME,
        {"title": "Mine"},
        "NotFoundError",
        id="not-found-before-not-owner",
    ),
    pytest.param(
        {"user": "carol"},
        WELCOME,
        {"requestId": "req-nope"},
        "NotFoundError",
        id="not-found-before-unknown-request",
    ),
    pytest.param(
        {"user": "bob"},
        WELCOME,
        {"requestId": "req-nope"},
        "ForbiddenError",
        id="not-owner-before-unknown-request",
    ),
    pytest.param(
        {"user": "bob"},
        WELCOME,
        {"name": "hold-music", "expectedUpdatedAt": STALE},
        "ForbiddenError",
        id="not-owner-before-conflict",
    ),
    pytest.param(
        {"user": "alice"},
        WELCOME,
        {"requestId": "req-nope", "expectedUpdatedAt": STALE},
        "ValidationError",
        id="unknown-request-before-stale",
    ),
    pytest.param(
        {"user": "alice"},
        WELCOME,
        {"requestId": "req-nope", "name": "hold-music"},
        "ValidationError",
        id="unknown-request-before-name-taken",
    ),
    pytest.param(
        {"user": "bob"},
        AFTER_HOURS,
        {"fileName": "late.mp3"},
        "ForbiddenError",
        id="not-owner-before-file-without-asset",
    ),
    pytest.param(
        {"user": "alice"},
        AFTER_HOURS,
        {"fileName": "late.mp3", "expectedUpdatedAt": STALE},
        "ValidationError",
        id="file-without-asset-before-stale",
    ),
    pytest.param(
        {"user": "alice"},
        WELCOME,
        {"name": "hold-music", "expectedUpdatedAt": STALE},
        "ConflictError",
        id="conflict-last",
    ),
]


@pytest.mark.parametrize(("caller", "prompt_id", "changes", "winner"), ORDER)
async def test_the_earlier_rule_wins_when_an_input_breaks_two(
    client: httpx.AsyncClient,
    db: Database,
    caller: dict[str, Any],
    prompt_id: str,
    changes: dict[str, Any],
    winner: str,
) -> None:
    before = await stored(db, prompt_id)
    result = await update(client, prompt_id, changes, auth=token(**caller))
    assert result["__typename"] == winner, result
    assert await stored(db, prompt_id) == before


async def test_the_winning_error_carries_its_own_details(client: httpx.AsyncClient) -> None:
    # scope before input: the missing scope is named
    scope = await update(client, "prm_nope", {"name": ""}, auth=token(scope="prompts:read"))
    assert scope["requiredScope"] == "prompts:write"
    # input before id: the input rule is listed, not the unknown upload
    invalid = await update(client, "prm_nope", {"name": "", "requestId": "req-nope"})
    assert field_codes(invalid) == [("name", "TOO_SHORT")]
    # owner before upload: no scope is named, it is about ownership
    owner = await update(client, WELCOME, {"requestId": "req-nope"}, auth=token("bob"))
    assert owner["requiredScope"] is None
    # upload before version
    upload = await update(client, WELCOME, {"requestId": "req-nope", "expectedUpdatedAt": STALE})
    assert field_codes(upload) == [("requestId", "UNKNOWN")]
    # version last
    stale = await update(client, WELCOME, {"title": "Late", "expectedUpdatedAt": STALE})
    assert (stale["__typename"], field_codes(stale)) == (
        "ConflictError",
        [("expectedUpdatedAt", "STALE")],
    )


WITH_REQUEST_ID = """
mutation Attach($id: ID!, $requestId: String) {
  updatePrompt(id: $id, input: {requestId: $requestId}) {
    __typename ... on ValidationError { fields { field code } } ... on Error { code } } }
"""


@pytest.mark.parametrize("request_id", ["", "r" * 129, "req\x00"], ids=["empty", "long", "nul"])
@pytest.mark.parametrize(
    ("user", "prompt_id", "expected"),
    [
        ("alice", "prm_missing", "NotFoundError"),  # NOT_FOUND comes before requestId
        ("bob", "prm_acme_welcome", "ForbiddenError"),  # so does the owner rule
        ("alice", "prm_acme_welcome", "ValidationError"),  # then UNKNOWN
    ],
)
async def test_an_unusable_request_id_is_checked_after_the_rows_own_rules(
    client: httpx.AsyncClient, request_id: str, user: str, prompt_id: str, expected: str
) -> None:
    body = await gql(
        client, WITH_REQUEST_ID, {"id": prompt_id, "requestId": request_id}, auth=token(user)
    )
    result = body["data"]["updatePrompt"]
    assert result["__typename"] == expected
    if expected == "ValidationError":
        assert result["fields"] == [{"field": "requestId", "code": "UNKNOWN"}]
