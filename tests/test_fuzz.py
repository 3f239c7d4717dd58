"""Generated documents: no input a caller can send makes a server error.

Two generators, both bounded and derandomized, so CI runs the same examples every time:

- Schemathesis (GraphQL mode) against a real server: `patchbay demo` (uvicorn) in a subprocess
  on 127.0.0.1, a migrated and seeded SQLite file, alice's token with every scope. Every root
  field, positive and negative generation.
- hypothesis-graphql in-process over both mutations, on SQLite and PostgreSQL. Each document is
  sent twice: the second request takes the gateway's fast path for documents seen before.

A union error member is data, the documented answer: never a finding. A top-level error is
acceptable only for a document or variables that really are invalid (parse or validation) or a
refused list argument (`BAD_USER_INPUT`); `INTERNAL_SERVER_ERROR`, `SERVICE_UNAVAILABLE` and
HTTP 5xx always fail.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, cast

import graphql
import httpx
import hypothesis_graphql
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes
from schemathesis import GenerationMode

from db.seed import ACME_DEFAULT_POOL, ACME_MARKETING_POOL, GLOBEX_DEFAULT_POOL, SEEDED_AT
from resolvers.pagination import encode_cursor
from schema.schema import build_schema
from tests.factories import TEST_SECRET, token
from tests.live_server import running_demo

SDL = build_schema().as_str()
MUTATIONS = ("updatePrompt", "updateGuardrailPool")
ERROR_MEMBERS = {
    "ValidationError",
    "UnauthorizedError",
    "ForbiddenError",
    "NotFoundError",
    "ConflictError",
}
UNION_MEMBERS = {
    "updatePrompt": {"UpdatePromptSuccess", *ERROR_MEMBERS},
    "updateGuardrailPool": {"UpdateGuardrailPoolSuccess", *ERROR_MEMBERS},
}
CLIENT_ERRORS = {"GRAPHQL_VALIDATION_FAILED", "GRAPHQL_PARSE_FAILED"}
# `first` below zero and a forged `after` cursor are refused as arguments (test_transport.py).
ARGUMENT_ERRORS = {"BAD_USER_INPUT"}
LIST_FIELDS = {"Query.prompts", "Query.guardrailPools"}
SERVER_ERRORS = {"INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE"}

# Bounded for CI: ~30 s for the whole file, both databases included. For a longer hunt,
# PATCHBAY_TEST_FUZZ_SCALE=20 runs twenty times as many examples.
SCALE = int(os.environ.get("PATCHBAY_TEST_FUZZ_SCALE", "1"))
SCHEMATHESIS_EXAMPLES = {GenerationMode.POSITIVE: 80 * SCALE, GenerationMode.NEGATIVE: 25 * SCALE}
IN_PROCESS_EXAMPLES = 150 * SCALE
MIN_SHARE_RUN = 0.8  # Hypothesis stops early only when it runs out of distinct examples

PROMPT_IDS = [
    "prm_acme_welcome",
    "prm_acme_hold_music",
    "prm_acme_after_hours",
    "prm_globex_welcome",
]
POOL_IDS = [str(ACME_DEFAULT_POOL), str(ACME_MARKETING_POOL), str(GLOBEX_DEFAULT_POOL)]
# Values the rules and the seed care about: taken names and slugs, the upload's request id,
# lengths on both sides of every limit, path tricks, control and bidi characters.
INTERESTING_STRINGS = [
    "",
    " ",
    "welcome",
    "hold-music",
    "after-hours",
    "default",
    "marketing",
    "valid-slug-2",
    "Not A Slug",
    "-leading",
    "req-welcome-v2",
    "welcome-v2.mp3",
    "b.ogg",
    "C.WAV",
    "notes.txt",
    "../escape.mp3",
    "a\\b.mp3",
    "x" * 50,
    "x" * 51,
    "x" * 64,
    "x" * 65,
    "x" * 100,
    "x" * 101,
    "x" * 200,
    "x" * 201,
    "x" * 251 + ".mp3",
    "x" * 252 + ".mp3",
    "x" * 1001,
    "a\x00b",
    "tab\there",
    "\u202eevil",
    "\ufeff",
    "😀",
    "' OR 1=1 --",
    *(encode_cursor(key) for key in ("prm_acme_after_hours", str(ACME_DEFAULT_POOL))),
]


# --- strategies ------------------------------------------------------------------------------


def aware_datetimes() -> st.SearchStrategy[datetime]:
    """Every offset Python allows, including ones that leave UTC's range at years 1 and 9999."""
    offsets = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
        lambda minutes: timezone(timedelta(minutes=minutes))
    )
    return st.datetimes(timezones=st.just(UTC) | offsets)


