"""Documents past the limits (depth, aliases, tokens, nesting) are refused before they run."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from graphql.language import Lexer, Source, TokenKind

from db.database import Database
from tests.conftest import settings_for
from tests.factories import client_for, token
from tests.http_edge import post, post_json, top_level_codes

DEEPEST_VALID = """
{ prompts { ... on PromptConnection { edges { node { links { self { href } } } } } } }
"""


def nested_fields(levels: int) -> str:
    """A selection `{ f0 { f1 { ... } } }` with this many levels of fields."""
    names = [f"f{i}" for i in range(levels)]
    return "{ " + " { ".join(names) + " }" * levels


def aliases(count: int) -> str:
    return "{ " + " ".join(f"a{i}: __typename" for i in range(count)) + " }"


def depth_errors(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in body.get("errors") or [] if "maximum operation depth" in e["message"]]


async def test_query_deeper_than_10_is_refused(client: httpx.AsyncClient) -> None:
    # when: depth counts levels below the root field, so 12 levels of fields is depth 11
    deeper = await post(client, nested_fields(12), auth=token())
    at_limit = await post(client, nested_fields(11), auth=token())
    # then
    assert deeper.status_code == 200
    errors = depth_errors(deeper.json())
    assert len(errors) == 1
    assert "exceeds maximum operation depth of 10" in errors[0]["message"]
    assert errors[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "data" not in deeper.json()
    assert depth_errors(at_limit.json()) == []


async def test_depth_limit_refuses_an_otherwise_valid_query(
    database_url: str, db: Database
) -> None:
    # given: the deepest query the schema allows has depth 5
    async with client_for(settings_for(database_url, max_depth=4)) as client:
        # when
        body = await post_json(client, DEEPEST_VALID, auth=token())
    # then
    assert "data" not in body
    assert [e["message"] for e in body["errors"]] == [
        "'anonymous' exceeds maximum operation depth of 4"
    ]
    assert top_level_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]


async def test_the_deepest_valid_query_runs_by_default(client: httpx.AsyncClient) -> None:
    # when
    body = await post_json(client, DEEPEST_VALID, auth=token())
    # then
    assert "errors" not in body
    assert body["data"]["prompts"]["edges"]


async def test_more_than_30_aliases_are_refused(client: httpx.AsyncClient) -> None:
    # when
    over = await post_json(client, aliases(31))
    at_limit = await post_json(client, aliases(30))
    # then
    assert "data" not in over
    assert [e["message"] for e in over["errors"]] == ["31 aliases found. Allowed: 30"]
    assert top_level_codes(over) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "errors" not in at_limit
    assert len(at_limit["data"]) == 30


def count_tokens(document: str) -> int:
    lexer = Lexer(Source(document))
    count = 0
    while lexer.advance().kind != TokenKind.EOF:
        count += 1
    return count


def tags_mutation(total_tokens: int) -> str:
    """updatePrompt with a tag list that brings the document to exactly this many tokens."""

    def document(tags: int) -> str:
        return (
            'mutation { updatePrompt(id: "prm_acme_welcome", input: {tags: ['
            + " ".join(f'"tag-{i}"' for i in range(tags))
            + "]}) { __typename } }"
        )

    result = document(total_tokens - count_tokens(document(0)))
    assert count_tokens(result) == total_tokens
    return result


async def test_more_than_5000_tokens_are_refused(client: httpx.AsyncClient) -> None:
    # when
    refused = await post_json(client, tags_mutation(5001), auth=token())
    served = await post_json(client, tags_mutation(5000), auth=token())
    # then
    assert "data" not in refused
    assert [e["message"] for e in refused["errors"]] == [
        "Syntax Error: Document contains more than 5000 tokens. Parsing aborted."
    ]
    assert top_level_codes(refused) == ["GRAPHQL_PARSE_FAILED"]
    assert served["data"]["updatePrompt"]["__typename"] == "ValidationError"  # executed: TOO_MANY


@pytest.mark.parametrize(
    "query",
    [
        "{ viewer " + "{ a " * 2400 + "}" * 2401,
        "{ prompt(id: " + "[" * 2400 + "]" * 2400 + ") { __typename } }",
        "{ prompt(id: " + "{a: " * 1600 + "1" + "}" * 1600 + ") { __typename } }",
        "{ viewer { " + "... on Viewer { " * 2400 + "subject" + " }" * 2401,
    ],
    ids=["selections", "list-literal", "object-literal", "inline-fragments"],
)
async def test_deeply_nested_documents_are_refused(client: httpx.AsyncClient, query: str) -> None:
    # when
    body = await post_json(client, query, auth=token())
    # then
    assert "data" not in body
    assert top_level_codes(body) in (["GRAPHQL_PARSE_FAILED"], ["GRAPHQL_VALIDATION_FAILED"])


def spreads(count: int) -> str:
    """`count` spreads of one fragment: count + 1 selections as written."""
    return "{ " + "...F " * count + "} fragment F on Query { __typename }"


async def test_more_than_1000_written_selections_are_refused(client: httpx.AsyncClient) -> None:
    # when: 1000 selections (the cap), then 1001
    served = await post_json(client, spreads(999))
    refused = await post_json(client, spreads(1000))
    # then
    assert served["data"] == {"__typename": "Query"}
    assert "data" not in refused
    assert top_level_codes(refused) == ["GRAPHQL_VALIDATION_FAILED"]
    assert refused["errors"][0]["message"].startswith("The document has 1001 selections")


async def test_the_selections_cap_is_a_setting(database_url: str) -> None:
    async with client_for(settings_for(database_url, max_selections=10)) as client:
        served = await post_json(client, spreads(9))
        refused = await post_json(client, spreads(10))
    assert served["data"] == {"__typename": "Query"}
    assert refused["errors"][0]["message"].startswith("The document has 11 selections")
