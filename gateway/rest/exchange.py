"""HTTP's side of a REST request: the body's media type and JSON, ETags and If-Match."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from starlette.requests import Request

from gateway.http.media_type import utf8_media_type
from gateway.http.request_body import header
from gateway.rest.failures import malformed, unsupported_media_type

JSON_TYPES = frozenset({"application/json", "application/merge-patch+json"})
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
# An If-Match that names no version of ours can match nothing: a guard no row passes.
NO_VERSION = datetime(1, 1, 1, tzinfo=UTC)
MAX_VERSION_DIGITS = 20  # microseconds up to year 9999 take 18


async def json_object(request: Request) -> dict[str, Any]:
    """The body as a JSON object (RFC 7396 patches are objects too), or Refused."""
    # (a charset other than UTF-8's is refused, not misread: the body is read as UTF-8)
    if utf8_media_type(header(request, b"content-type") or "") not in JSON_TYPES:
        raise unsupported_media_type()
    try:
        data = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise malformed("is not valid JSON") from None
    if not isinstance(data, dict):
        raise malformed("must be a JSON object")
    return data


def etag(updated_at: datetime) -> str:
    """A strong ETag from the row's version: every write that changes a row moves updated_at."""
    return f'"{(updated_at - EPOCH) // MICROSECOND}"'


def versions(if_match: str | None) -> list[datetime] | None:
    """The versions an If-Match header accepts: None for any (absent or `*`). A tag that is
    no version of ours (weak, malformed) stands for NO_VERSION, which no row has."""
    if if_match is None or if_match.strip() == "*":
        return None
    return [_version(tag.strip()) for tag in if_match.split(",")]


def _version(tag: str) -> datetime:
    digits = tag[1:-1]
    # ASCII only: str.isdigit() takes superscripts that int() refuses (a 500 once); and
    # no longer than a version can be: int() refuses over 4,300 digits (a 500 too)
    if (
        len(tag) < 3
        or len(digits) > MAX_VERSION_DIGITS
        or tag[0] != '"'
        or tag[-1] != '"'
        or not (digits.isascii() and digits.isdigit())
    ):
        return NO_VERSION
    try:
        return EPOCH + int(digits) * MICROSECOND
    except OverflowError:
        return NO_VERSION


def not_modified(if_none_match: str | None, current: str) -> bool:
    """RFC 9110's weak comparison of If-None-Match with the current ETag."""
    if if_none_match is None:
        return False
    if if_none_match.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == current for tag in if_none_match.split(","))
