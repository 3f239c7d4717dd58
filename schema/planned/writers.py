"""A plan's answer writer: one Python function per document, written as source and compiled
once (as graphql-jit does).

The whole selection becomes one expression: a dict display per object, a list
comprehension per list, each value read once (an assignment expression), and for each leaf
the value itself where its serializer would return it unchanged (a str for a String, a UTC
datetime for a DateTime: orjson writes it) or a call of the serializer otherwise. So a page
of prompts costs no Python call per object or per list, only per leaf that needs one.
"""

from __future__ import annotations

import keyword
from datetime import UTC, datetime
from typing import Any

import strawberry
from graphql import (
    GraphQLBoolean,
    GraphQLID,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    OperationDefinitionNode,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetailsList, FragmentDetails, collect_subfields
from graphql.execution.values import VariableValues
from graphql.type.scalars import serialize_boolean, serialize_id, serialize_string
from strawberry.schema.types.base_scalars import isoformat as strawberry_isoformat
from strawberry.types.base import get_object_definition
from strawberry.types.field import StrawberryField

from schema.planned.plan import NullInNonNull, Serializer, Unplannable

NO_VARIABLES = VariableValues({}, {})


class Writers:
    """Writes the source of one document's answer writer; `read` is what it reads: Python
    attributes by object type name (all a root body needs to fetch)."""

    def __init__(
        self,
        schema: strawberry.Schema,
        core: GraphQLSchema,
        records: dict[str, tuple[type, ...]],
        fragments: dict[str, FragmentDetails],
        operation: OperationDefinitionNode,
    ) -> None:
        self.schema = schema
        self.core = core
        self.records = records
        self.fragments = fragments
        self.operation = operation
        self.read: dict[str, set[str]] = {}
        self._names: dict[str, Any] = {"_null": _null}
        self._count = 0

    def writer(self, type_: GraphQLOutputType, details: FieldDetailsList) -> Serializer:
        """The function writing a value of this type with this selection."""
        return self._function(self._expression(type_, details, "value"))

    def _function(self, expression: str) -> Serializer:
        name = self._name("write")
        source = f"def {name}(value):\n    return {expression}\n"
        exec(compile(source, "<planned answer writer>", "exec"), self._names)  # noqa: S102
        function: Serializer = self._names[name]
        return function

    def _name(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}{self._count}"

    def _constant(self, value: Any) -> str:
        name = self._name("c")
        self._names[name] = value
        return name

    def _expression(
        self,
        type_: GraphQLOutputType,
        details: FieldDetailsList,
        source: str,
        non_null: bool = False,
    ) -> str:
        """The answer for the value `source` evaluates to (evaluated once: a plain name, or
        bound to a fresh one where it is first used, which is always in a condition that
        runs first). `non_null`: null raises NullInNonNull, as graphql-core's error does."""
        if is_non_null_type(type_):
            return self._expression(type_.of_type, details, source, non_null=True)
        null = "_null()" if non_null else "None"
        if source.isidentifier():
            var = bind = source
        else:
            var = self._name("v")
            bind = f"({var} := {source})"
        if is_list_type(type_):
            item = self._name("i")
            each = self._expression(type_.of_type, details, item)
            written = f"[{each} for {item} in {var}]"
            leaf = _identity_class(_named(type_.of_type))
            if leaf is not None:  # a list of such leaves, each its own answer: the list itself
                kind, same = self._constant(leaf), self._constant(_all_of)
                lists = self._constant(list)
                keep = f"{var}.__class__ is {lists} and {same}({var}, {kind})"
                written = f"({var} if {keep} else {written})"
            return f"({null} if {bind} is None else {written})"
        if is_leaf_type(type_):
            serialize = f"{self._constant(type_.serialize)}({var})"
            if _is_datetime(type_):  # only a datetime whose tzinfo is UTC itself is kept
                kind = self._constant(datetime)
                utc = self._constant(UTC)
                keep = f"{bind}.__class__ is {kind} and {var}.tzinfo is {utc}"
                return f"({var} if {keep} else ({null} if {var} is None else {serialize}))"
            identity = _identity_class(type_)
            if identity is not None:
                kind = self._constant(identity)
                keep = f"{bind}.__class__ is {kind}"
                return f"({var} if {keep} else ({null} if {var} is None else {serialize}))"
            return f"({null} if {bind} is None else {serialize})"
        if is_object_type(type_):
            return f"({null} if {bind} is None else {self._object(type_, details, var)})"
        if is_abstract_type(type_):
            by_class = self._constant(self._members(type_, details))
            return f"({null} if {bind} is None else {by_class}[{var}.__class__]({var}))"
        raise Unplannable(str(type_))

    def _members(self, type_: Any, details: FieldDetailsList) -> dict[type, Serializer]:
        """Each possible type's writer, by the Python classes its values may have."""
        by_class: dict[type, Serializer] = {}
        for member in self.core.get_possible_types(type_):
            write = self.writer(member, details)
            classes = _classes_of(self.schema, member.name)
            for cls in (*classes, *self.records.get(member.name, ())):
                if cls in by_class:  # two members one class: only Strawberry can tell them
                    raise Unplannable(f"{member.name} shares its class")
                by_class[cls] = write
        return by_class

    def _object(self, type_: GraphQLObjectType, details: FieldDetailsList, var: str) -> str:
        """A dict display of the object `var` names (not None)."""
        collected = collect_subfields(
            self.core, self.fragments, NO_VARIABLES, self.operation, type_, details
        )
        attributes = plain_attributes(self.schema, type_.name)
        read = self.read.setdefault(type_.name, set())
        entries = []
        for key, field_details in collected.grouped_field_set.items():
            if not key.isidentifier():  # a GraphQL name always is; never write anything else
                raise Unplannable(key)
            name = field_details[0].node.name.value
            if name == "__typename":
                entries.append(f"{key!r}: {self._constant(type_.name)}")
                continue
            if any(d.node.arguments for d in field_details) or name not in attributes:
                raise Unplannable(f"{type_.name}.{name}")
            attribute = attributes[name]
            if not attribute.isidentifier() or keyword.iskeyword(attribute):
                raise Unplannable(attribute)
            read.add(attribute)
            field_type = type_.fields[name].type
            value = self._expression(field_type, field_details, f"{var}.{attribute}")
            entries.append(f"{key!r}: {value}")
        return "{" + ", ".join(entries) + "}"


def _null() -> Any:
    raise NullInNonNull


def _all_of(values: list[Any], kind: type) -> bool:
    """Every item of exactly this class: a list comprehension (a Python frame of its own,
    per list) would give an equal list. (A loop: all() of a generator costs twice as much.)"""
    for value in values:  # noqa: SIM110
        if value.__class__ is not kind:
            return False
    return True


def _named(type_: Any) -> Any:
    return type_.of_type if is_non_null_type(type_) else type_


# Leaf types whose serializer returns a value of this exact class as it is
_IDENTITY: dict[Any, type] = {GraphQLString: str, GraphQLID: str, GraphQLBoolean: bool}


def _identity_class(named: Any) -> type | None:
    kind = _IDENTITY.get(named)
    # the schema's own String, ID and Boolean, with graphql-core's serializers
    if kind is None or named.serialize not in (serialize_string, serialize_id, serialize_boolean):
        return None
    return kind


def _is_datetime(named: Any) -> bool:
    """Strawberry's own DateTime (serialized by isoformat): a datetime in UTC is left to
    orjson, which writes exactly the bytes isoformat() gives for one (tests/
    test_planned_datetimes.py holds it to that), in C instead of a Python call per value."""
    return (
        isinstance(named, GraphQLScalarType)
        and named.name == "DateTime"
        and named.serialize is strawberry_isoformat
    )


def has_hooks(field: StrawberryField) -> bool:
    """Permission classes and field extensions run inside Strawberry's executor only."""
    return bool(field.permission_classes or field.extensions or field.directives)


def plain_attributes(schema: strawberry.Schema, type_name: str) -> dict[str, str]:
    """GraphQL field name -> Python attribute, for plain fields only: no resolver, no
    permission classes, no extensions."""
    definition = schema.get_type_by_name(type_name)
    converter = schema.config.name_converter
    return {
        converter.get_graphql_name(field): field.python_name
        for field in getattr(definition, "fields", [])
        if field.base_resolver is None and not has_hooks(field)
    }


def _classes_of(schema: strawberry.Schema, type_name: str) -> list[type]:
    """The Python classes whose instances are of this object type.

    A generic type's specialization (PromptConnection: Connection[Prompt]) has a class of
    its own that Strawberry derives from the generic class, while the values are instances
    of the generic class itself: both are listed. A union with two specializations of one
    generic class is refused by the caller, so a value's class always names one member."""
    definition = schema.get_type_by_name(type_name)
    origin = getattr(definition, "origin", None)
    if not isinstance(origin, type):
        raise Unplannable(type_name)
    classes = [origin]
    for base in origin.__bases__:
        base_definition = get_object_definition(base)
        if base_definition is not None and base_definition.is_graphql_generic:
            classes.append(base)
    return classes
