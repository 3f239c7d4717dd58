"""The Idempotency-Key header (IETF draft), read the same way by every front."""

from __future__ import annotations

import re

from starlette.types import Scope

HEADER = b"idempotency-key"
KEY = re.compile(r"[\x21-\x7e]{1,255}")  # 1-255 visible ASCII characters
REPLAYED = (b"idempotent-replayed", b"true")  # on an answer given again for its key


def idempotency_key(scope: Scope) -> str | None:
    """The header's value as sent (None: no header); a quoted key (`"abc"`, the IETF
    draft's structured-field string) counts without its quotes."""
    for name, value in scope["headers"]:
        if name == HEADER:
            text: str = value.decode("latin-1")
            quoted = len(text) >= 2 and text[0] == text[-1] == '"'
            return text[1:-1] if quoted else text
    return None
