"""Top-level GraphQL errors: a contract code on each, internals never shown."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError

from db.errors import is_unavailable
from resolvers.errors import InvalidArgument
from schema.schema import is_caller_error

MASKED_MESSAGES = {
    "INTERNAL_SERVER_ERROR": "Internal server error",
    "SERVICE_UNAVAILABLE": "Service unavailable: the database cannot be reached, retry shortly",
}


def error_code(error: GraphQLError) -> str:
    if isinstance(error, GraphQLSyntaxError):
        return "GRAPHQL_PARSE_FAILED"
    if is_caller_error(error):  # validation, variable and argument coercion
        return "GRAPHQL_VALIDATION_FAILED"
    original = error.original_error
    if isinstance(original, InvalidArgument):
        return "BAD_USER_INPUT"
    if original is not None and is_unavailable(original):
        return "SERVICE_UNAVAILABLE"
    return "INTERNAL_SERVER_ERROR"


def format_error(error: GraphQLError, request_id: str) -> dict[str, Any]:
    code = error_code(error)
    formatted: dict[str, Any] = dict(error.formatted)
    extensions = dict(formatted.get("extensions") or {})
    if code in MASKED_MESSAGES:
        formatted["message"] = MASKED_MESSAGES[code]
        extensions = {}
    formatted["extensions"] = {**extensions, "code": code, "requestId": request_id}
    return formatted
