"""Generated differential test: the planned executor answers exactly what Strawberry answers.

tests/test_fast_path.py checks hand-written cases; here hypothesis-graphql writes the documents
from the real schema, one root field each (what the fast path plans): the two mutations it
plans today and the five queries it may plan later. hypothesis-graphql writes only inline
literals and small selections, so each example is reshaped by draws of its own: arguments or
input fields moved into variables (sometimes spoilt: missing, null, of the wrong type, with an
unknown field), more union members and the Error interface selected, `__typename`, an alias,
a named fragment, an operation name with a second operation beside it. Ids are the demo
data's (of the caller's organization or not) or unknown ones; values include taken names and
slugs and a stale `expectedUpdatedAt`, so every union member occurs (the last test checks it).

Each example runs, each time on fresh demo data, on an app with the fast path twice (the
first request teaches it the document, with variables that coerce; the second is planned, or
handed back to Strawberry when its variables do not coerce) and on an app without it once,
with the same credential, X-Request-ID and Accept (none, or one of the GraphQL over HTTP media
types, on which a request error's status depends). Status, content type, request id and the whole
JSON body must be equal, keys in the same order; only timestamps a request itself wrote are
masked. A failure prints the document, operation name, variables and both responses. The
gateway is reached over HTTP only (httpx on the ASGI app).

Bounded for CI and derandomized, like test_fuzz.py; PATCHBAY_TEST_FUZZ_SCALE=20 runs twenty
times as many examples.
"""

from __future__ import annotations

import itertools
import json
import os
import random
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import graphql
import httpx
import hypothesis_graphql
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes
from starlette.applications import Starlette

from db.seed import ACME_DEFAULT_POOL, ACME_MARKETING_POOL, GLOBEX_DEFAULT_POOL, SEEDED_AT
from gateway.app import create_app
from resolvers.pagination import encode_cursor
from schema.schema import build_schema
from tests.conftest import reset_demo_data, settings_for
from tests.factories import ALL_SCOPES, token

SDL = build_schema().as_str()
SCHEMA = graphql.build_schema(SDL)
MUTATIONS = ("updatePrompt", "updateGuardrailPool", "updatePrompts", "updateGuardrailPools")
QUERIES = ("prompt", "prompts", "guardrailPool", "guardrailPools", "viewer")

# About 15-20 s per database for the whole file on a shared 2-core machine.
SCALE = int(os.environ.get("PATCHBAY_TEST_FUZZ_SCALE", "1"))
MUTATION_EXAMPLES = 300 * SCALE
QUERY_EXAMPLES = 150 * SCALE

# --- values: the demo data's ids and names, and ones it does not have -------------------------

PROMPT_IDS = [
    "prm_acme_welcome",  # alice's
    "prm_acme_after_hours",  # alice's
    "prm_acme_hold_music",  # bob's: alice may read it, not change it
    "prm_globex_welcome",  # another organization's: not found for alice
]
POOL_IDS = [str(ACME_DEFAULT_POOL), str(ACME_MARKETING_POOL), str(GLOBEX_DEFAULT_POOL)]
REAL_IDS = st.sampled_from(PROMPT_IDS + POOL_IDS).map(nodes.String)
UNKNOWN_IDS = st.one_of(
    st.sampled_from(["prm_nope", "a1000000-0000-4000-8000-000000000009", ""]).map(nodes.String),
    st.uuids().map(str).map(nodes.String),
    st.text(max_size=20).map(nodes.String),
    st.integers(min_value=-(2**31), max_value=2**31 - 1).map(nodes.Int),
)
# Most ids are the demo data's (nested one_of is flattened, hence the explicit draw). Hypothesis
# draws the simplest value (0, False, a list's first element) more often than its share: here
# and below the common case comes first.
IDS = st.integers(min_value=0, max_value=3).flatmap(lambda n: UNKNOWN_IDS if n == 3 else REAL_IDS)
INTERESTING_STRINGS = [
    "",
    " ",
    "welcome",
    "hold-music",  # taken name in acme
    "after-hours",  # taken name in acme
    "default",  # taken slug in acme
    "marketing",  # taken slug in acme
    "valid-slug-2",
    "Not A Slug",
    "New name",
    "req-welcome-v2",  # the demo upload's request id
    "welcome-v2.mp3",
    "b.ogg",
    "notes.txt",
    "x" * 51,
    "x" * 65,
    "x" * 101,
    "x" * 201,
    "a\x00b",
    "\u202eevil",
    "😀",
    *(encode_cursor(key) for key in (*PROMPT_IDS, *POOL_IDS)),
    "not-a-cursor",
]
STRINGS = st.one_of(
    st.sampled_from(INTERESTING_STRINGS), st.sampled_from(INTERESTING_STRINGS), st.text(max_size=30)
).map(nodes.String)
DATETIMES = st.sampled_from(
    [
        SEEDED_AT.isoformat(),  # the demo rows' updatedAt: the guard passes
        "2026-01-05T09:00:00Z",
        "2026-01-05T10:00:00+01:00",
        "2025-12-31T23:59:59+00:00",  # stale
        "2026-01-05T09:00:00",  # naive
        "not a date",
    ]
).map(nodes.String)
PAGE_SIZES = st.one_of(
    st.sampled_from([2, 1, 20, 0, 3, 100, 101, -1]),
    st.integers(min_value=-(2**31), max_value=2**31 - 1),
).map(nodes.Int)
SCALARS = {"ID": IDS, "String": STRINGS, "DateTime": DATETIMES, "Int": PAGE_SIZES}

