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


class SchemaHidingSuggestions(strawberry.Schema):
    """Passes `hide_suggestions` to graphql-core's execute(), which then drops "Did you
    mean …?" from variable errors (validation gets it from CachedValidation). Strawberry
    builds execute()'s extra arguments in a private hook: this overrides it."""

    def __init__(self, *, hide_suggestions: bool = False, **options: Any) -> None:
        super().__init__(**options)
        self.hide_suggestions = hide_suggestions

    def _get_custom_context_kwargs(
        self, operation_extensions: dict[str, Any] | None = None, *, sync: bool = False
    ) -> dict[str, Any]:
        kwargs = super()._get_custom_context_kwargs(operation_extensions, sync=sync)
        return {**kwargs, "hide_suggestions": self.hide_suggestions}
