"""Top-level GraphQL errors: a contract code on each, internals never shown."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError

from db.errors import DatabaseUnavailable, WriteOutcomeUnknown
from resolvers.errors import InvalidArgument
from schema.admission import NotAdmitted

MASKED_MESSAGES = {
    "INTERNAL_SERVER_ERROR": "Internal server error",
    "SERVICE_UNAVAILABLE": "Service unavailable: the database cannot be reached, retry shortly",
    "OUTCOME_UNKNOWN": "The database stopped answering after the write was sent: it may or "
    "may not have been applied. Read the object again before retrying",
}

# Over Server-Sent Events (gateway/graphql/event_stream.py), the stream's one `next` event
SUBSCRIPTIONS_ONLY = (
    "Only subscriptions stream over Server-Sent Events: send queries and mutations with "
    "Accept: application/json"
)


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
        error.original_error,
        (GraphQLError, ValueError, TypeError, CannotGetOperationTypeError),
    )


def operation_not_found(cause: CannotGetOperationTypeError) -> str:
    """The GraphQL spec's GetOperation request errors, in graphql-core's words (Strawberry's
    exception carries only the name: its text is the bare name)."""
    name = cause.operation_name
    return "Must provide an operation." if name is None else f"Unknown operation named '{name}'."


def error_code(error: GraphQLError) -> str:
    if isinstance(error.original_error, NotAdmitted):
        return error.original_error.code
    if isinstance(error, GraphQLSyntaxError):
        return "GRAPHQL_PARSE_FAILED"
    own = (error.extensions or {}).get("code")
    if isinstance(own, str):  # raised with its code: a subscription's end (StreamEnded)
        return own
    if is_caller_error(error):  # validation, variable and argument coercion
        return "GRAPHQL_VALIDATION_FAILED"
    original = error.original_error
    if isinstance(original, InvalidArgument):
        return "BAD_USER_INPUT"
    if isinstance(original, DatabaseUnavailable):
        return "SERVICE_UNAVAILABLE"
    if isinstance(original, WriteOutcomeUnknown):
        return "OUTCOME_UNKNOWN"
    if isinstance(original, InvalidOperationTypeError):  # a query or mutation sent as a stream
        return "BAD_REQUEST"
    return "INTERNAL_SERVER_ERROR"


def format_error(error: GraphQLError, request_id: str) -> dict[str, Any]:
    code = error_code(error)
    formatted: dict[str, Any] = dict(error.formatted)
    extensions = dict(formatted.get("extensions") or {})
    if code in MASKED_MESSAGES:
        formatted["message"] = MASKED_MESSAGES[code]
        extensions = {}
    if isinstance(error.original_error, CannotGetOperationTypeError):  # over SSE
        formatted["message"] = operation_not_found(error.original_error)
    if isinstance(error.original_error, InvalidOperationTypeError):  # over SSE
        formatted["message"] = SUBSCRIPTIONS_ONLY
    if isinstance(error.original_error, NotAdmitted):
        extensions = {**extensions, **error.original_error.extensions}
    formatted["extensions"] = {**extensions, "code": code, "requestId": request_id}
    return formatted
