"""A request body's media type, for the fronts that read bodies as JSON in UTF-8."""

from __future__ import annotations

from email.message import Message
from functools import lru_cache

# The names of UTF-8 a client sends, in any case. Not codecs.lookup: it would accept more
# names for it than clients use, and remembers every name it is asked for, a caller's too.
_UTF8_NAMES = frozenset({"utf-8", "utf8"})


@lru_cache(maxsize=64)
def utf8_media_type(content_type: str) -> str | None:
    """The media type of a Content-Type, in lower case (RFC 9110 8.3.1: the name is
    case-insensitive), when the body is in UTF-8, the one encoding bodies are read in; None
    when its charset names another: such a body is refused, not misread. The stdlib's
    parser of the header (tens of µs), once per distinct header value."""
    message = Message()
    message["content-type"] = content_type
    (media, _), *parameters = message.get_params() or [("", "")]
    charset = dict(parameters).get("charset", "utf-8")
    # (an RFC 2231 `charset*=` parameter is parsed as a tuple: not a name of UTF-8)
    if not (isinstance(charset, str) and charset.strip().strip('"').lower() in _UTF8_NAMES):
        return None
    return media.lower()
