"""Query abuse: documents built to cost the server, or to make it talk about its schema.

test_document_limits.py covers the plain caps (depth, aliases, tokens, one level of each);
here are the ways around them: fragments that spread each other in a cycle, twice per level or
hundreds deep, aliases and depth hidden in fragments, documents far over the token cap, caps
read from the environment, and what production settings show a caller who guesses at field names.
Each answer must be a top-level error (HTTP 200, `data: null`), quick, with nothing executed.
"""

from __future__ import annotations

import gc
import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import schema.limits
from db.database import Database
from gateway.settings import Settings
from tests.conftest import settings_for
from tests.factories import TEST_SECRET, client_for, token

TITLE = '{ prompt(id: "prm_acme_welcome") { ... on Prompt { title } } }'
SEEDED_TITLE = "Welcome"
SET_TITLE = """
mutation SetTitle($title: String) {
  updatePrompt(id: "prm_acme_welcome", input: {title: $title}) {
    __typename ... on UpdatePromptSuccess { prompt { title } }
  }
}
"""
SET_INPUT = """
mutation SetInput($input: UpdatePromptInput!) {
  updatePrompt(id: "prm_acme_welcome", input: $input) { __typename }
}
"""
INTROSPECTION = "{ __schema { types { name } } }"
# The deepest query the schema allows (depth 5), with every level behind a fragment spread.
DEEPEST_THROUGH_FRAGMENTS = """
query { prompts { ...Page } }
fragment Page on PromptConnectionResult { ... on PromptConnection { edges { ...Edge } } }
fragment Edge on PromptEdge { node { ...Links } }
fragment Links on Prompt { links { self { href } } }
"""
CIRCULAR = {
    "self": "query { ...A } fragment A on Query { __typename ...A }",
    "pair": "query { ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
    "triangle": (
        "query { ...A } fragment A on Query { ...B } fragment B on Query { ...C } "
        "fragment C on Query { viewer { __typename } ...A }"
    ),
    "through-a-field": "query { ...A } fragment A on Query { viewer { ...A } }",
    "inside-an-inline-fragment": (
        "query { ...A } fragment A on Query { ... on Query { ... { ...A } } }"
    ),
    "unused": "{ __typename } fragment A on Query { ...B } fragment B on Query { ...A }",
    "in-a-mutation": (
        'mutation { ...M } fragment M on Mutation { updatePrompt(id: "prm_acme_welcome", '
        'input: {title: "Circular"}) { __typename } ...M }'
    ),
}
# A document a bit over 5000 tokens is answered by the token cap; one far over it must be too,
# without reading it all. Each repeats one thing 50,000 times.
FIFTY_THOUSAND = 50_000
REPEATED = {
    "field": "{ " + "__typename " * FIFTY_THOUSAND + "}",
    "aliased-field": "{ " + " ".join(f"a{i}: __typename" for i in range(FIFTY_THOUSAND)) + " }",
    "fragment-spread": "{ " + "...F " * FIFTY_THOUSAND + "} fragment F on Query { __typename }",
    "nested-field-of-a-mutation": (
        'mutation { updatePrompt(id: "prm_acme_welcome", input: {title: "Repeated"}) { '
        + "__typename " * FIFTY_THOUSAND
        + "} }"
    ),
}
FAST = 0.5  # seconds: "answered in well under a second", end to end through the ASGI app
# The costliest document under the token cap: graphql-core's budget for comparing fields
# aborts its validation. Parsing 5000 tokens and that budget take ~0.3 s here.
LARGEST_UNDER_THE_CAP = 1.0

MEASURED: dict[str, float] = {}  # slowest answer per property, printed at the end (pytest -s)


# --- helpers -------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def report_measurements() -> Iterator[None]:
    yield
    for name, seconds in sorted(MEASURED.items()):
        print(f"\n{name}: slowest {seconds * 1000:.1f} ms")
    MEASURED.clear()  # pytest may set this fixture up again, once per database


