"""What a caller asked to change: one typed patch per entity.

A field left at UNSET was not sent and stays unchanged; None was sent as null. Fronts
build patches from their own input types; the rules see only these.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from enum import Enum
from typing import Any, Final


class _Unset(Enum):
    UNSET = "UNSET"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = _Unset.UNSET
Unset = _Unset


def api_name(python_name: str) -> str:
    """The field's name in the API and in error details: `file_name` -> `fileName`."""
    head, *rest = python_name.split("_")
    return head + "".join(word.capitalize() for word in rest)


@dataclass(frozen=True, kw_only=True, slots=True)
class Patch:
    def sent(self) -> dict[str, Any]:
        """The fields the caller sent, by API name, in declaration order."""
        return {
            api: value
            for name, api in _names(type(self))
            if (value := getattr(self, name)) is not UNSET
        }


_NAMES: dict[type, tuple[tuple[str, str], ...]] = {}  # once per patch class: every update asks


def _names(patch: type[Patch]) -> tuple[tuple[str, str], ...]:
    names = _NAMES.get(patch)
    if names is None:
        names = _NAMES[patch] = tuple((f.name, api_name(f.name)) for f in fields(patch))
    return names


@dataclass(frozen=True, kw_only=True, slots=True)
class PromptPatch(Patch):
    name: str | Unset | None = UNSET
    title: str | Unset | None = UNSET
    description: str | Unset | None = UNSET
    content: str | Unset | None = UNSET
    model: str | Unset | None = UNSET
    tags: list[str] | Unset | None = UNSET
    request_id: str | Unset | None = UNSET
    file_name: str | Unset | None = UNSET
    expected_updated_at: datetime | Unset | None = UNSET
    expected_version: int | Unset | None = UNSET


@dataclass(frozen=True, kw_only=True, slots=True)
class PoolPatch(Patch):
    name: str | Unset | None = UNSET
    slug: str | Unset | None = UNSET
    expected_updated_at: datetime | Unset | None = UNSET
    expected_version: int | Unset | None = UNSET