# --- documents and the shapes around them -----------------------------------------------------


def _document_node(document: graphql.DocumentNode) -> graphql.DocumentNode:
    return document


def documents(
    fields: tuple[str, ...], *, mutation: bool
) -> st.SearchStrategy[graphql.DocumentNode]:
    """Valid documents with exactly one root field, one of `fields`."""
    generate = hypothesis_graphql.mutations if mutation else hypothesis_graphql.queries
    return st.one_of(
        [
            generate(SDL, fields=[name], custom_scalars=SCALARS, print_ast=_document_node)
            for name in fields
        ]
    )


# Who asks, and how often: alice (every scope, owner of two acme prompts) most, then a token
# without scopes, no credential at all, and the rest.
CREDENTIALS = {
    "alice": 12,
    "no scopes": 2,
    "nobody": 2,
    "reader": 2,  # alice with the read scopes only
    "bob": 2,  # acme, owns hold-music
    "carol": 2,  # globex
    "garbage": 1,
}


LIMITED = {"no scopes": ("alice", ""), "reader": ("alice", "prompts:read org:admin:read")}


def authorization(credential: str) -> dict[str, str]:
    """The Authorization header of a credential, minted now (tokens expire)."""
    if credential == "nobody":
        return {}
    if credential == "garbage":
        return {"Authorization": "Bearer not-a-token"}
    user, scope = LIMITED.get(credential, (credential, ALL_SCOPES))
    return {"Authorization": f"Bearer {token(user, scope=scope)}"}


# Random strings break some rule of most input fields, so most writes would end as a
# ValidationError. Three examples in five therefore get values each field accepts, taken names and
# slugs among them (ConflictError), and an id of the right kind (success, not found, forbidden).
PLAUSIBLE: dict[str, list[Any]] = {
    "name": ["Renamed", "Renamed", "Marketing", "hold-music", "after-hours"],
    "title": ["A title", None],
    "description": ["A description", None],
    "content": ["Hello, caller.", None],
    "model": ["tts-neural", None],
    "tags": [["a", " a ", "b"], None],
    "requestId": ["req-welcome-v2"],
    "fileName": ["renamed.mp3"],
    "expectedUpdatedAt": [SEEDED_AT.isoformat(), SEEDED_AT.isoformat(), "2025-12-31T23:59:59Z"],
    "slug": ["campaigns", "campaigns", "default", "marketing"],
}
PLAUSIBLE_ARGUMENTS: dict[str, list[Any]] = {
    "first": [2, None, 1, 100],
    "after": [None, encode_cursor("prm_acme_after_hours"), encode_cursor(str(ACME_DEFAULT_POOL))],
}
PLAUSIBLE_IDS = {
    "updatePrompt": PROMPT_IDS + PROMPT_IDS[:2],  # alice's own, more often
    "prompt": PROMPT_IDS,
    "updateGuardrailPool": POOL_IDS,
    "guardrailPool": POOL_IDS,
}


def _literal(value: Any) -> graphql.ValueNode:
    return graphql.parse_value(json.dumps(value))


