"""The @idempotent directive: Shopify's GraphQL-native Idempotency-Key.

The gateway reads the key from the document before running it (mutation_key, for
gateway/graphql/idempotency.py); in the schema the directive only has to exist, and leaves
the field's value as it is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import strawberry
from graphql import (
    GraphQLError,
    OperationDefinitionNode,
    OperationType,
    StringValueNode,
    VariableNode,
    parse,
)
from graphql.utilities import get_operation_ast
from strawberry.directive import DirectiveLocation, DirectiveValue


@strawberry.directive(
    locations=[DirectiveLocation.FIELD],
    description="On a mutation's root field: the request's idempotency key, as the "
    "Idempotency-Key header would give it (1-255 visible ASCII characters). A retry with the "
    "same key gets the first answer.",
)
def idempotent(value: DirectiveValue[Any], key: str) -> Any:
    return value


# Bounds for reading a document before it is admitted (the request's own caps apply later):
# the defaults of PATCHBAY_MAX_DOCUMENT_CHARS and PATCHBAY_MAX_TOKENS.
MAX_CHARS, MAX_TOKENS = 100_000, 5_000


@dataclass(frozen=True, slots=True)
class MutationKey:
    key: str | None  # @idempotent's key on a root field; "" if it is no string; None: absent


def mutation_key(document: str, operation_name: str | None, variables: Any) -> MutationKey | None:
    """What the operation says about idempotency; None when it is no mutation (or does not
    parse: Strawberry answers that, and nothing runs)."""
    if len(document) > MAX_CHARS:
        return None  # refused as too long where it runs; parsing it here would take the loop
    try:
        operation = get_operation_ast(parse(document, max_tokens=MAX_TOKENS), operation_name)
    except GraphQLError:
        return None
    if operation is None or operation.operation is not OperationType.MUTATION:
        return None
    return MutationKey(_directive_key(operation, variables))


def _directive_key(operation: OperationDefinitionNode, variables: Any) -> str | None:
    """The key of the first root field with @idempotent (a key is per request): a literal or
    a variable."""
    for selection in operation.selection_set.selections:
        for directive in selection.directives or ():
            if directive.name.value != "idempotent":
                continue
            for argument in directive.arguments or ():
                value = argument.value
                if argument.name.value != "key":
                    continue
                if isinstance(value, StringValueNode):
                    return value.value
                if isinstance(value, VariableNode) and isinstance(variables, dict):
                    found = variables.get(value.name.value)
                    return found if isinstance(found, str) else ""
                return ""
    return None