async def timed_post(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    measure: str | None = None,
    anonymous: bool = False,
) -> tuple[dict[str, Any], float]:
    """POST as alice with every scope (or with no credential at all): the body (HTTP 200
    asserted) and the seconds from sending the request to having the response (the JSON to
    send is encoded before)."""
    content = json.dumps({"query": query, "variables": variables}).encode()
    headers = {"Content-Type": "application/json"}
    if not anonymous:
        headers["Authorization"] = f"Bearer {token()}"
    # A full garbage collection of the suite's own heap that comes due meanwhile is no
    # document's cost (tests/test_event_loop_budget.py measures the same way).
    gc.disable()
    started = time.perf_counter()
    try:
        response = await client.post("/graphql", content=content, headers=headers)
    finally:
        elapsed = time.perf_counter() - started
        gc.enable()
    assert response.status_code == 200, response.text
    if measure is not None:
        MEASURED[measure] = max(MEASURED.get(measure, 0.0), elapsed)
    body: dict[str, Any] = response.json()
    return body, elapsed


async def post(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None
) -> dict[str, Any]:
    body, _ = await timed_post(client, query, variables)
    return body


def codes(body: dict[str, Any]) -> set[str]:
    return {error["extensions"]["code"] for error in body.get("errors") or []}


def messages(body: dict[str, Any]) -> list[str]:
    return [error["message"] for error in body.get("errors") or []]


def assert_refused(body: dict[str, Any], code: str = "GRAPHQL_VALIDATION_FAILED") -> None:
    assert "data" not in body, body
    assert codes(body) == {code}, body


def aliases(count: int, start: int = 0, field: str = "__typename") -> str:
    return " ".join(f"a{i}: {field}" for i in range(start, start + count))


def fan_out(levels: int, leaf: str = "__typename") -> str:
    """Fragment i spreads fragment i+1 twice: 2^levels expansions of `leaf` in ~8*levels tokens."""
    fragments = [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)]
    return " ".join(["query { ...F0 }", *fragments, f"fragment F{levels} on Query {{ {leaf} }}"])


async def warm_up(client: httpx.AsyncClient) -> None:
    """The first request of an app pays for imports and connections; timings start after it."""
    await post(client, "{ __typename }")


async def title_of_welcome(client: httpx.AsyncClient) -> str:
    title: str = (await post(client, TITLE))["data"]["prompt"]["title"]
    return title


# --- circular and runaway fragments ----------------------------------------------------------


@pytest.mark.parametrize("query", CIRCULAR.values(), ids=CIRCULAR.keys())
async def test_circular_fragments_are_a_validation_error(
    client: httpx.AsyncClient, query: str
) -> None:
    # given
    await warm_up(client)
    # when
    body, elapsed = await timed_post(client, query, measure="circular fragments")
    # then
    assert_refused(body)
    assert any(m.startswith("Cannot spread fragment") for m in messages(body)), body
    assert elapsed < FAST
    assert await title_of_welcome(client) == SEEDED_TITLE


@pytest.mark.parametrize(
    "query",
    [
        "query { ...F0 } "
        + " ".join(f"fragment F{i} on Query {{ ...F{(i + 1) % 600} }}" for i in range(600)),
        "query { ...F0 } "
        + " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(599))
        + " fragment F599 on Query { __typename }",
        "query { ...F0 } "
        + " ".join(f"fragment F{i} on Query {{ viewer {{ ...F{i + 1} }} }}" for i in range(450))
        + " fragment F450 on Query { __typename }",
    ],
    ids=["ring-of-600", "chain-of-600", "chain-of-450-nesting-a-level-each"],
)
async def test_hundreds_of_chained_fragments_are_a_validation_error(
    client: httpx.AsyncClient, query: str
) -> None:
    """Under the token cap; Strawberry's depth rule recursed per spread: RecursionError."""
    # given
    await warm_up(client)
    # when
    body, elapsed = await timed_post(client, query, measure="chains of 450-600 fragments")
    # then
    assert_refused(body)
    assert not any("recursion" in m.lower() for m in messages(body)), body
    assert elapsed < FAST


async def test_a_spread_of_an_undefined_fragment_is_named_in_the_error(
    client: httpx.AsyncClient,
) -> None:
    """Strawberry's depth rule raised KeyError here, shown to the caller as `'Missing'`."""
    # when
    body = await post(client, "query { viewer { ...Missing } }")
    # then
    assert_refused(body)
    assert messages(body) == ["Unknown fragment 'Missing'."]


