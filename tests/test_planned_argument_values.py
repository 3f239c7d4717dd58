"""A plan's root field arguments are read from the coerced variables exactly as graphql-core's
get_argument_values reads them (schema/planned/argument_values.py), or left to it: for
documents of every shape the fast way gives the same arguments, or gives up (None)."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import FieldNode, OperationDefinitionNode, parse
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values

from schema.planned.argument_values import argument_values
from schema.schema import build_schema
from schema.strawberry_internals import graphql_core_schema

CORE = graphql_core_schema(build_schema())
UPDATE = "mutation U($id: ID!, $input: UpdatePromptInput!) { updatePrompt(id: $id, input: $input) "
PAGE = "query L($n: Int, $after: String) { prompts(first: $n, after: $after) "
# (document, variables, whether the fast way answers)
CASES: list[tuple[str, dict[str, Any], bool]] = [
    (UPDATE + "{ __typename } }", {"id": "p", "input": {"description": "d"}}, True),
    (UPDATE + "{ __typename } }", {"id": "p", "input": {"tags": None}}, True),
    (
        "mutation U($id: ID!, $input: UpdatePromptInput!, $dry: Boolean) "
        "{ updatePrompt(id: $id, input: $input, dryRun: $dry) { __typename } }",
        {"id": "p", "input": {}, "dry": True},
        True,
    ),
    (  # a nullable variable not given: the argument's default, graphql-core's way
        "mutation U($id: ID!, $input: UpdatePromptInput!, $dry: Boolean) "
        "{ updatePrompt(id: $id, input: $input, dryRun: $dry) { __typename } }",
        {"id": "p", "input": {}},
        False,
    ),
    (
        "mutation U($id: ID!, $input: UpdatePromptInput!, $dry: Boolean) "
        "{ updatePrompt(id: $id, input: $input, dryRun: $dry) { __typename } }",
        {"id": "p", "input": {}, "dry": None},
        True,
    ),
    (  # a literal argument
        'mutation U($input: UpdatePromptInput!) { updatePrompt(id: "p", input: $input) '
        "{ __typename } }",
        {"input": {"name": "n"}},
        False,
    ),
    (  # a variable of another (narrower) type than the argument's
        "query L($n: Int!) { prompts(first: $n) { __typename } }",
        {"n": 5},
        False,
    ),
    (PAGE + "{ __typename } }", {"n": 5, "after": "c"}, True),
    (PAGE + "{ __typename } }", {"n": None}, False),
    ("query { prompts { __typename } }", {}, True),  # defaults only
    ("query { prompts(first: 3) { __typename } }", {}, False),
]


@pytest.mark.parametrize(("document", "variables", "answers"), CASES)
def test_arguments_are_read_as_graphql_core_reads_them(
    document: str, variables: dict[str, Any], answers: bool
) -> None:
    # given: a document's root field and its coerced variables
    operation = parse(document).definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    node = operation.selection_set.selections[0]
    assert isinstance(node, FieldNode)
    root = CORE.mutation_type if operation.operation.value == "mutation" else CORE.query_type
    assert root is not None
    field = root.fields[node.name.value]
    definitions = operation.variable_definitions or ()
    coerced = get_variable_values(CORE, definitions, variables)
    assert isinstance(coerced, VariableValues)
    # when: the plan's way reads the arguments
    read = argument_values(CORE, field, node, definitions)
    fast = read(coerced) if read is not None else None
    # then: graphql-core's arguments, in its order, or nothing (graphql-core then runs)
    assert (fast is not None) is answers
    if fast is not None:
        general = get_argument_values(field, node, coerced)
        assert fast == general
        assert list(fast) == list(general)
