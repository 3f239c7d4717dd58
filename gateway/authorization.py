"""The request's one Authorization header, for every room that reads a credential.

Two or more are refused as no credential at all: using the first would let a proxy that
reads the last one authorize someone else (`/graphql` and `/metrics` alike).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

log = logging.getLogger("patchbay.auth")


def authorization_header(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """From an ASGI scope's raw, lower-cased headers, in a single pass."""
    found: bytes | None = None
    for name, value in headers:
        if name == b"authorization":
            if found is not None:
                log.debug("request refused: more than one Authorization header")
                return None
            found = value
    return found.decode("latin-1") if found is not None else None