async def test_fragments_spread_twice_per_level_are_measured_once(
    client: httpx.AsyncClient,
) -> None:
    """60 levels: 2^60 expansions if each spread were followed. Strawberry's rules did that,
    and 20 levels (~200 tokens) took 7 s of the event loop."""
    # given
    await warm_up(client)
    # when
    body, elapsed = await timed_post(client, fan_out(60), measure="fragment fan-out, 60 levels")
    # then: a valid document, executed once
    assert body["data"] == {"__typename": "Query"}
    assert elapsed < FAST


async def test_aliases_multiplied_by_fragment_spreads_are_counted(
    client: httpx.AsyncClient,
) -> None:
    # given
    await warm_up(client)
    # when
    body, elapsed = await timed_post(
        client, fan_out(60, leaf="a: __typename"), measure="alias fan-out, 2^60 aliases"
    )
    # then
    assert_refused(body)
    assert messages(body) == [f"{2**60} aliases found. Allowed: 30"]
    assert elapsed < FAST


# --- aliases and depth hidden in fragments ---------------------------------------------------


@pytest.mark.parametrize(
    ("query", "found"),
    [
        (f"query {{ ...F }} fragment F on Query {{ {aliases(31)} }}", 31),
        (  # 15 aliases in a fragment used under two aliased fields: 1 + 15 + 15
            "{ viewer { ...F } second: viewer { ...F } } "
            f"fragment F on ViewerResult {{ {aliases(15)} }}",
            31,
        ),
        (  # split between an inline fragment, a named fragment and a nested one
            f"{{ ... on Query {{ {aliases(10)} }} ...F }} "
            f"fragment F on Query {{ {aliases(10, 10)} viewer {{ ...G }} }} "
            f"fragment G on ViewerResult {{ {aliases(11, 20)} }}",
            31,
        ),
        (  # in a mutation, around a write
            'mutation { ...M } fragment M on Mutation { updatePrompt(id: "prm_acme_welcome", '
            f'input: {{title: "Aliased"}}) {{ ...R }} }} '
            f"fragment R on UpdatePromptResult {{ {aliases(31)} }}",
            31,
        ),
    ],
    ids=["one-fragment", "fragment-used-twice", "inline-named-and-nested", "mutation"],
)
async def test_aliases_inside_fragments_count(
    client: httpx.AsyncClient, query: str, found: int
) -> None:
    # when
    body = await post(client, query)
    # then
    assert_refused(body)
    assert messages(body) == [f"{found} aliases found. Allowed: 30"]
    assert await title_of_welcome(client) == SEEDED_TITLE


async def test_thirty_aliases_spread_over_fragments_are_served(client: httpx.AsyncClient) -> None:
    # when
    body = await post(
        client,
        f"{{ ...F viewer {{ ...G }} }} fragment F on Query {{ {aliases(15)} }} "
        f"fragment G on ViewerResult {{ {aliases(15, 15)} }}",
    )
    # then
    assert "errors" not in body
    assert len(body["data"]) == 16  # 15 aliases and viewer, which holds the other 15
    assert len(body["data"]["viewer"]) == 15


async def test_depth_hidden_in_fragments_counts(client: httpx.AsyncClient) -> None:
    # given: twelve levels of fields, four per fragment (unknown fields: depth is checked first)
    query = (
        "query Deep { ...A } "
        "fragment A on Query { f0 { f1 { f2 { f3 { ...B } } } } } "
        "fragment B on Query { f4 { f5 { f6 { f7 { ...C } } } } } "
        "fragment C on Query { f8 { f9 { f10 { f11 } } } }"
    )
    # when
    body = await post(client, query)
    # then
    assert_refused(body)
    assert messages(body)[0] == "'Deep' exceeds maximum operation depth of 10"


@pytest.mark.parametrize(("max_depth", "served"), [(4, False), (5, True)])
async def test_depth_through_fragments_is_capped_by_settings(
    database_url: str, db: Database, max_depth: int, served: bool
) -> None:
    # given
    async with client_for(settings_for(database_url, max_depth=max_depth)) as client:
        # when
        body = await post(client, DEEPEST_THROUGH_FRAGMENTS)
    # then
    if served:
        assert "errors" not in body
        assert body["data"]["prompts"]["edges"]
    else:
        assert_refused(body)
        assert messages(body) == ["'anonymous' exceeds maximum operation depth of 4"]


# --- aliases under introspection fields -----------------------------------------------------

