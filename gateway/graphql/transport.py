"""Bodies in and out of the GraphQL view: read once, JSON both ways, nothing per request
that can be done once."""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache

import orjson
from strawberry.http.parse_content_type import parse_content_type

JSON_HEADERS = ((b"content-type", b"application/json"),)


@lru_cache(maxsize=64)
def is_json_in_utf8(content_type: str) -> bool:
    """The body is application/json in UTF-8, the one encoding it is read in: a charset that
    names another is refused, not misread. Strawberry's reading of the header (email's
    parser: tens of µs), once per distinct header value."""
    media, parameters = parse_content_type(content_type)
    # (a media type's name is case-insensitive, RFC 9110 8.3.1: the parser keeps its case)
    return media.lower() == "application/json" and _is_utf8(parameters.get("charset", "utf-8"))


# The names of UTF-8 a client sends, in any case. Not codecs.lookup: it would accept more
# names for it than clients use, and remembers every name it is asked for, a caller's too.
_UTF8_NAMES = frozenset({"utf-8", "utf8"})


def _is_utf8(charset: object) -> bool:
    # (an RFC 2231 `charset*=` parameter is parsed as a tuple: not a name of UTF-8)
    return isinstance(charset, str) and charset.strip().strip('"').lower() in _UTF8_NAMES


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
    try:
        return json.loads(data)
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
