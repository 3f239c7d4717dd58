"""Input objects, as Strawberry converted them, turned into the rules' typed patches.

The fields come from the Strawberry type's own definition: a field added to an input type
reaches the patch of the same name without a second list to keep in step.
"""

from __future__ import annotations

from typing import Any, TypeVar

from strawberry.types.base import get_object_definition

from resolvers.patches import Patch

P = TypeVar("P", bound=Patch)
# Python names of each input class's fields: read from its definition once, not per request
_NAMES: dict[type, tuple[str, ...]] = {}


def patch_from_input(value: object, patch: type[P]) -> P:
    """Each field the caller sent (a `strawberry.Maybe` that is set), by Python name."""
    names = _NAMES.get(type(value))
    if names is None:
        definition = get_object_definition(value, strict=True)
        names = _NAMES[type(value)] = tuple(field.python_name for field in definition.fields)
    sent: dict[str, Any] = {}
    for name in names:
        maybe = getattr(value, name)
        if maybe is not None:
            sent[name] = maybe.value
    return patch(**sent)
