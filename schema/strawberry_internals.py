"""The one place that reads Strawberry's private attributes.

Strawberry has no public accessor for these; each is pinned by
tests/test_strawberry_internals.py, so an upgrade that moves one fails there, by name,
instead of somewhere in the hot path.
"""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLSchema
from strawberry.types import ExecutionContext


def graphql_core_schema(schema: strawberry.Schema) -> GraphQLSchema:
    """The graphql-core schema Strawberry built (validation and the planned executor)."""
    core: GraphQLSchema = schema._schema
    return core


def provided_operation_name(execution: ExecutionContext) -> str | None:
    """The operationName the caller sent; "" when Strawberry did not record it.

    `execution.operation_name` would name the only operation of a document instead."""
    provided: Any = getattr(execution, "_provided_operation_name", "")
    return provided if isinstance(provided, str) or provided is None else ""
