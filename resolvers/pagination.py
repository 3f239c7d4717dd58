"""Opaque keyset cursors and page sizes."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from resolvers.errors import InvalidArgument

MAX_PAGE_SIZE = 100
T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    rows: Sequence[T]
    keys: Sequence[str]  # each row's key; its cursor is encode_cursor(key)
    has_next_page: bool

    @property
    def items(self) -> list[tuple[str, T]]:
        """(cursor, row) of each row."""
        return [(encode_cursor(key), row) for key, row in zip(self.keys, self.rows, strict=True)]

    @property
    def end_cursor(self) -> str | None:
        return encode_cursor(self.keys[-1]) if self.keys else None


DEFAULT_PAGE_SIZE = 20


def page_size(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE_SIZE
    if first < 0:
        raise InvalidArgument("`first` must not be negative")
    return min(first, MAX_PAGE_SIZE)


def encode_cursor(key: str) -> str:
    return base64.urlsafe_b64encode(f"k:{key}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    if not raw.startswith("k:") or "\x00" in raw:
        raise InvalidArgument("`after` is not a cursor from this API")
    return raw[2:]


def make_page(rows: Sequence[T], size: int, key: Callable[[T], str]) -> Page[T]:
    """`rows` was fetched with size + 1 rows so the extra one tells if there is more."""
    visible = rows[:size]
    return Page(visible, [key(row) for row in visible], len(rows) > size)