# 300 aliased `types` under one `__schema`, sent with no credential: before, the alias cap did
# not look below `__` fields, and this was served: 3.7 MB and ~1.2 s of blocked event loop.
THREE_HUNDRED_INTROSPECTION_ALIASES = (
    "{ __schema { " + " ".join(f"t{i}: types{{name}}" for i in range(300)) + " } }"
)
# Twelve levels of fields below an introspection field: over the depth cap if they counted.
OF_TYPE_8 = "ofType { " * 8 + "name" + " }" * 8


@pytest.mark.parametrize(
    "query",
    [
        f"{{ __schema {{ {aliases(31, field='queryType { name }')} }} }}",
        f'{{ __type(name: "Query") {{ {aliases(31, field="name")} }} }}',
        (  # split between both, and between an introspection field and a plain one
            f"{{ __schema {{ {aliases(10, field='queryType { name }')} }} "
            f'__type(name: "Query") {{ {aliases(10, 10, "name")} }} {aliases(11, 20)} }}'
        ),
        (  # deep inside an introspection field
            f"{{ __schema {{ types {{ fields {{ type {{ {aliases(31, field='name')} }} }} }} }} }}"
        ),
        (
            "{ __schema { ...S } } "
            f"fragment S on __Schema {{ {aliases(31, field='queryType { name }')} }}"
        ),
        (  # a fragment on __Type spread below __schema, and again below __type
            "{ __schema { types { ...T } } "
            '__type(name: "Query") { ...T } a30: __typename } '
            f"fragment T on __Type {{ {aliases(15, field='name')} }}"
        ),
    ],
    ids=[
        "__schema",
        "__type",
        "__schema-__type-and-query",
        "nested-in-__schema",
        "fragment-on-__Schema",
        "fragment-on-__Type-spread-twice",
    ],
)
async def test_aliases_under_introspection_fields_count(
    client: httpx.AsyncClient, query: str
) -> None:
    # when
    body = await post(client, query)
    # then
    assert_refused(body)
    assert messages(body) == ["31 aliases found. Allowed: 30"]


async def test_thirty_aliases_under_introspection_fields_are_served(
    client: httpx.AsyncClient,
) -> None:
    # when
    body = await post(
        client,
        '{ __schema { ...S } __type(name: "Query") { ...T } } '
        f"fragment S on __Schema {{ {aliases(15, field='queryType { name }')} }} "
        f"fragment T on __Type {{ {aliases(15, 15, 'name')} }}",
    )
    # then
    assert "errors" not in body
    assert body["data"]["__schema"] == {f"a{i}": {"name": "Query"} for i in range(15)}
    assert body["data"]["__type"] == {f"a{i}": "Query" for i in range(15, 30)}


async def test_three_hundred_aliases_under_introspection_are_refused_fast(
    client: httpx.AsyncClient,
) -> None:
    # given
    await warm_up(client)
    # when
    body, elapsed = await timed_post(
        client,
        THREE_HUNDRED_INTROSPECTION_ALIASES,
        measure="300 aliases under __schema, no credential",
        anonymous=True,
    )
    # then
    assert_refused(body)
    assert messages(body) == ["300 aliases found. Allowed: 30"]
    assert len(json.dumps(body)) < 1000
    assert elapsed < FAST


@pytest.mark.parametrize(
    "query",
    [
        f'{{ __type(name: "Query") {{ fields {{ type {{ {OF_TYPE_8} }} }} }} }}',
        f"{{ __schema {{ ...S }} }} fragment S on __Schema "
        f"{{ queryType {{ fields {{ type {{ {OF_TYPE_8} }} }} }} }}",
    ],
    ids=["__type", "fragment-on-__Schema"],
)
async def test_introspection_fields_still_add_no_depth(
    client: httpx.AsyncClient, query: str
) -> None:
    """Counting aliases below `__` fields leaves depth as it was: they end a branch."""
    # when
    body = await post(client, query)
    # then
    assert "errors" not in body, body
    assert body["data"]


# --- far over the token cap ------------------------------------------------------------------


@pytest.mark.parametrize("query", REPEATED.values(), ids=REPEATED.keys())
async def test_fifty_thousand_repetitions_are_refused_fast(
    client: httpx.AsyncClient, query: str
) -> None:
    # given
    await warm_up(client)
    # when
    body, elapsed = await timed_post(client, query, measure="50,000 repetitions")
    # then
    # (each is over 100,000 characters too: that cap refuses it before any lexing)
    assert_refused(body, "GRAPHQL_PARSE_FAILED")
    assert messages(body) == [
        "Syntax Error: Document contains more than 100000 characters. Parsing aborted."
    ]
    assert elapsed < FAST
    assert await title_of_welcome(client) == SEEDED_TITLE


