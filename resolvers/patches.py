"""What a caller asked to change: one typed patch per entity.

A field left at UNSET was not sent and stays unchanged; None was sent as null. Fronts
build patches from their own input types; the rules see only these.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Final, NamedTuple


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


class Patch:
    """What every patch does. Each patch class is a NamedTuple of its fields as well
    (below): immutable, and built in a fraction of a frozen dataclass's time (every
    update builds one)."""

    __slots__ = ()

    if TYPE_CHECKING:  # a tuple of its fields' values (its NamedTuple's)

        def __iter__(self) -> Iterator[Any]: ...

    def sent(self) -> dict[str, Any]:
        """The fields the caller sent, by API name, in declaration order."""
        return {
            api: value
            for api, value in zip(_api_names(type(self)), self, strict=True)
            if value is not UNSET
        }


_API_NAMES: dict[type, tuple[str, ...]] = {}  # once per patch class: every update asks


def _api_names(patch: type[Patch]) -> tuple[str, ...]:
    names = _API_NAMES.get(patch)
    if names is None:
        fields: tuple[str, ...] = patch._fields  # type: ignore[attr-defined]  # its NamedTuple's
        names = _API_NAMES[patch] = tuple(api_name(name) for name in fields)
    return names


class _PromptFields(NamedTuple):
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


class PromptPatch(_PromptFields, Patch):
    __slots__ = ()


class _PoolFields(NamedTuple):
    name: str | Unset | None = UNSET
    slug: str | Unset | None = UNSET
    expected_updated_at: datetime | Unset | None = UNSET
    expected_version: int | Unset | None = UNSET


class PoolPatch(_PoolFields, Patch):
    __slots__ = ()
