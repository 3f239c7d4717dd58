"""Builds the schema object from limits chosen by settings."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from graphql import GraphQLError
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.extensions import AddValidationRules, MaxTokensLimiter, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.schema.name_converter import NameConverter
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

from db.errors import DatabaseUnavailable, WriteOutcomeUnknown
from resolvers.errors import InvalidArgument
from schema.admission import CostAdmission, NotAdmitted
from schema.cost import Costs
from schema.documents import CachedDocuments, DocumentStore
from schema.extensions import OperationName
from schema.idempotent import idempotent
from schema.limits import limits_rule
from schema.mutation import Mutation
from schema.query import Query
from schema.request_errors import is_caller_error
from schema.shared_events import SharingExecutor
from schema.strawberry_internals import SchemaHidingSuggestions, graphql_core_schema
from schema.subscription import Subscription

log = logging.getLogger("patchbay.graphql")


class PatchbaySchema(SchemaHidingSuggestions):
    costs: Costs  # the costing of each document it ran (schema/cost.py)
    documents: DocumentStore  # the documents it parsed and judged
    rules: tuple[type[ASTValidationRule], ...]  # validation rules of ours, beside graphql's
    max_repeated_pairs: int
    max_selections: int

    async def execute(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        """One result per request: a subscription runs over WebSocket only (Subscription
        root), so HTTP refuses it as 400 BAD_REQUEST instead of running it as a query."""
        allowed = kwargs.get("allowed_operation_types")
        if allowed is not None and OperationType.SUBSCRIPTION in allowed:
            kwargs["allowed_operation_types"] = set(allowed) - {OperationType.SUBSCRIPTION}
        return await super().execute(*args, **kwargs)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log failures of ours only; a client's bad document is not a server event."""
        for error in errors:
            if error.original_error is None or is_caller_error(error):
                continue
            # a query or mutation sent over WebSocket: refused as the caller's (BAD_REQUEST)
            refused = InvalidArgument | NotAdmitted | InvalidOperationTypeError
            if isinstance(error.original_error, refused):
                continue
            request_id = getattr(getattr(execution_context, "context", None), "request_id", "-")
            if isinstance(error.original_error, DatabaseUnavailable | WriteOutcomeUnknown):
                log.warning(
                    "database %s request_id=%s: %s",
                    "unavailable"
                    if isinstance(error.original_error, DatabaseUnavailable)
                    else "stopped answering after a write was sent",
                    request_id,
                    error.original_error.cause_name,
                )
            else:
                log.error(
                    "unexpected error request_id=%s", request_id, exc_info=error.original_error
                )


class RememberedNames(NameConverter):
    """Strawberry's names, each converted once: it converts a field's Python name to camel
    case again every time it converts an argument, which was a sixth of a planned update's
    CPU (40,000 conversions for 4,000 requests)."""

    def __init__(self) -> None:
        super().__init__()
        self._names: dict[str, str] = {}

    def apply_naming_config(self, name: str) -> str:
        converted = self._names.get(name)
        if converted is None:
            converted = self._names[name] = super().apply_naming_config(name)
        return converted


def build_schema(
    *,
    max_depth: int = 10,
    max_aliases: int = 30,
    max_tokens: int = 5000,
    introspection: bool = True,
    suggestions: bool = True,
    max_repeated_pairs: int = 5000,
    max_document_chars: int = 100_000,
    max_selections: int = 1000,
) -> PatchbaySchema:
    # The limit rule is built once: a new rule class per request would change the validation
    # cache's key every time (Strawberry's limiter extensions do that, see schema/limits.py).
    rules: list[type[ASTValidationRule]] = [
        limits_rule(max_depth=max_depth, max_aliases=max_aliases),
    ]
    if not introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    # Factories, not instances: Strawberry builds extensions per request; the document store
    # is built here, once per schema, and shared by every request.
    costs, documents = Costs(), DocumentStore()
    extensions: list[Callable[[], SchemaExtension]] = [
        partial(MaxTokensLimiter, max_token_count=max_tokens),
        partial(AddValidationRules, rules),
        partial(
            CachedDocuments,
            store=documents,
            hide_suggestions=not suggestions,
            max_repeated_pairs=max_repeated_pairs,
            max_chars=max_document_chars,
            max_selections=max_selections,
        ),
        OperationName,
        partial(CostAdmission, costs=costs),
    ]
    schema = PatchbaySchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=extensions,
        directives=[idempotent],
        # a subscription event made once for many subscribers runs once per selection
        execution_context_class=SharingExecutor,
        config=StrawberryConfig(name_converter=RememberedNames()),
        hide_suggestions=not suggestions,
    )
    costs.schema = graphql_core_schema(schema)
    schema.costs = costs
    schema.documents = documents
    schema.rules = tuple(rules)
    schema.max_repeated_pairs = max_repeated_pairs
    schema.max_selections = max_selections
    return schema
