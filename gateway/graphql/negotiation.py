"""The media type of a GraphQL response, chosen from the request's Accept header as GraphQL
over HTTP says: `application/graphql-response+json` for a client that names it, and
`application/json` for one that names only it, sends a wildcard or sends no Accept at all.

The two differ in one rule: a request error (a document that does not parse or validate,
variables that do not coerce) is a 200 under `application/json`, whose clients read every
GraphQL response from a 200, and a 400 under `application/graphql-response+json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True, slots=True)
class ResponseMedia:
    headers: tuple[tuple[bytes, bytes], ...]  # the Content-Type header, ready for ASGI
    request_error_status: int

    @property
    def content_type(self) -> str:
        return self.headers[0][1].decode()


JSON = ResponseMedia(((b"content-type", b"application/json"),), 200)
GRAPHQL_RESPONSE = ResponseMedia(
    ((b"content-type", b"application/graphql-response+json; charset=utf-8"),), 400
)
_OFFERED = ((GRAPHQL_RESPONSE, "application/graphql-response+json"), (JSON, "application/json"))


@lru_cache(maxsize=64)
def response_media(accept: str) -> ResponseMedia | None:
    """The media to answer in; None when the caller accepts neither (406). Parsed once per
    distinct header value: clients send the same few."""
    if not accept.strip():
        return JSON  # the spec's rule for a client that predates the new media type
    ranges = media_ranges(accept)
    best: tuple[float, int, int] = (0.0, -1, -1)
    chosen = None
    for media, offered in _OFFERED:
        weight, specificity = _acceptance(ranges, offered)
        # When both are named, the new type wins a tie; a wildcard alone means JSON.
        preferred = int((media is GRAPHQL_RESPONSE) == (specificity == _EXACT))
        key = (weight, specificity, preferred)
        if weight > 0 and key > best:
            best, chosen = key, media
    return chosen


_EXACT, _SUBTYPE_WILDCARD, _WILDCARD = 2, 1, 0


def media_ranges(accept: str) -> list[tuple[str, float]]:
    """Each media range of the header with its weight (q), lower-cased, parameters dropped."""
    ranges = []
    for part in accept.split(","):
        media, *parameters = part.split(";")
        weight = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                weight = _weight(value)
        ranges.append((media.strip().lower(), weight))
    return ranges


def _weight(value: str) -> float:
    try:
        weight = float(value.strip())
    except ValueError:
        return 0.0  # a range with an unreadable weight is ignored rather than guessed at
    return min(max(weight, 0.0), 1.0)


def _acceptance(ranges: list[tuple[str, float]], offered: str) -> tuple[float, int]:
    """The weight the most specific matching range gives `offered` (RFC 9110, 12.5.1)."""
    kind = offered.split("/")[0]
    found: tuple[int, float] = (-1, 0.0)
    for media, weight in ranges:
        if media == offered:
            specificity = _EXACT
        elif media == f"{kind}/*":
            specificity = _SUBTYPE_WILDCARD
        elif media == "*/*":
            specificity = _WILDCARD
        else:
            continue
        if specificity > found[0]:
            found = (specificity, weight)
    return found[1], found[0]