DATETIMES = st.one_of(
    st.just(SEEDED_AT.isoformat()),
    st.just("2026-01-05T09:00:00Z"),
    aware_datetimes().map(datetime.isoformat),
    st.datetimes().map(datetime.isoformat),  # naive: the rules refuse it
).map(nodes.String)
SEEDED_IDS = st.sampled_from(PROMPT_IDS + POOL_IDS).map(nodes.String)
OTHER_IDS = st.one_of(
    st.uuids().map(str).map(nodes.String),
    st.text(max_size=40).map(nodes.String),
    st.integers(min_value=-(2**31), max_value=2**31 - 1).map(nodes.Int),
)
# Two ids in three name a seeded object, of the caller's organization or not (nested one_of
# strategies are flattened into equal branches, hence the explicit draw).
IDS = st.integers(min_value=0, max_value=2).flatmap(lambda n: SEEDED_IDS if n < 2 else OTHER_IDS)
STRINGS = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=60),
    st.sampled_from(INTERESTING_STRINGS),
).map(nodes.String)


# --- tallies, a live server, helpers ------------------------------------------------------


@dataclass
class LiveServer:
    url: str
    log: Path
    token: str


@dataclass
class Tally:
    """What a fuzz run sent and what came back, for the figures in docs/HARDENING.md."""

    sent: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)


TALLIES: dict[str, Tally] = {}


@pytest.fixture(scope="module", autouse=True)
def report_tallies() -> Iterator[None]:
    """Requests sent and outcomes per run, printed at the end (`pytest -s` shows them)."""
    yield
    for name, tally in TALLIES.items():
        print(f"\n{name}: {tally.sent} requests, {dict(tally.outcomes.most_common())}")
    TALLIES.clear()  # pytest may set this fixture up again, once per database


def database_backend(database_url: str) -> str:
    return database_url.split("+", 1)[0]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """`patchbay demo` (migrate, seed, serve) on a SQLite file; stopped after the module."""
    directory = tmp_path_factory.mktemp("live-server")
    with running_demo(directory, PATCHBAY_JWT_SECRET=TEST_SECRET) as demo:
        yield LiveServer(url=demo.url, log=demo.log, token=token(ttl=3600))


TYPENAME = graphql.FieldNode(name=graphql.NameNode(value="__typename"))


def with_typename(document: graphql.DocumentNode) -> str:
    """The document with `__typename` selected on every root field's result (nodes are frozen)."""

    def selecting_typename(node: graphql.SelectionNode) -> graphql.SelectionNode:
        if not isinstance(node, graphql.FieldNode) or node.selection_set is None:
            return node
        selections = (TYPENAME, *node.selection_set.selections)
        return replace(node, selection_set=replace(node.selection_set, selections=selections))

    definitions = [
        replace(
            definition,
            selection_set=replace(
                definition.selection_set,
                selections=tuple(map(selecting_typename, definition.selection_set.selections)),
            ),
        )
        if isinstance(definition, graphql.OperationDefinitionNode)
        else definition
        for definition in document.definitions
    ]
    return graphql.print_ast(replace(document, definitions=tuple(definitions)))


def top_level_codes(body: Any) -> set[str]:
    if not isinstance(body, dict):
        return {"NOT_A_JSON_OBJECT"}
    return {str((e.get("extensions") or {}).get("code")) for e in body.get("errors") or []}


