"""Input objects, as Strawberry converted them, turned into the rules' typed patches.

The fields come from the Strawberry type's own definition: a field added to an input type
reaches the patch of the same name without a second list to keep in step.
"""

from __future__ import annotations

from typing import Any, TypeVar

from strawberry.types.base import get_object_definition

from resolvers.patches import UNSET, Patch

P = TypeVar("P", bound=Patch)
# Each input class's fields, by Python name, with the position of the patch field of that
# name, and the patch's number of fields: read from the definitions once, not per request
_FIELDS: dict[tuple[type, type], tuple[tuple[tuple[str, int], ...], int]] = {}


def patch_from_input(value: object, patch: type[P]) -> P:
    """Each field the caller sent (a `strawberry.Maybe` that is set), in the patch's field
    of the same Python name; the others UNSET."""
    known = _FIELDS.get((type(value), patch))
    if known is None:
        known = _FIELDS[type(value), patch] = _positions(value, patch)
    positions, width = known
    values: list[Any] = [UNSET] * width
    for name, position in positions:
        maybe = getattr(value, name)
        if maybe is not None:
            values[position] = maybe.value
    # The patch (a NamedTuple) made as its _make makes it, without the Python frames of
    # _make or of its __new__
    return tuple.__new__(patch, values)  # type: ignore[type-var]


def _positions(value: object, patch: type[Patch]) -> tuple[tuple[tuple[str, int], ...], int]:
    definition = get_object_definition(value, strict=True)
    patch_fields: tuple[str, ...] = patch._fields  # type: ignore[attr-defined]
    names = [field.python_name for field in definition.fields]
    if unknown := set(names) - set(patch_fields):
        raise TypeError(f"{patch.__name__} has no field {sorted(unknown)}")
    return tuple((name, patch_fields.index(name)) for name in names), len(patch_fields)
