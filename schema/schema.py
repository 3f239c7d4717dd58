"""Builds the schema object from limits chosen by settings."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator

import strawberry
from graphql import GraphQLError
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    SchemaExtension,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as alias_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from db.errors import is_unavailable
from resolvers.errors import InvalidArgument
from schema.context import Context
from schema.mutation import Mutation
from schema.query import Query

PARSED_DOCUMENTS_KEPT = 512  # bounded: clients that inline literals cannot grow memory
log = logging.getLogger("patchbay.graphql")


class OperationName(SchemaExtension):
    """Notes the operation's name on the context, for the request's log line."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context):
            context.operation = self.execution_context.operation_name
        yield


class PatchbaySchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Log failures of ours only; a client's bad document is not a server event."""
        for error in errors:
            if error.path is None or error.original_error is None:
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
) -> strawberry.Schema:
    # The limit rules are built once: Strawberry's limiter extensions make a new rule class
    # per instance, which would change the validation cache's key on every request.
    rules: list[type[ASTValidationRule]] = [
        depth_rule(max_depth, None, None),
        alias_rule(max_aliases),
    ]
    if not introspection:
        rules.append(NoSchemaIntrospectionCustomRule)
    # Factories, not instances: Strawberry builds extensions per request; the parse and
    # validation caches behind ParserCache/ValidationCache are shared module-wide.
    extensions: list[Callable[[], SchemaExtension]] = [
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
        lambda: ParserCache(maxsize=PARSED_DOCUMENTS_KEPT),
        lambda: AddValidationRules(rules),
        lambda: ValidationCache(maxsize=PARSED_DOCUMENTS_KEPT),
        OperationName,
    ]
    return PatchbaySchema(
        query=Query,
        mutation=Mutation,
        extensions=extensions,
        config=StrawberryConfig(),
    )