async def test_the_costliest_document_under_the_token_cap_is_answered_fast(
    client: httpx.AsyncClient,
) -> None:
    # given: 4998 times the same field, 5000 tokens with the braces
    await warm_up(client)
    # when
    body, elapsed = await timed_post(
        client, "{ " + "__typename " * 4998 + "}", measure="4998 repeated fields (at the cap)"
    )
    # then: graphql-core's comparison budget gives up; either way nothing is slow
    assert body.get("data") in (None, {"__typename": "Query"})
    assert codes(body) <= {"GRAPHQL_VALIDATION_FAILED"}
    assert elapsed < LARGEST_UNDER_THE_CAP


# --- caps are settings -----------------------------------------------------------------------


async def test_caps_come_from_the_environment(
    database_url: str, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given
    for name, value in {
        "PATCHBAY_DATABASE_URL": database_url,
        "PATCHBAY_JWT_SECRET": TEST_SECRET,
        "PATCHBAY_MAX_DEPTH": "1",
        "PATCHBAY_MAX_ALIASES": "2",
        "PATCHBAY_MAX_TOKENS": "40",
    }.items():
        monkeypatch.setenv(name, value)
    async with client_for(Settings()) as client:
        # when
        deep = await post(client, "{ viewer { ... on Viewer { organization { slug } } } }")
        aliased = await post(client, f"{{ {aliases(3)} }}")
        long = await post(client, "{ " + "__typename " * 39 + "}")
        within = await post(client, "{ viewer { __typename } a0: __typename a1: __typename }")
    # then
    assert messages(deep) == ["'anonymous' exceeds maximum operation depth of 1"]
    assert messages(aliased) == ["3 aliases found. Allowed: 2"]
    assert messages(long) == [
        "Syntax Error: Document contains more than 40 tokens. Parsing aborted."
    ]
    assert within["data"] == {
        "viewer": {"__typename": "Viewer"},
        "a0": "Query",
        "a1": "Query",
    }


@pytest.mark.parametrize(
    ("caps", "query"),
    [
        (
            {"max_aliases": 1},
            "mutation { a: updatePrompt(id: ID, input: IN) { __typename } "
            "b: updatePrompt(id: ID, input: IN) { __typename } }",
        ),
        (
            {"max_depth": 2},
            "mutation { updatePrompt(id: ID, input: IN) "
            "{ ... on UpdatePromptSuccess { prompt { links { self { href } } } } } }",
        ),
        (
            {"max_tokens": 20},
            "mutation { updatePrompt(id: ID, input: IN) "
            "{ __typename ... on Error { code message requestId } } }",
        ),
    ],
    ids=["aliases", "depth", "tokens"],
)
async def test_a_mutation_over_a_cap_writes_nothing(
    database_url: str, db: Database, caps: dict[str, int], query: str
) -> None:
    # given
    query = query.replace("ID", '"prm_acme_welcome"').replace("IN", '{title: "Over a cap"}')
    async with client_for(settings_for(database_url, **caps)) as client:
        # when
        body = await post(client, query)
        # then
        assert "data" not in body
        assert codes(body) <= {"GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED"}
        assert await title_of_welcome(client) == SEEDED_TITLE


# --- what a caller who guesses learns --------------------------------------------------------

# (document, variables, names a suggestion would reveal)
TYPOS: dict[str, tuple[str, dict[str, Any] | None, list[str]]] = {
    "field": ("{ viewr }", None, ["viewer"]),
    "nested-field": ("{ viewer { ... on Viewer { subjet } } }", None, ["subject"]),
    "argument": ("{ prompts(frist: 1) { __typename } }", None, ["first"]),
    "type": ("{ viewer { ... on Viewr { subject } } }", None, ["Viewer"]),
    "union-member": (
        'mutation { updatePrompt(id: "prm_acme_welcome", input: {}) { prompt { id } } }',
        None,
        ["UpdatePromptSuccess"],
    ),
    "input-field": (
        'mutation { updatePrompt(id: "prm_acme_welcome", input: {titel: "x"}) { __typename } }',
        None,
        ["title"],
    ),
    "input-field-in-variables": (SET_INPUT, {"input": {"titel": "x"}}, ["title"]),
}


def suggested_names(body: dict[str, Any], names: list[str]) -> list[str]:
    """The names a message reveals that the caller did not write, or a `Did you mean`."""
    text = " ".join(messages(body))
    revealed = [name for name in names if f"'{name}'" in text]
    return revealed + (["Did you mean"] if "Did you mean" in text else [])


@pytest.mark.parametrize(("query", "variables", "names"), TYPOS.values(), ids=TYPOS.keys())
async def test_development_suggests_names(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any] | None, names: list[str]
) -> None:
    # when
    body = await post(client, query, variables)
    # then: the default helps whoever is at the keyboard
    assert_refused(body)
    assert suggested_names(body, names) == [*names, "Did you mean"]


