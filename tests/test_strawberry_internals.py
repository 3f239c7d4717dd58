"""Pins the Strawberry internals schema/strawberry_internals.py reads: an upgrade that
moves one fails here, by name."""

from __future__ import annotations

import inspect

import strawberry
from graphql import GraphQLSchema
from strawberry.types import ExecutionContext

from schema.schema import build_schema
from schema.strawberry_internals import (
    SchemaHidingSuggestions,
    graphql_core_schema,
    provided_operation_name,
)


def test_the_graphql_core_schema_is_the_one_strawberry_executes() -> None:
    schema = build_schema()
    core = graphql_core_schema(schema)
    assert isinstance(core, GraphQLSchema)
    assert core.get_type("Prompt") is not None
    assert core.mutation_type is not None and "updatePrompt" in core.mutation_type.fields


def test_the_provided_operation_name_is_kept_as_sent() -> None:
    schema = build_schema()
    for sent in (None, "Rename"):
        execution = ExecutionContext(
            query="query Rename { viewer { __typename } }",
            schema=schema,
            allowed_operations=frozenset(),
            provided_operation_name=sent,
        )
        assert provided_operation_name(execution) == sent


def test_the_hook_that_builds_execute_arguments_still_exists() -> None:
    hook = getattr(strawberry.Schema, "_get_custom_context_kwargs", None)
    assert hook is not None, "Strawberry renamed its execute() arguments hook"
    assert list(inspect.signature(hook).parameters) == ["self", "operation_extensions", "sync"]
    assert SchemaHidingSuggestions(query=_Query, hide_suggestions=True)._get_custom_context_kwargs(
        None
    )["hide_suggestions"]


@strawberry.type
class _Query:
    ok: bool = True
