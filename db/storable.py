"""What both databases can store in a text column."""

from __future__ import annotations


def is_storable(value: str) -> bool:
    """PostgreSQL refuses NUL, and lone surrogates cannot be encoded as UTF-8."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