@pytest.mark.parametrize(("query", "variables", "names"), TYPOS.values(), ids=TYPOS.keys())
async def test_suggestions_can_be_switched_off(
    database_url: str, db: Database, query: str, variables: dict[str, Any] | None, names: list[str]
) -> None:
    # given
    async with client_for(settings_for(database_url, suggestions=False)) as client:
        # when
        body = await post(client, query, variables)
    # then
    assert_refused(body)
    assert suggested_names(body, names) == []


async def test_production_settings_show_nothing_of_the_schema(
    database_url: str, db: Database
) -> None:
    # given: production, with nothing but key material configured
    settings = settings_for(database_url, env="production")
    assert (settings.introspection, settings.graphiql, settings.suggestions) == (False,) * 3
    async with client_for(settings) as client:
        # when
        introspection = await post(client, INTROSPECTION)
        graphiql = await client.get("/graphql", headers={"Accept": "text/html"})
        typos = [await post(client, query, variables) for query, variables, _ in TYPOS.values()]
        # a document the fast path has learned, then sent with a misspelled input field
        served = [await post(client, SET_INPUT, {"input": {"title": "Prod"}}) for _ in range(2)]
        misspelled = await post(client, SET_INPUT, {"input": {"titel": "Prod"}})
        alias_bomb = await post(client, fan_out(40, leaf="a: __typename"))
    # then
    assert_refused(introspection)
    assert "introspection" in messages(introspection)[0].lower()
    assert 400 <= graphiql.status_code < 500
    assert "graphiql" not in graphiql.text.lower()
    for body, (_, _, names) in zip(typos, TYPOS.values(), strict=True):
        assert_refused(body)
        assert suggested_names(body, names) == []
    assert [body["data"]["updatePrompt"]["__typename"] for body in served] == [
        "UpdatePromptSuccess"
    ] * 2
    assert_refused(misspelled)
    assert suggested_names(misspelled, ["title", "model"]) == []
    assert messages(alias_bomb) == [f"{2**40} aliases found. Allowed: 30"]


def test_production_defaults_can_be_overridden_one_by_one(monkeypatch: pytest.MonkeyPatch) -> None:
    # given
    monkeypatch.setenv("PATCHBAY_ENV", "production")
    monkeypatch.setenv("PATCHBAY_JWT_SECRET", TEST_SECRET)
    monkeypatch.setenv("PATCHBAY_INTROSPECTION", "true")
    # when
    settings = Settings()
    development = Settings(env="development")
    # then
    assert (settings.introspection, settings.graphiql, settings.suggestions) == (True, False, False)
    assert (development.introspection, development.graphiql, development.suggestions) == (
        True,
        True,
        True,
    )


# --- a crash before execution is ours, not the caller's ---------------------------------------


@pytest.mark.logs_a_failure
async def test_a_crash_inside_validation_is_masked_and_logged(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Before, any exception in a validation rule reached the caller as a validation error
    carrying the exception's text (`maximum recursion depth exceeded`, `'Missing'`)."""

    # given: the limits rule fails on a document it has not seen (the validation cache is cold)
    def crash(*_: object) -> None:
        raise KeyError("internal detail")

    monkeypatch.setattr(schema.limits, "operation_totals", crash)
    # when
    body = await post(client, "{ crashing: __typename }")
    # then
    assert_refused(body, "INTERNAL_SERVER_ERROR")
    assert messages(body) == ["Internal server error"]
    assert any(r.getMessage().startswith("unexpected error") for r in caplog.records)
