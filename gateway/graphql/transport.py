"""Bodies in and out of the GraphQL view: read once, JSON both ways, nothing per request
that can be done once."""

from __future__ import annotations

import json
from datetime import datetime

import orjson

JSON_HEADERS = ((b"content-type", b"application/json"),)
# Scope state: a POST body's JSON, decoded by idempotency.py, for the view to take
BODY_DECODED = "body_decoded"
# Scope state: idempotency.py asked the persisted-query store for the body's hash in vain
# (or could not ask it): the view answers so without asking again
PERSISTED_QUERY_MISSED = "persisted_query_missed"


def encode_json(data: object) -> bytes:
    try:
        return orjson.dumps(data)
    except orjson.JSONEncodeError:  # a caller's lone surrogate echoed back (an id)
        return json.dumps(data, default=_isoformat).encode()


def _isoformat(value: object) -> str:
    """What orjson writes for the datetimes planned answers leave to it (UTC ones)."""
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def decode_json(data: str | bytes) -> object:
    """Any undecodable body is a 400, not a 500: Strawberry answers 400 only for
    JSONDecodeError, while invalid UTF-8 and too deep nesting escape as other errors."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        pass  # e.g. a lone surrogate: the stdlib reads it and our rules then name the field
    # UTF-8 only (json.loads would detect UTF-16 and UTF-32 bytes and read them), as
    # json.loads reads UTF-8: a byte-order mark skipped, surrogates' bytes let through
    try:
        text = data.decode("utf-8-sig", "surrogatepass") if isinstance(data, bytes) else data
        return json.loads(text)
    except (ValueError, RecursionError) as error:
        raise json.JSONDecodeError(type(error).__name__, "", 0) from None


class _NoSubResponse:
    """What Strawberry reads from a sub-response when resolvers added nothing to it."""

    class _Headers:
        raw: tuple[tuple[bytes, bytes], ...] = ()

    headers = _Headers()
    status_code = None
    background = None


NO_SUB_RESPONSE = _NoSubResponse()