def judge_schemathesis_response(
    label: str, document: str, response: schemathesis.Response, mode: GenerationMode
) -> str:
    """The outcome's name for the tally; fails on anything but data or a client's error."""
    assert response.status_code == 200, f"HTTP {response.status_code} for {document}"
    body = response.json()
    codes = top_level_codes(body)
    assert not codes & SERVER_ERRORS, f"{sorted(codes)} for {document}: {body}"
    allowed = set(CLIENT_ERRORS)
    if label in LIST_FIELDS or "history(" in document:  # pages: `after` may be no cursor
        allowed |= ARGUMENT_ERRORS
    if mode is GenerationMode.POSITIVE:  # a valid document is never refused as invalid
        allowed -= CLIENT_ERRORS
    assert codes <= allowed, f"{sorted(codes)} for {document}: {body}"
    if codes:
        return "top-level " + "+".join(sorted(codes))
    return "+".join(sorted(typenames(body["data"]))) or "data"


def typenames(data: Any) -> set[str]:
    """__typename of each root field's result, where the selection asked for it."""
    if not isinstance(data, dict):
        return set()
    return {
        value["__typename"]
        for value in data.values()
        if isinstance(value, dict) and "__typename" in value
    }


schemathesis.graphql.scalar("DateTime", DATETIMES)
schemathesis.graphql.scalar("ID", IDS)
schemathesis.graphql.scalar("String", STRINGS)


# --- Schemathesis against the live server ----------------------------------------------------


@pytest.fixture(scope="module")
def live_schema(live_server: LiveServer) -> schemathesis.BaseSchema:
    """The schema as the live server introspects it (no SDL file in between)."""
    return schemathesis.graphql.from_url(
        f"{live_server.url}/graphql",
        headers={"Authorization": f"Bearer {live_server.token}"},
    )


ROOT_FIELDS = [
    "Query.viewer",
    "Query.prompt",
    "Query.prompts",
    "Query.guardrailPool",
    "Query.guardrailPools",
    "Mutation.updatePrompt",
    "Mutation.updateGuardrailPool",
]


# viewer takes no argument: there is nothing to make invalid
SCHEMATHESIS_RUNS = [
    pytest.param(label, mode, id=f"{label}-{mode.name.lower()}")
    for label in ROOT_FIELDS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if (label, mode) != ("Query.viewer", GenerationMode.NEGATIVE)
]


@pytest.mark.parametrize(("label", "mode"), SCHEMATHESIS_RUNS)
def test_schemathesis_finds_no_server_error(
    live_server: LiveServer, live_schema: schemathesis.BaseSchema, label: str, mode: GenerationMode
) -> None:
    # given
    operation = live_schema.find_operation_by_label(label)
    assert operation is not None
    tally = Tally()
    examples = SCHEMATHESIS_EXAMPLES[mode]
    headers = {"Authorization": f"Bearer {live_server.token}"}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case[Any]) -> None:
        # when: asking for each result's __typename too, to tally the union members
        assert isinstance(case.body, str)
        case.body = with_typename(graphql.parse(case.body))
        response = case.call(base_url=live_server.url, headers=headers, timeout=30)
        tally.sent += 1
        # then
        case.validate_response(
            response,
            checks=[
                schemathesis.checks.not_a_server_error,
                schemathesis.checks.response_schema_conformance,
            ],
        )
        tally.outcomes[judge_schemathesis_response(label, case.body, response, mode)] += 1

    run()
    # then: the bound was reached, and the server logged no failure of its own
    TALLIES[f"schemathesis {label} {mode.name.lower()}"] = tally
    assert tally.sent >= examples * MIN_SHARE_RUN
    assert_server_log_is_clean(live_server.log)


def assert_server_log_is_clean(log: Path) -> None:
    text = log.read_text(errors="replace")
    for marker in ("Traceback", "unexpected error", "Exception in ASGI application"):
        assert marker not in text, text[-4000:]


