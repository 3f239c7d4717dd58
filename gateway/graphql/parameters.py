"""The parameters of a GraphQL-over-HTTP POST (`query`, `operationName`, `variables`,
`extensions`) checked for their JSON types before anything runs, so that both executors see
only well-formed requests and a malformed one is the caller's 400 whichever would run it.
A graphql-transport-ws `subscribe` message's payload has the same parameters and gets the
same checks and refusals (gateway/graphql/websocket.py)."""

from __future__ import annotations

from typing import Any

from db.storable import is_storable
from gateway.graphql.refusals import NO_QUERY, Refusal

BATCH = Refusal("Batched requests are not supported: send one operation per request")
NOT_AN_OBJECT = Refusal("The request body must be a JSON object")
NOT_UTF8_OPERATION = Refusal("operationName must be a string of valid UTF-8")
_TYPES: tuple[tuple[str, type | tuple[type, ...], str], ...] = (
    ("query", (str, type(None)), "a string"),
    ("operationName", (str, type(None)), "a string or null"),
    ("variables", (dict, type(None)), "an object or null"),
    ("extensions", (dict, type(None)), "an object or null"),
    ("documentId", (str, type(None)), "a string"),
)


def checked_parameters(data: object) -> dict[str, Any]:
    """The request's parameters; a Refusal when their shape is wrong."""
    if isinstance(data, list):
        raise BATCH
    if not isinstance(data, dict):
        raise NOT_AN_OBJECT
    for name, types, expected in _TYPES:
        if not isinstance(data.get(name), types):
            raise Refusal(f"`{name}` must be {expected}")
    query = data.get("query")
    persisted = "documentId" in data or (
        isinstance(data.get("extensions"), dict) and "persistedQuery" in data["extensions"]
    )
    if query == "" or (query is None and not persisted):  # a document id or hash stands for it
        raise NO_QUERY
    operation = data.get("operationName")
    if isinstance(operation, str) and not is_storable(operation):
        raise NOT_UTF8_OPERATION
    return data
