"""A plan's variables are coerced exactly as graphql-core's get_variable_values coerces them
(schema/planned/variables.py), or left to it: for any JSON the client may send, the fast
coercion gives the same values, or gives up (None) where graphql-core finds an error."""

from __future__ import annotations

from typing import Any

from graphql import parse
from graphql.execution.values import VariableValues, get_variable_values
from hypothesis import event, given, settings
from hypothesis import strategies as st

from schema.planned.variables import variables_coercer
from schema.schema import build_schema
from schema.strawberry_internals import graphql_core_schema

CORE = graphql_core_schema(build_schema())
DOCUMENTS = [
    "mutation U($id: ID!, $input: UpdatePromptInput!) { updatePrompt(id: $id, input: $input) "
    "{ __typename } }",
    "mutation P($id: ID!, $input: UpdateGuardrailPoolInput) "
    "{ updateGuardrailPool(id: $id, input: $input) { __typename } }",
    "query L($n: Int, $after: String, $flag: Boolean, $ids: [ID], $tags: [String!]!) "
    "{ prompts(first: $n, after: $after) { __typename } }",
]
FIELDS = [
    "id", "input", "n", "after", "flag", "ids", "tags", "name", "title", "description",
    "content", "model", "tags", "expectedUpdatedAt", "requestId", "slug", "bogus",
]  # fmt: skip
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**40), max_value=2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.sampled_from(["2026-01-02T03:04:05Z", "prm_acme_welcome", "nope"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(FIELDS), inner),
    max_leaves=12,
)

TEXT = st.text(max_size=8)
INPUT_FIELDS = ["name", "title", "description", "tags", "expectedUpdatedAt", "slug", "bogus"]
# mostly well-formed, so that both outcomes come up often
PLAUSIBLE = st.fixed_dictionaries(
    {"id": TEXT | st.integers(), "tags": st.lists(TEXT, max_size=3)},
    optional={
        "input": st.dictionaries(
            st.sampled_from(INPUT_FIELDS), st.none() | TEXT | st.lists(TEXT, max_size=3) | JSON
        ),
        "n": st.none() | st.integers(min_value=-(2**33), max_value=2**33),
        "after": st.none() | TEXT,
        "flag": st.booleans() | JSON,
        "ids": st.lists(TEXT | st.integers(), max_size=3) | TEXT,
    },
)


@settings(max_examples=300)
@given(
    document=st.sampled_from(DOCUMENTS),
    variables=PLAUSIBLE | st.dictionaries(st.sampled_from(FIELDS), JSON, max_size=6),
)
def test_variables_coerce_as_graphql_core_coerces_them(
    document: str, variables: dict[str, Any]
) -> None:
    definitions = parse(document).definitions[0].variable_definitions  # type: ignore[attr-defined]
    coerce = variables_coercer(CORE, definitions)
    assert coerce is not None  # these shapes are all copied
    general = get_variable_values(CORE, definitions, variables)
    fast = coerce(variables)
    if isinstance(general, VariableValues):
        event("coerced")
        assert fast is not None
        assert fast.coerced == general.coerced
        assert list(fast.coerced) == list(general.coerced)
        assert _sources(fast) == _sources(general)
    else:
        event("refused")
        assert fast is None  # an error: the general path runs and reports it


def _sources(values: VariableValues) -> dict[str, tuple[str, str, Any]]:
    # the signatures are built once per plan: equal, not the same objects
    return {
        name: (source.signature.name, str(source.signature.type), source.value)
        for name, source in values.sources.items()
    }


def test_a_variable_default_is_left_to_graphql_core() -> None:
    document = "query L($n: Int = 3) { prompts(first: $n) { __typename } }"
    definitions = parse(document).definitions[0].variable_definitions  # type: ignore[attr-defined]
    assert variables_coercer(CORE, definitions) is None
