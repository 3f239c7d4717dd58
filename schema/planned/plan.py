"""A compiled document: what to resolve at its one root field and how to write the result."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from graphql import FieldNode, GraphQLField, OperationDefinitionNode
from graphql.execution.values import VariableValues
from strawberry.types.arguments import StrawberryArgument

# The body of a plannable root field: the function its Strawberry resolver delegates to,
# called with the field's arguments as Strawberry converts them (input objects included).
RootBody = Callable[..., Awaitable[object]]
Serializer = Callable[[Any], Any]


class Unplannable(Exception):
    """The document uses something the planned executor cannot honour."""


class NullInNonNull(Exception):
    """A resolver produced null where the schema promises a value (a bug of ours)."""


@dataclass(frozen=True, slots=True)
class Plan:
    operation: OperationDefinitionNode
    operation_name: str | None
    response_key: str
    field: GraphQLField
    node: FieldNode
    arguments: list[StrawberryArgument]
    # The arguments as Strawberry would convert them, built once (planned/arguments.py);
    # None: Strawberry's convert_arguments is called instead
    convert: Callable[[dict[str, Any]], dict[str, Any]] | None
    resolve: RootBody
    serialize: Serializer
    # the operation's variables coerced as graphql-core would (schema/planned/variables.py);
    # None, or None from it: graphql-core's get_variable_values
    variables: Callable[[dict[str, Any]], VariableValues | None] | None = None
    # the root field's arguments from the coerced variables (schema/planned/argument_values.py);
    # None, or None from it: graphql-core's get_argument_values
    argument_values: Callable[[VariableValues], dict[str, Any] | None] | None = None
    # converted arguments by the scalar variables they came from (schema/planned/executor.py)
    arguments_cache: dict[tuple[Any, ...], dict[str, Any]] = dataclass_field(
        default_factory=dict, compare=False, repr=False
    )
