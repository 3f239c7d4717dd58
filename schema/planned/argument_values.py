"""A plan's root field arguments as graphql-core's get_argument_values gives them, with the
work that depends only on the document done once.

Where every argument the document passes is a bare variable of exactly the argument's type
(`updatePrompt(id: $id, input: $input)`), the coerced variables are the argument values:
looked up by name, with each absent argument's default (an immutable scalar) worked out
once, instead of graphql-core's walk through each argument's node per request. Anything
else (a literal, a variable of another type, a variable not given, a default that is a
list or an object) is left to graphql-core: None, for the plan or for the request.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from graphql import (
    FieldNode,
    GraphQLField,
    GraphQLSchema,
    Undefined,
    VariableDefinitionNode,
    VariableNode,
    is_non_null_type,
    is_required_argument,
)
from graphql.execution.values import VariableValues
from graphql.utilities import type_from_ast
from graphql.utilities.coerce_input_value import coerce_default_value

ArgumentValues = Callable[[VariableValues], dict[str, Any] | None]
_IMMUTABLE = frozenset({str, int, float, bool, type(None)})


def argument_values(
    schema: GraphQLSchema,
    field: GraphQLField,
    node: FieldNode,
    definitions: Collection[VariableDefinitionNode],
) -> ArgumentValues | None:
    """The field's argument values from the coerced variables, or None: graphql-core's."""
    types = {d.variable.name.value: d.type for d in definitions}
    given = {argument.name.value: argument.value for argument in node.arguments or ()}
    # (out name, variable name or None for the default, the default, whether null is
    # refused), in the field's order of arguments, as graphql-core fills its dict
    sources: list[tuple[str, str | None, Any, bool]] = []
    for name, definition in field.args.items():
        out = definition.out_name or name
        value = given.get(name)
        if value is None:
            if is_required_argument(definition):
                return None  # an error: graphql-core reports it
            try:
                default = coerce_default_value(definition)
            except TypeError:
                return None
            if default is not Undefined:
                if type(default) not in _IMMUTABLE:
                    return None  # shared by every request: a list would leak changes
                sources.append((out, None, default, False))
            continue
        if not isinstance(value, VariableNode) or value.name.value not in types:
            return None
        variable_type = type_from_ast(schema, types[value.name.value])
        if variable_type is None or str(variable_type) != str(definition.type):
            return None
        sources.append((out, value.name.value, None, is_non_null_type(definition.type)))

    def values(variables: VariableValues) -> dict[str, Any] | None:
        coerced = variables.coerced
        found: dict[str, Any] = {}
        for out, variable, default, non_null in sources:
            if variable is None:
                found[out] = default
                continue
            value = coerced.get(variable, Undefined)
            if value is Undefined or (value is None and non_null):
                return None  # not given (its default), or an error: graphql-core's way
            found[out] = value
        return found

    return values