def _plausible(rnd: random.Random, root: graphql.FieldNode) -> graphql.FieldNode:
    """The root field with a fitting id and, in an input object, values its fields accept."""
    arguments = []
    for argument in root.arguments or ():
        name, value = argument.name.value, argument.value
        if name == "id" and root.name.value in PLAUSIBLE_IDS:
            value = _literal(rnd.choice(PLAUSIBLE_IDS[root.name.value]))
        elif name in PLAUSIBLE_ARGUMENTS:
            value = _literal(rnd.choice(PLAUSIBLE_ARGUMENTS[name]))
        elif isinstance(value, graphql.ObjectValueNode):
            fields = tuple(
                replace(f, value=_literal(rnd.choice(PLAUSIBLE[f.name.value])))
                if f.name.value in PLAUSIBLE
                else f
                for f in value.fields
            )
            value = replace(value, fields=fields)
        arguments.append(replace(argument, value=value))
    return replace(root, arguments=tuple(arguments))


# How the compared requests' variables differ from the teaching ones, and how often
SPOILERS = {None: 10, "missing": 3, "null": 3, "wrong type": 2, "unknown field": 2}
WRONG_VALUES = [7, 2.5, True, ["x"], {"bogus": 1}, "text", ""]
# The response's media type, and a request error's status with it, follow Accept on both paths
ACCEPTS = {
    None: 3,
    "application/json": 1,
    "application/graphql-response+json": 2,
    "application/graphql-response+json, application/json;q=0.9": 1,
    "*/*": 1,
}


@dataclass(frozen=True)
class Case:
    document: str
    operation_name: str | None
    variables: dict[str, Any] | None  # what the compared requests send
    teaching_variables: dict[str, Any] | None  # what the first request sends: they coerce
    credential: str
    form: str  # "literals", "arguments" or "input fields"
    spoilt: str | None
    accept: str | None = None  # the Accept header; None: none sent

    def body(self, *, teaching: bool = False) -> dict[str, Any]:
        variables = self.teaching_variables if teaching else self.variables
        return {
            "query": self.document,
            "variables": variables,
            "operationName": self.operation_name,
        }

    def describe(self) -> str:
        return (
            f"document:\n{self.document}\noperationName: {self.operation_name!r}\n"
            f"variables: {json.dumps(self.variables)}\n"
            f"teaching variables: {json.dumps(self.teaching_variables)}\n"
            f"credential: {self.credential}\naccept: {self.accept}"
        )


def _name(value: str) -> graphql.NameNode:
    return graphql.NameNode(value=value)


def _variable(name: str) -> graphql.VariableNode:
    return graphql.VariableNode(name=_name(name))


def _field(name: str) -> graphql.FieldNode:
    return graphql.FieldNode(name=_name(name), arguments=(), directives=())


def _lift(
    root: graphql.FieldNode, field: graphql.GraphQLField, form: str
) -> tuple[graphql.FieldNode, list[graphql.VariableDefinitionNode], dict[str, Any]]:
    """The root field with its arguments (or its input objects' fields) made variables."""
    if form == "literals":
        return root, [], {}
    definitions: list[graphql.VariableDefinitionNode] = []
    variables: dict[str, Any] = {}

    def variable_for(name: str, type_: graphql.GraphQLInputType, value: Any) -> Any:
        definitions.append(
            graphql.VariableDefinitionNode(
                variable=_variable(name), type=graphql.parse_type(str(type_)), directives=()
            )
        )
        variables[name] = graphql.value_from_ast_untyped(value)
        return _variable(name)

    arguments = []
    for argument in root.arguments or ():
        name, value = argument.name.value, argument.value
        type_ = field.args[name].type
        input_type = graphql.get_nullable_type(type_)
        if form == "input fields" and isinstance(value, graphql.ObjectValueNode):
            assert isinstance(input_type, graphql.GraphQLInputObjectType)
            fields = tuple(
                replace(
                    f,
                    value=variable_for(
                        f"{name}_{f.name.value}", input_type.fields[f.name.value].type, f.value
                    ),
                )
                for f in value.fields
            )
            arguments.append(replace(argument, value=replace(value, fields=fields)))
        else:
            arguments.append(replace(argument, value=variable_for(name, type_, value)))
    return replace(root, arguments=tuple(arguments)), definitions, variables


