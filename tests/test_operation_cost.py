"""Operation cost: what each document is charged, as `extensions.cost` reports it, on both
execution paths (the first request runs on Strawberry's executor, the next from its plan),
and the cap that refuses a costly operation before anything runs."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from db.database import Database
from db.models import prompts
from gateway.app import create_app
from tests.conftest import settings_for
from tests.factories import asgi_client, client_for, token

PAGE = """query Page($n: Int) { prompts(first: $n) { ... on PromptConnection {
  edges { cursor node { id title tags links { self { href } } } } pageInfo { hasNextPage } } } }"""
FLAT = """query Flat($n: Int) { prompts(first: $n) {
  ... on PromptConnection { edges { cursor node { id name tags } } } } }"""
FLAT_SKIP = """query Flat($n: Int, $node: Boolean!) { prompts(first: $n) {
  ... on PromptConnection { edges { cursor node @include(if: $node) { id name tags } } } } }"""
UPDATE = """mutation Rename($id: ID!, $title: String) {
  updatePrompt(id: $id, input: {title: $title}) {
    ... on UpdatePromptSuccess { prompt { id title } }
    ... on ValidationError { fields { field } } } }"""

BULK = """mutation Bulk($items: [UpdatePromptItem!]!) {
  updatePrompts(items: $items, dryRun: true) { ... on UpdatePromptsPayload {
    writtenCount results { ... on UpdatePromptSuccess { prompt { id } } } } } }"""
ITEMS = [
    {"id": "prm_acme_welcome", "input": {"title": "One"}},
    {"id": "prm_acme_after_hours", "input": {"title": "Two"}},
    {"id": "prm_acme_welcome", "input": {"title": "Three"}},
]

# (document, variables, requested cost, actual cost with the demo data: acme has 3 prompts)
COSTS = [
    pytest.param("{ viewer { __typename } }", None, 1, 1, id="viewer"),
    pytest.param(
        "{ viewer { ... on Viewer { organization { id name } } } }", None, 2, 2, id="nested"
    ),
    pytest.param(
        '{ prompt(id: "prm_acme_welcome") { ... on Prompt { id title links { self { href } } } } }',
        None,
        3,
        3,
        id="one-prompt",
    ),
    # the page: 2 (connection, pageInfo) + n x 4 (edge, node, links, self); 3 came back
    pytest.param(PAGE, {"n": 50}, 2 + 50 * 4, 2 + 3 * 4, id="page-of-50"),
    pytest.param(PAGE, {}, 2 + 20 * 4, 2 + 3 * 4, id="page-default-20"),
    pytest.param(PAGE, {"n": 1000}, 2 + 100 * 4, 2 + 3 * 4, id="page-capped-at-100"),
    # nothing costly below a node (counted without a walk per edge); a node left out by
    # @include is not counted (a document with directives runs on Strawberry's path only)
    pytest.param(FLAT, {"n": 50}, 1 + 50 * 2, 1 + 3 * 2, id="flat-page"),
    pytest.param(FLAT_SKIP, {"n": 50, "node": True}, 1 + 50 * 2, 1 + 3 * 2, id="flat-include"),
    pytest.param(FLAT_SKIP, {"n": 50, "node": False}, 1 + 50 * 2, 1 + 3, id="flat-skipped"),
    pytest.param(
        "{ a: guardrailPools(first: 10) { ...Ids } b: guardrailPools(first: 5) { ...Ids } }"
        " fragment Ids on GuardrailPoolConnectionResult {"
        " ... on GuardrailPoolConnection { edges { node { id } } } }",
        None,
        (1 + 10 * 2) + (1 + 5 * 2),
        (1 + 2 * 2) * 2,
        id="two-pages",
    ),
    # a mutation root field is 10; its success's prompt 1 (the dearest union member)
    pytest.param(UPDATE, {"id": "prm_acme_welcome", "title": "Hi"}, 11, 11, id="mutation"),
    pytest.param(UPDATE, {"id": "prm_acme_welcome", "title": ""}, 11, 11, id="mutation-refused"),
    # a bulk mutation counts per item: 10 each, and each result (1) with its prompt (1)
    pytest.param(BULK, {"items": ITEMS}, 3 * 10 + 3 * 2, 3 * 10 + 3 * 2, id="bulk-of-3"),
    pytest.param(BULK, {"items": ITEMS[:1]}, 10 + 2, 10 + 2, id="bulk-of-1"),
]


async def post(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None, who: str = "alice"
) -> httpx.Response:
    return await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token(who)}"},
    )


@pytest.mark.parametrize(("query", "variables", "requested", "actual"), COSTS)
async def test_each_response_reports_its_requested_and_actual_cost(
    database_url: str,
    db: Database,
    query: str,
    variables: dict[str, Any] | None,
    requested: int,
    actual: int,
) -> None:
    # given a gateway with the default settings
    app = create_app(settings_for(database_url))
    planned = app.state.graphql.planned
    async with asgi_client(app) as client:
        # when the document runs twice: on Strawberry's executor, then from its plan
        first = await post(client, query, variables)
        runs = planned.runs
        second = await post(client, query, variables)
    await app.state.db.dispose()
    # the second answer came from the plan (a document of two root fields, or with
    # directives, is never planned)
    one_root_field = "b: guardrailPools" not in query and "@include" not in query
    assert (planned.plan_for(query, None) is not None) == one_root_field
    assert planned.runs == runs + one_root_field
    # then both report the same cost, and the data is the same
    expected = {"requestedQueryCost": requested, "actualQueryCost": actual}
    assert first.status_code == second.status_code == 200
    assert first.json()["extensions"]["cost"] == expected
    assert second.json() == first.json() | {"data": second.json()["data"]}
    assert second.json()["extensions"]["cost"] == expected


async def test_a_get_query_reports_its_cost(database_url: str, db: Database) -> None:
    async with client_for(settings_for(database_url)) as client:
        response = await client.get(
            "/graphql",
            params={"query": "{ viewer { ... on Viewer { organization { id } } } }"},
            headers={"Authorization": f"Bearer {token()}"},
        )
    assert response.json()["extensions"]["cost"] == {
        "requestedQueryCost": 2,
        "actualQueryCost": 2,
    }


async def test_an_operation_over_the_maximum_cost_is_refused_before_it_runs(
    database_url: str, db: Database
) -> None:
    # given a cap of 10 points: a mutation costs 11
    settings = settings_for(database_url, max_operation_cost=10)
    async with client_for(settings) as client:
        # when alice renames her prompt, twice (the second would run from a plan)
        responses = [
            await post(client, UPDATE, {"id": "prm_acme_welcome", "title": "Never"})
            for _ in range(2)
        ]
        # and a cheap read still runs
        cheap = await post(client, "{ viewer { __typename } }", None)
    # then each is a request error naming the cost and the limit, and nothing was written
    for response in responses:
        assert response.status_code == 400
        body = response.json()
        assert "data" not in body
        error = body["errors"][0]
        assert error["extensions"]["code"] == "OPERATION_TOO_COSTLY"
        assert error["extensions"]["maximumCost"] == 10
        assert error["extensions"]["cost"]["requestedQueryCost"] == 11
        assert "11" in error["message"] and "10" in error["message"]
    async with db.read() as conn:
        title = (
            await conn.execute(select(prompts.c.title).where(prompts.c.id == "prm_acme_welcome"))
        ).scalar_one()
    assert title == "Welcome"
    assert cheap.status_code == 200 and cheap.json()["data"]["viewer"]["__typename"] == "Viewer"


async def test_a_page_size_from_a_variable_is_costed_per_request(
    database_url: str, db: Database
) -> None:
    # given a cap that a page of 20 fits under and a page of 100 does not
    settings = settings_for(database_url, max_operation_cost=100)
    async with client_for(settings) as client:
        small = await post(client, PAGE, {"n": 20})
        large = await post(client, PAGE, {"n": 100})  # the same document, from its plan
    assert small.status_code == 200
    assert large.status_code == 400
    assert large.json()["errors"][0]["extensions"]["code"] == "OPERATION_TOO_COSTLY"


async def test_each_page_size_is_costed_as_given_whatever_came_before(
    database_url: str, db: Database
) -> None:
    # given one document, run again and again with page sizes given in every way (its
    # requested cost is kept per value, and a value kept must not answer for another)
    sizes: list[tuple[dict[str, Any], int]] = [
        ({"n": 50}, 50),
        ({"n": 5}, 5),
        ({"n": 50}, 50),
        ({"n": 5.0}, 5),  # GraphQL's Int accepts 5.0
        ({}, 20),  # absent: the default
        ({"n": None}, 20),  # null: the default
        ({"n": 1000}, 100),  # capped
        ({"n": 5}, 5),
    ]
    async with client_for(settings_for(database_url)) as client:
        # when each is sent
        costs = [
            (await post(client, PAGE, variables)).json()["extensions"]["cost"]
            for variables, _ in sizes
        ]
    # then each is charged for its own page size
    assert [c["requestedQueryCost"] for c in costs] == [2 + n * 4 for _, n in sizes]


async def test_cost_reporting_can_be_switched_off(database_url: str, db: Database) -> None:
    settings = settings_for(database_url, operation_cost=False)
    async with client_for(settings) as client:
        responses = [await post(client, PAGE, {"n": 5}) for _ in range(2)]
    for response in responses:
        assert "extensions" not in response.json()


EDGES = (
    " fragment E on PromptConnectionResult { ... on PromptConnection { edges { node { id } } } }"
)


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        pytest.param(
            "query Page($n: Int = 100) { prompts(first: $n) { ...E } }" + EDGES, {}, id="default"
        ),
        pytest.param(
            "query Page($n: Int) { prompts(first: $n) { ...E } }" + EDGES, {"n": 100.0}, id="float"
        ),
    ],
)
async def test_a_page_size_from_a_default_or_a_float_is_costed_as_it_runs(
    database_url: str, db: Database, query: str, variables: dict[str, Any]
) -> None:
    # a cap that a page of 20 fits under and a page of 100 does not: both forms ask for 100
    settings = settings_for(database_url, max_operation_cost=50)
    async with client_for(settings) as client:
        answers = [await post(client, query, variables) for _ in range(2)]  # then its plan
    for answer in answers:
        assert answer.status_code == 400
        assert answer.json()["errors"][0]["extensions"]["code"] == "OPERATION_TOO_COSTLY"
