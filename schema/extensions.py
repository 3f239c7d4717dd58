"""Strawberry extensions of ours: the operation-name rule, and which ones plans honour."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial

import strawberry
from graphql import (
    DocumentNode,
    GraphQLError,
    OperationDefinitionNode,
)
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, SchemaExtension

from schema.admission import CostAdmission
from schema.context import Context
from schema.documents import CachedDocuments
from schema.strawberry_internals import provided_operation_name

MISSING_OPERATION_NAME = "Must provide operation name if query contains multiple operations."


class OperationName(SchemaExtension):
    """Requires an operation name where the document has several operations (the GraphQL
    spec; Strawberry would run the first), and notes it on the context for the log line."""

    def on_validate(self) -> Iterator[None]:
        # Runs after CachedDocuments (listed before it) has set the validation errors,
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


# Extensions that act before execution (parse, validate, limits) or whose one execution-time
# effect the planned executor's caller reproduces (OperationName; CostAdmission, which the
# view asks before running a plan). A plan, compiled from a document that passed them all,
# honours them; any other extension keeps plans off.
BEFORE_EXECUTION = (
    MaxTokensLimiter,
    CachedDocuments,
    AddValidationRules,
    OperationName,
    CostAdmission,
)


def honours_every_extension(schema: strawberry.Schema) -> bool:
    for extension in schema.extensions:
        kind = extension.func if isinstance(extension, partial) else extension
        if not (isinstance(kind, type) and issubclass(kind, BEFORE_EXECUTION)):
            return False
    return True