def _selections(
    rnd: random.Random, type_: graphql.GraphQLObjectType | graphql.GraphQLInterfaceType, depth: int
) -> list[graphql.SelectionNode]:
    """About two fields in three of the type, nested objects included (to a depth of 3)."""
    selections: list[graphql.SelectionNode] = []
    for name, field in type_.fields.items():
        named = graphql.get_named_type(field.type)
        if rnd.random() < 0.3 or field.args:
            continue
        if graphql.is_leaf_type(named):
            selections.append(_field(name))
        elif isinstance(named, graphql.GraphQLObjectType) and depth < 3:
            inner = _selections(rnd, named, depth + 1)
            if inner:
                selection_set = graphql.SelectionSetNode(selections=tuple(inner))
                selections.append(replace(_field(name), selection_set=selection_set))
    return selections


def _more_members(
    rnd: random.Random, union: graphql.GraphQLNamedType
) -> list[graphql.SelectionNode]:
    """Inline fragments on members of the result union, and on the Error interface.

    hypothesis-graphql selects a few fields of a few members; a write's success member then
    rarely shows the written object. These fragments select much more, and overlap with the
    generated ones (the same field asked for twice is merged)."""
    assert isinstance(union, graphql.GraphQLUnionType)
    targets: list[graphql.GraphQLObjectType | graphql.GraphQLInterfaceType] = [
        member for member in SCHEMA.get_possible_types(union) if rnd.random() < 0.4
    ]
    error = SCHEMA.get_type("Error")
    assert isinstance(error, graphql.GraphQLInterfaceType)
    if rnd.random() < 0.3:
        targets.append(error)
    fragments: list[graphql.SelectionNode] = []
    for target in targets:
        selections = _selections(rnd, target, 0)
        if selections:
            fragments.append(
                graphql.InlineFragmentNode(
                    type_condition=graphql.NamedTypeNode(name=_name(target.name)),
                    selection_set=graphql.SelectionSetNode(selections=tuple(selections)),
                    directives=(),
                )
            )
    return fragments


def _weighted(rnd: random.Random, weights: dict[Any, int]) -> Any:
    return rnd.choices(list(weights), weights=list(weights.values()))[0]


