"""A root field's arguments as its resolver gets them from Strawberry, built faster.

Strawberry's convert_arguments walks each argument's type on every call (and converts each
field name again); for the shapes our mutations take, what it builds is known once the
types are: leaves pass through, lists of leaves are copied, and an input object whose
fields are all `Maybe` leaves (or lists of leaves) is the class with `Some(value)` for each
field sent. Those converters are built here, once per plan, from the Strawberry types; any
other shape gets None, and the plan calls Strawberry's own conversion.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from strawberry.relay.types import GlobalID
from strawberry.schema.compat import is_scalar
from strawberry.types.arguments import StrawberryArgument
from strawberry.types.base import (
    StrawberryList,
    StrawberryMaybe,
    StrawberryOptional,
    get_object_definition,
)
from strawberry.types.maybe import Some

Converter = Callable[[Any], Any]
Scalars = Mapping[Any, Any]


def arguments_converter(
    arguments: list[StrawberryArgument], scalars: Scalars, graphql_name: Callable[[Any], str]
) -> Callable[[dict[str, Any]], dict[str, Any]] | None:
    """(coerced arguments by GraphQL name) -> keyword arguments, or None: not this shape."""
    by_name: dict[str, tuple[str, Converter]] = {}
    for argument in arguments:
        convert = _value(argument.type, scalars, graphql_name)
        if convert is None:
            return None
        by_name[graphql_name(argument)] = (argument.python_name, convert)

    def convert_all(raw: dict[str, Any]) -> dict[str, Any]:
        converted = {}
        for name, value in raw.items():
            python_name, convert = by_name[name]
            converted[python_name] = value if convert is _same else convert(value)
        return converted

    return convert_all


def _value(type_: Any, scalars: Scalars, graphql_name: Callable[[Any], str]) -> Converter | None:
    if isinstance(type_, StrawberryMaybe):
        return None  # only as an input object's field, below
    if isinstance(type_, StrawberryOptional):
        inner = _value(type_.of_type, scalars, graphql_name)
        return None if inner is None else _optional(inner)
    if _leaf(type_, scalars):
        return _same
    if isinstance(type_, StrawberryList) and _leaf(_unwrapped(type_.of_type), scalars):
        return lambda v: None if v is None else list(v)
    definition = get_object_definition(type_)
    if definition is None or not definition.is_input:
        return None
    fields: dict[str, tuple[str, Converter]] = {}
    for field in definition.fields:
        # Maybe[T | None] only: for Maybe[T], Strawberry refuses an explicit null itself
        if not isinstance(field.type, StrawberryMaybe) or not isinstance(
            field.type.of_type, StrawberryOptional
        ):
            return None
        inner = _value(field.type.of_type, scalars, graphql_name)
        if inner is None:
            return None
        fields[graphql_name(field)] = (field.python_name, inner)
    cls = definition.origin

    def input_object(value: Any) -> Any:
        if value is None:
            return None
        sent = {}
        for name, each in value.items():
            python_name, convert = fields[name]
            sent[python_name] = Some(each if convert is _same else convert(each))
        return cls(**sent)

    return input_object


def _leaf(type_: Any, scalars: Scalars) -> bool:
    return type_ is not GlobalID and is_scalar(type_, scalars)


def _unwrapped(type_: Any) -> Any:
    return type_.of_type if isinstance(type_, StrawberryOptional) else type_


def _optional(inner: Converter) -> Converter:
    if inner is _same:
        return _same  # None is itself already
    return lambda value: None if value is None else inner(value)


def _same(value: Any) -> Any:
    """A value that is already what the resolver gets (the converters above skip calling
    it: most arguments and input fields are such leaves)."""
    return value
