"""A document the server cannot run is answered with top-level errors that carry a code;
several operations need an operationName."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from db.seed import ACME_DEFAULT_POOL
from tests.factories import gql, token
from tests.http_edge import (
    PROMPT,
    SEEDED_TITLE,
    UPDATE_POOL,
    UPDATE_PROMPT,
    post,
    title_of_welcome,
    top_level_codes,
)


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        ("{ viewer ", None, "GRAPHQL_PARSE_FAILED"),
        ("query { viewer { ... on Viewer { subject } }", None, "GRAPHQL_PARSE_FAILED"),
        ("{ nope }", None, "GRAPHQL_VALIDATION_FAILED"),
        ("{ viewer { ... on Viewer { password } } }", None, "GRAPHQL_VALIDATION_FAILED"),
        (PROMPT, {"id": {"not": "an id"}}, "GRAPHQL_VALIDATION_FAILED"),
        (PROMPT, {}, "GRAPHQL_VALIDATION_FAILED"),
        (
            "query($first: Int!) { prompts(first: $first) { __typename } }",
            {"first": "ten"},
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (UPDATE_PROMPT, {"input": {"expectedUpdatedAt": "yesterday"}}, "GRAPHQL_VALIDATION_FAILED"),
        (
            UPDATE_PROMPT,
            {"input": {"expectedUpdatedAt": "2026-13-45T25:61:00Z"}},
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (
            'mutation { updatePrompt(id: "prm_acme_welcome", '
            'input: {expectedUpdatedAt: "not-a-date"}) { __typename } }',
            None,
            "GRAPHQL_VALIDATION_FAILED",
        ),
        (UPDATE_POOL, {"input": {"brandId": str(ACME_DEFAULT_POOL)}}, "GRAPHQL_VALIDATION_FAILED"),
        (
            "{ prompts(first: 99999999999999999999) { __typename } }",
            None,
            "GRAPHQL_VALIDATION_FAILED",
        ),
    ],
    ids=[
        "syntax",
        "unbalanced",
        "unknown-field",
        "unknown-nested-field",
        "wrong-variable-type",
        "missing-variable",
        "string-for-int",
        "malformed-datetime",
        "impossible-datetime",
        "malformed-datetime-literal",
        "brand-id-in-pool-input",
        "huge-int",
    ],
)
async def test_bad_documents_are_top_level_errors_with_a_code(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None, code: str
) -> None:
    # when
    response = await post(client, query, variables, auth=token())
    # then
    assert response.status_code == 200
    body = response.json()
    assert "data" not in body
    assert set(top_level_codes(body)) == {code}
    assert await title_of_welcome(client) == SEEDED_TITLE


TWO_OPERATIONS = "query A { viewer { __typename } } query B { viewer { __typename } }"


@pytest.mark.parametrize("method", ["POST", "GET"])
async def test_several_operations_without_an_operation_name_are_refused(
    client: httpx.AsyncClient, method: str
) -> None:
    # given: a document with two operations, and no operationName
    # when
    if method == "POST":
        response = await client.post("/graphql", json={"query": TWO_OPERATIONS})
    else:
        response = await client.get("/graphql", params={"query": TWO_OPERATIONS})
    # then: the GraphQL spec's request error, not the first operation run silently
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["message"] == (
        "Must provide operation name if query contains multiple operations."
    )
    assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"


async def test_several_operations_with_an_operation_name_run_that_one(
    client: httpx.AsyncClient,
) -> None:
    body = (
        await client.post("/graphql", json={"query": TWO_OPERATIONS, "operationName": "B"})
    ).json()
    assert body["data"] == {"viewer": {"__typename": "UnauthorizedError"}}


NULL_ID_WITH_DEFAULT = 'query Read($id: ID = "prm_acme_welcome") { prompt(id: $id) { __typename } }'


NULL_INPUT_WITH_DEFAULT = """
mutation Edit($input: UpdatePromptInput = {}) {
  updatePrompt(id: "prm_acme_welcome", input: $input) { __typename } }
"""


@pytest.mark.parametrize(
    ("document", "variables"),
    [(NULL_ID_WITH_DEFAULT, {"id": None}), (NULL_INPUT_WITH_DEFAULT, {"input": None})],
    ids=["id", "input"],
)
async def test_null_for_a_non_null_argument_is_the_callers_error(
    client: httpx.AsyncClient, document: str, variables: dict[str, None]
) -> None:
    # when: twice, so the second goes through the fast path once it is learnt
    for _ in range(2):
        body = await gql(client, document, variables, auth=token("alice"))
        # then: a GraphQL validation error, not a masked internal one (and nothing logged:
        # the autouse fixture fails the test on a stack trace)
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "non-null" in body["errors"][0]["message"]