# --- hypothesis-graphql in-process, on both databases ----------------------------------------


def caller_headers(who: str) -> dict[str, str]:
    credentials = {
        "alice": token("alice"),
        "bob": token("bob"),
        "carol": token("carol"),
        "reader": token("alice", scope="prompts:read org:admin:read"),
        "garbage": "not-a-token",
    }
    return {"Authorization": f"Bearer {credentials[who]}"} if who != "nobody" else {}


def mutation_documents(mode: hypothesis_graphql.Mode) -> st.SearchStrategy[str]:
    """Documents with either mutation or both; one root field is what the fast path plans."""
    documents = [
        hypothesis_graphql.mutations(
            SDL,
            fields=fields,
            custom_scalars={"DateTime": DATETIMES, "ID": IDS, "String": STRINGS},
            print_ast=with_typename,
            mode=mode,
        )
        for fields in (["updatePrompt"], ["updateGuardrailPool"], MUTATIONS)
    ]
    return cast("st.SearchStrategy[str]", st.one_of(documents))


# alice (every scope, owner of two acme prompts) most often; then every other kind of caller
CALLERS = st.sampled_from(["alice"] * 4 + ["bob", "carol", "reader", "garbage", "nobody"])


def assert_every_mutation_is_a_union_member(document: str, body: dict[str, Any]) -> list[str]:
    assert "errors" not in body, f"{body['errors']} for {document}"
    parsed = graphql.parse(document)
    operation = next(
        d for d in parsed.definitions if isinstance(d, graphql.OperationDefinitionNode)
    )
    members = []
    for selection in operation.selection_set.selections:
        assert isinstance(selection, graphql.FieldNode)
        key = selection.alias.value if selection.alias else selection.name.value
        result = body["data"][key]
        assert result["__typename"] in UNION_MEMBERS[selection.name.value], (document, body)
        members.append(result["__typename"])
    return members


@given(document=mutation_documents(hypothesis_graphql.Mode.POSITIVE), caller=CALLERS)
@settings(
    max_examples=IN_PROCESS_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
async def test_well_formed_mutations_always_answer_with_a_union_member(
    client: httpx.AsyncClient, database_url: str, document: str, caller: str
) -> None:
    # given
    tally = TALLIES.setdefault(f"in-process positive, {database_backend(database_url)}", Tally())
    headers = caller_headers(caller)
    # when: the second request is served by the fast path for known documents
    first = await client.post("/graphql", json={"query": document}, headers=headers)
    second = await client.post("/graphql", json={"query": document}, headers=headers)
    # then
    tally.sent += 2
    answers = []
    for response in (first, second):
        assert response.status_code == 200, (document, response.text)
        answers.append(assert_every_mutation_is_a_union_member(document, response.json()))
        tally.outcomes.update(answers[-1])
    if "expectedUpdatedAt" not in document:  # the first write makes that guard stale
        assert answers[0] == answers[1], (document, first.text, second.text)


@given(document=mutation_documents(hypothesis_graphql.Mode.NEGATIVE), caller=CALLERS)
@settings(
    max_examples=IN_PROCESS_EXAMPLES // 2,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
async def test_invalid_mutations_are_refused_as_invalid(
    client: httpx.AsyncClient, database_url: str, document: str, caller: str
) -> None:
    # given
    tally = TALLIES.setdefault(f"in-process negative, {database_backend(database_url)}", Tally())
    # when
    response = await client.post(
        "/graphql", json={"query": document}, headers=caller_headers(caller)
    )
    # then
    tally.sent += 1
    assert response.status_code == 200, (document, response.text)
    body = response.json()
    codes = top_level_codes(body)
    assert not codes & SERVER_ERRORS, (document, body)
    assert codes <= CLIENT_ERRORS, (document, body)
    if codes:
        assert body.get("data") is None
        tally.outcomes.update(codes)
    else:  # the generator's "invalid" document happened to be valid: then it is data
        tally.outcomes.update(assert_every_mutation_is_a_union_member(document, body))