@st.composite
def cases(draw: st.DrawFn, generated: st.SearchStrategy[graphql.DocumentNode]) -> Case:
    document = draw(generated)
    # The shape around the document is chosen with a Random seeded by a drawn number and the
    # document itself. Hypothesis's own draws (st.sampled_from, st.booleans, st.randoms, a
    # drawn seed alone) favour the first or simplest value far beyond its share, which left
    # variables, the fast path's own coercion, rarely exercised. Derandomized runs stay the same.
    rnd = random.Random(f"{draw(st.integers(0, 2**32))}/{graphql.print_ast(document)}")
    (operation,) = document.definitions
    assert isinstance(operation, graphql.OperationDefinitionNode)
    (root,) = operation.selection_set.selections
    assert isinstance(root, graphql.FieldNode) and root.selection_set is not None
    selections = list(root.selection_set.selections)
    root_type = (
        SCHEMA.mutation_type if operation.operation.value == "mutation" else SCHEMA.query_type
    )
    assert root_type is not None
    field = root_type.fields[root.name.value]
    definitions: list[graphql.DefinitionNode] = []
    if rnd.random() < 0.6:
        root = _plausible(rnd, root)

    union = graphql.get_named_type(field.type)
    if rnd.random() < 0.5:
        selections += _more_members(rnd, union)
    # __typename first or last (it tells the union member), sometimes in a named fragment
    typename = _field("__typename")
    selections.insert(len(selections) if rnd.random() < 0.5 else 0, typename)
    if rnd.random() < 0.25:  # a named fragment on the result union
        fragment = graphql.FragmentDefinitionNode(
            name=_name("Answer"),
            type_condition=graphql.NamedTypeNode(name=_name(union.name)),
            selection_set=graphql.SelectionSetNode(selections=tuple(selections)),
            directives=(),
        )
        definitions.append(fragment)
        selections = [graphql.FragmentSpreadNode(name=_name("Answer"), directives=())]
    root = replace(root, selection_set=graphql.SelectionSetNode(selections=tuple(selections)))
    if rnd.random() < 0.5:
        root = replace(root, alias=_name("result"))

    form = _weighted(rnd, {"literals": 3, "arguments": 3, "input fields": 4})
    root, variable_definitions, variables = _lift(root, field, form)
    operation = replace(
        operation,
        selection_set=graphql.SelectionSetNode(selections=(root,)),
        variable_definitions=tuple(variable_definitions),
    )

    operation_name = None
    if rnd.random() < 0.5:
        operation = replace(operation, name=_name("Generated"))
        if rnd.random() < 0.5:  # a second operation: then the name must be sent
            other = graphql.parse("query Other { viewer { __typename } }").definitions[0]
            definitions.insert(0, other)
            operation_name = "Generated"
        elif rnd.random() < 0.5:
            operation_name = "Generated"
    ordered = (operation, *definitions) if rnd.random() < 0.5 else (*definitions, operation)
    text = graphql.print_ast(graphql.DocumentNode(definitions=ordered))
    errors = graphql.validate(SCHEMA, graphql.parse(text))
    assert not errors, f"the test made an invalid document: {errors}\n{text}"

    spoilt = _weighted(rnd, SPOILERS) if variables else None
    sent = dict(variables)
    objects = sorted(name for name, value in variables.items() if isinstance(value, dict))
    if spoilt == "unknown field" and not objects:
        spoilt = None
    if spoilt is not None:
        name = rnd.choice(objects if spoilt == "unknown field" else sorted(variables))
        if spoilt == "missing":
            del sent[name]
        elif spoilt == "null":
            sent[name] = None
        elif spoilt == "wrong type":
            sent[name] = rnd.choice(WRONG_VALUES)
        else:
            sent[name] = {**sent[name], "bogus": rnd.choice([1, "x", None])}
    in_body = form != "literals"
    return Case(
        document=text,
        operation_name=operation_name,
        variables=sent if in_body else None,
        teaching_variables=variables if in_body else None,
        credential=_weighted(rnd, CREDENTIALS),
        form=form,
        spoilt=spoilt,
        accept=_weighted(rnd, ACCEPTS),
    )


# --- running and comparing --------------------------------------------------------------------

REQUEST_IDS = itertools.count()
WRITTEN = "<a timestamp written by the request>"
# Outcomes per database and kind, for the coverage test at the end (and `pytest -s`).
TALLIES: dict[tuple[str, str], Counter[str]] = {}


@dataclass(frozen=True)
class Gateways:
    fast: Starlette
    slow: Starlette
    database: str


@pytest.fixture(scope="module")
async def gateways(database_url: str) -> AsyncIterator[Gateways]:
    fast = create_app(settings_for(database_url))
    slow = create_app(settings_for(database_url, fast_path=False))
    gateways = Gateways(fast, slow, database_url.split("+", 1)[0])
    yield gateways
    await fast.state.db.dispose()
    await slow.state.db.dispose()
    for (database, kind), outcomes in sorted(TALLIES.items()):
        if database == gateways.database:
            print(f"\n{database} {kind}: {dict(outcomes.most_common())}")


Window = tuple[datetime, datetime]


async def _post(app: Starlette, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://patchbay.test") as client:
        return await client.post("/graphql", json=body, headers=headers)


async def _timed_post(
    app: Starlette, body: dict[str, Any], headers: dict[str, str]
) -> tuple[httpx.Response, Window]:
    """The response, and the time window in which the request ran (a little wider)."""
    started = datetime.now(UTC) - timedelta(milliseconds=50)
    response = await _post(app, body, headers)
    return response, (started, datetime.now(UTC) + timedelta(milliseconds=50))


def _masked(value: Any, window: Window) -> Any:
    """The response with every timestamp written by its own request replaced.

    A successful write sets updatedAt to "now", which differs between two runs by
    construction. Masked are only strings that are timestamps within the window of the
    request that answered: seeded timestamps, the values the caller sent, and a timestamp
    left over from another request (say the teaching one) stay as they are."""
    if isinstance(value, dict):
        return {key: _masked(item, window) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item, window) for item in value]
    if isinstance(value, str) and len(value) >= 19 and value[4:5] == "-":
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        return WRITTEN if window[0] <= moment <= window[1] else value
    return value


