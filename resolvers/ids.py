"""Ids from callers: a malformed id is simply an id that matches nothing."""

from __future__ import annotations

import re
import uuid
from urllib.parse import quote

from db.storable import is_storable
from resolvers.checks import has_control_characters

MAX_PROMPT_ID_LENGTH = 128


def prompt_id(raw: str) -> str | None:
    if not raw or len(raw) > MAX_PROMPT_ID_LENGTH:
        return None
    if not is_storable(raw) or has_control_characters(raw):
        return None
    return raw


_NEEDS_QUOTING = re.compile(r"[^A-Za-z0-9_.~-]").search


def path_segment(prompt_id: str) -> str:
    """A prompt id as one segment of a link's path: any string is an id, and one holding `/`,
    `?`, `#` or `%` is reached percent-encoded (the quick check spares the common id)."""
    return quote(prompt_id, safe="") if _NEEDS_QUOTING(prompt_id) else prompt_id


def pool_id(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw) if is_storable(raw) else None
    except ValueError:
        return None


MAX_REQUEST_ID_LENGTH = 128


def request_id(raw: str) -> str | None:
    """An upload's request id, or None for one that cannot name any upload."""
    if not raw or len(raw) > MAX_REQUEST_ID_LENGTH or not is_storable(raw):
        return None
    return raw
