"""Builds the schema object from limits chosen by settings."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

import strawberry
from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    parse,
    validate,
)
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, ParserCache, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types import ExecutionContext

from db.errors import is_unavailable
from resolvers.errors import InvalidArgument
from schema.context import Context
from schema.limits import limits_rule
from schema.mutation import Mutation
from schema.query import Query

PARSED_DOCUMENTS_KEPT = 512  # bounded: clients that inline literals cannot grow memory
log = logging.getLogger("patchbay.graphql")


MISSING_OPERATION_NAME = "Must provide operation name if query contains multiple operations."


class OperationName(SchemaExtension):
    """Requires an operation name where the document has several operations (the GraphQL
    spec; Strawberry would run the first), and notes it on the context for the log line."""

    def on_validate(self) -> Iterator[None]:
        # Runs after CachedValidation (listed before it) has set the validation errors,
        # and before Strawberry checks them.
        execution = self.execution_context
        provided = getattr(execution, "_provided_operation_name", "")  # Strawberry keeps it private
        document = execution.graphql_document
        if provided is None and document is not None and _operation_count(document) > 1:
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


def is_caller_error(error: GraphQLError) -> bool:
    """The caller's document or variables are at fault: a request error, or graphql-core
    refusing a field's arguments (e.g. a null variable for a non-null argument)."""
    return is_request_error(error) or isinstance(error.original_error, GraphQLError)


def is_request_error(error: GraphQLError) -> bool:
    """Raised before any field ran because of the caller's document or variables: a parse or
    validation error, or a variable a scalar refused. Anything else raised that early (a crash
    inside a validation rule, say) is a failure of ours, to be masked and logged."""
    if error.path is not None:
        return False
    return error.original_error is None or isinstance(
        error.original_error, (GraphQLError, ValueError, TypeError)
    )


# Caches hold documents up to this length; longer ones (long inline literals) are parsed and
# validated every time, so the caches' memory stays small whatever clients send.
CACHED_DOCUMENT_CHARS = 16 * 1024


class ParserCacheForShortDocuments(ParserCache):
    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if len(context.query or "") <= CACHED_DOCUMENT_CHARS:
            yield from super().on_parse()
            return
        context.graphql_document = parse(context.query or "", **context.parse_options)
        yield


@lru_cache(maxsize=PARSED_DOCUMENTS_KEPT)
def _validate(
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
        context.pre_execution_errors = (_validate if cached else _validate.__wrapped__)(
            context.schema._schema,
            context.graphql_document,
            context.validation_rules,
            self.hide_suggestions,
        )
        yield


class PatchbaySchema(strawberry.Schema):
    def __init__(self, *, hide_suggestions: bool = False, **options: Any) -> None:
        super().__init__(**options)
        self.hide_suggestions = hide_suggestions

    def _get_custom_context_kwargs(
        self, operation_extensions: dict[str, Any] | None = None, *, sync: bool = False
    ) -> dict[str, Any]:
        """Strawberry hands these to graphql-core's execute(), whose `hide_suggestions` drops
        "Did you mean …?" from variable errors (validation gets it from CachedValidation)."""
        kwargs = super()._get_custom_context_kwargs(operation_extensions, sync=sync)
        return {**kwargs, "hide_suggestions": self.hide_suggestions}

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log failures of ours only; a client's bad document is not a server event."""
        for error in errors:
            if error.original_error is None or is_caller_error(error):
                continue
            if isinstance(error.original_error, InvalidArgument):
                continue
            request_id = getattr(getattr(execution_context, "context", None), "request_id", "-")
            if is_unavailable(error.original_error):
                log.warning(
                    "database unavailable request_id=%s: %s",
                    request_id,
                    type(error.original_error).__name__,
                )
            else:
                log.error(
                    "unexpected error request_id=%s", request_id, exc_info=error.original_error
                )


def build_schema(
    *,
    max_depth: int = 10,
    max_aliases: int = 30,
    max_tokens: int = 5000,
    introspection: bool = True,
    suggestions: bool = True,
) -> strawberry.Schema:
    # The limit rule is built once: a new rule class per request would change the validation
    # cache's key every time (Strawberry's limiter extensions do that, see schema/limits.py).
    rules: list[type[ASTValidationRule]] = [
        limits_rule(max_depth=max_depth, max_aliases=max_aliases),
    ]
    if not introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    # Factories, not instances: Strawberry builds extensions per request; the parse and
    # validation caches behind ParserCache/CachedValidation are shared module-wide.
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
        lambda: ParserCacheForShortDocuments(maxsize=PARSED_DOCUMENTS_KEPT),
        lambda: AddValidationRules(rules),
        lambda: CachedValidation(hide_suggestions=not suggestions),
        OperationName,
    ]
    return PatchbaySchema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,
        config=StrawberryConfig(),
        hide_suggestions=not suggestions,
    )
