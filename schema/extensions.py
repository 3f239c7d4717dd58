"""Strawberry extensions: caches bounded by document size, and the operation-name rule."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache, partial

import strawberry
from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    parse,
    validate,
)
from graphql.validation import ASTValidationRule
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, ParserCache, SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from schema.context import Context
from schema.strawberry_internals import graphql_core_schema, provided_operation_name

PARSED_DOCUMENTS_KEPT = 512  # bounded: clients that inline literals cannot grow memory
# Caches hold documents up to this length; longer ones (long inline literals) are parsed and
# validated every time, so the caches' memory stays small whatever clients send.
CACHED_DOCUMENT_CHARS = 16 * 1024
MISSING_OPERATION_NAME = "Must provide operation name if query contains multiple operations."


class OperationName(SchemaExtension):
    """Requires an operation name where the document has several operations (the GraphQL
    spec; Strawberry would run the first), and notes it on the context for the log line."""

    def on_validate(self) -> Iterator[None]:
        # Runs after CachedValidation (listed before it) has set the validation errors,
        # and before Strawberry checks them.
        execution = self.execution_context
        document = execution.graphql_document
        if (
            provided_operation_name(execution) is None
            and document is not None
            and _operation_count(document) > 1
        ):
            error = GraphQLError(MISSING_OPERATION_NAME)
            execution.pre_execution_errors = [*(execution.pre_execution_errors or []), error]
        yield

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context):
            context.operation = self.execution_context.operation_name
        yield


def _operation_count(document: DocumentNode) -> int:
    return sum(isinstance(d, OperationDefinitionNode) for d in document.definitions)


class ParserCacheForShortDocuments(ParserCache):
    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if len(context.query or "") <= CACHED_DOCUMENT_CHARS:
            yield from super().on_parse()
            return
        context.graphql_document = parse(context.query or "", **context.parse_options)
        yield


@lru_cache(maxsize=PARSED_DOCUMENTS_KEPT)
def cached_validation(
    schema: GraphQLSchema,
    document: DocumentNode,
    rules: tuple[type[ASTValidationRule], ...],
    hide_suggestions: bool,
) -> list[GraphQLError]:
    """Strawberry's validation (its rules added to ours), cached like its ValidationCache."""
    rules = (*rules, MaybeNullValidationRule, OneOfInputValidationRule)
    return validate(schema, document, rules, hide_suggestions=hide_suggestions)


class CachedValidation(SchemaExtension):
    """Strawberry's ValidationCache, with graphql-core's `hide_suggestions` passed on."""

    def __init__(self, *, hide_suggestions: bool) -> None:
        super().__init__()
        self.hide_suggestions = hide_suggestions

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        assert context.graphql_document is not None
        cached = len(context.query or "") <= CACHED_DOCUMENT_CHARS
        context.pre_execution_errors = (
            cached_validation if cached else cached_validation.__wrapped__
        )(
            graphql_core_schema(context.schema),
            context.graphql_document,
            context.validation_rules,
            self.hide_suggestions,
        )
        yield


# Extensions that act before execution (parse, validate, limits) or whose one execution-time
# effect the planned executor reproduces (OperationName). A plan, compiled from a document
# that passed them all, honours them; any other extension keeps plans off.
BEFORE_EXECUTION = (
    MaxTokensLimiter,
    ParserCacheForShortDocuments,
    AddValidationRules,
    CachedValidation,
    OperationName,
)


def honours_every_extension(schema: strawberry.Schema) -> bool:
    for extension in schema.extensions:
        kind = extension.func if isinstance(extension, partial) else extension
        if not (isinstance(kind, type) and issubclass(kind, BEFORE_EXECUTION)):
            return False
    return True