def _outcome(body: Any) -> str:
    """The root field's union member, or the top-level error codes."""
    if not isinstance(body, dict):
        return "not a JSON object"
    if body.get("errors"):
        codes = sorted({str((e.get("extensions") or {}).get("code")) for e in body["errors"]})
        return "top-level " + "+".join(codes)
    results = [v for v in (body.get("data") or {}).values() if isinstance(v, dict)]
    return str(results[0].get("__typename")) if results else "no data"


async def _assert_same_answers(gateways: Gateways, case: Case, kind: str) -> None:
    fast, slow = gateways.fast, gateways.slow
    database = fast.state.db
    request_id = f"differential-{next(REQUEST_IDS)}"  # the same for all three requests
    headers = {"X-Request-ID": request_id, **authorization(case.credential)}
    if case.accept is not None:
        headers["Accept"] = case.accept
    writes = kind == "mutations"
    # given: the fast app has run the document once, with variables that coerce
    await reset_demo_data(database)
    taught, taught_window = await _timed_post(fast, case.body(teaching=True), headers)
    if writes:
        await reset_demo_data(database)
    # when: the fast app runs it again (planned), and the app without a fast path runs it
    planned, planned_window = await _timed_post(fast, case.body(), headers)
    if writes:
        await reset_demo_data(database)
    reference, reference_window = await _timed_post(slow, case.body(), headers)
    # then
    expected = _masked(reference.json(), reference_window)
    actual = _masked(planned.json(), planned_window)
    report = (
        f"\n{case.describe()}\nplanned ({planned.status_code}): {planned.text}"
        f"\nStrawberry ({reference.status_code}): {reference.text}"
    )
    assert planned.status_code == reference.status_code, report
    assert actual == expected, report
    assert json.dumps(actual) == json.dumps(expected), "keys in another order" + report
    for response in (planned, reference):
        assert response.headers["x-request-id"] == request_id, report
        assert response.headers["content-type"] == reference.headers["content-type"], report
    if case.variables == case.teaching_variables:  # the same request on the same data
        assert taught.status_code == reference.status_code, report
        assert _masked(taught.json(), taught_window) == expected, f"taught: {taught.text}" + report
    tally = TALLIES.setdefault((gateways.database, kind), Counter())
    tally[_outcome(reference.json())] += 1
    tally[f"form {case.form}"] += 1
    if case.spoilt:
        tally[f"spoilt: {case.spoilt}"] += 1


BOUNDED = settings(
    derandomize=True,  # CI runs the same examples every time
    database=None,
    deadline=None,
    # no_leaks_in_logs (autouse) is function-scoped: it checks the logs of all examples
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


@settings(BOUNDED, max_examples=MUTATION_EXAMPLES)
@given(case=cases(documents(MUTATIONS, mutation=True)))
async def test_generated_mutations_answer_like_strawberry(gateways: Gateways, case: Case) -> None:
    await _assert_same_answers(gateways, case, "mutations")


@settings(BOUNDED, max_examples=QUERY_EXAMPLES)
@given(case=cases(documents(QUERIES, mutation=False)))
async def test_generated_queries_answer_like_strawberry(gateways: Gateways, case: Case) -> None:
    await _assert_same_answers(gateways, case, "queries")


EXPECTED_OUTCOMES = {
    "mutations": {
        "UpdatePromptSuccess",
        "UpdateGuardrailPoolSuccess",
        "NotFoundError",
        "ValidationError",
        "ConflictError",
        "ForbiddenError",
        "UnauthorizedError",
        "top-level GRAPHQL_VALIDATION_FAILED",  # spoilt variables
    },
    "queries": {
        "Prompt",
        "PromptConnection",
        "GuardrailPool",
        "GuardrailPoolConnection",
        "Viewer",
        "NotFoundError",
        "ForbiddenError",
        "UnauthorizedError",
    },
}


@pytest.mark.parametrize("kind", sorted(EXPECTED_OUTCOMES))
def test_the_generated_examples_reached_every_outcome(gateways: Gateways, kind: str) -> None:
    """Runs after the generated tests of its database: the comparison saw every member."""
    tally = TALLIES.get((gateways.database, kind))
    if tally is None:
        pytest.skip(f"the generated {kind} test did not run on {gateways.database}")
    assert EXPECTED_OUTCOMES[kind] <= set(tally), dict(tally)
