"""Input objects, as Strawberry converted them, turned into the rules' typed patches.

The fields come from the Strawberry type's own definition: a field added to an input type
reaches the patch of the same name without a second list to keep in step.
"""

from __future__ import annotations

from typing import Any, TypeVar

from strawberry.types.base import get_object_definition

from resolvers.patches import Patch

P = TypeVar("P", bound=Patch)


def patch_from_input(value: object, patch: type[P]) -> P:
    """Each field the caller sent (a `strawberry.Maybe` that is set), by Python name."""
    definition = get_object_definition(value, strict=True)
    sent: dict[str, Any] = {}
    for field in definition.fields:
        maybe = getattr(value, field.python_name)
        if maybe is not None:
            sent[field.python_name] = maybe.value
    return patch(**sent)
