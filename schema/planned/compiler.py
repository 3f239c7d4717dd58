"""Compiles a document with one plannable root field into a Plan, or says why it cannot.

Whatever the compiler cannot honour exactly as Strawberry would is refused: several root
fields, directives, fields with resolvers, arguments, permission classes or extensions
below the root, and a root field with permission classes or extensions of its own.
"""

from __future__ import annotations

import inspect
import keyword
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime
from functools import partial
from typing import Any

import strawberry
from graphql import (
    DocumentNode,
    GraphQLBoolean,
    GraphQLID,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    GraphQLString,
    OperationDefinitionNode,
    OperationType,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
    parse,
    visit,
)
from graphql.execution.collect_fields import (
    FieldDetailsList,
    FragmentDetails,
    collect_fields,
    collect_subfields,
)
from graphql.execution.values import VariableValues
from graphql.language import FragmentDefinitionNode, Visitor
from graphql.type.scalars import serialize_boolean, serialize_id, serialize_string
from strawberry.schema.types.base_scalars import isoformat as strawberry_isoformat
from strawberry.types.base import get_object_definition
from strawberry.types.field import StrawberryField

from schema.planned.arguments import arguments_converter
from schema.planned.plan import NullInNonNull, Plan, RootBody, Serializer, Unplannable
from schema.strawberry_internals import graphql_core_schema

NO_VARIABLES = VariableValues({}, {})


class Compiler:
    def __init__(
        self,
        schema: strawberry.Schema,
        roots: Mapping[str, RootBody],
        records: Mapping[str, tuple[type, ...]],
    ) -> None:
        self.schema = schema
        self.core: GraphQLSchema = graphql_core_schema(schema)
        self.roots = roots
        self.records = records
        for type_name, classes in records.items():
            wanted = set(_plain_attributes(schema, type_name).values())
            for cls in classes:
                missing = {name for name in wanted if not hasattr(cls, name)}
                if missing:
                    raise TypeError(f"{cls.__name__} lacks {sorted(missing)} of {type_name}")

    def compile(self, query: str, operation_name: str | None) -> Plan | None:
        document = parse(query)
        if _has_directives(document):
            raise Unplannable("directives")
        operation = _operation(document, operation_name)
        if operation is None:
            return None
        fragments = {
            d.name.value: FragmentDetails(d)
            for d in document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }
        root = self._root_field(operation, fragments)
        if root is None:
            return None
        response_key, details, root_type = root
        name = details[0].node.name.value
        strawberry_field = _strawberry_field(self.schema, root_type.name, name)
        if strawberry_field is None or _has_hooks(strawberry_field):
            raise Unplannable(f"{root_type.name}.{name}")
        field = root_type.fields[name]
        serializers = _Serializers(self, fragments, operation)
        serialize = serializers.value(field.type, details)
        return Plan(
            operation=operation,
            operation_name=operation.name.value if operation.name else None,
            response_key=response_key,
            field=field,
            node=details[0].node,
            arguments=strawberry_field.arguments,
            convert=arguments_converter(
                strawberry_field.arguments,
                self.schema.schema_converter.scalar_registry,
                self.schema.config.name_converter.get_graphql_name,
            ),
            resolve=_with_selection(self.roots[name], serializers.read),
            serialize=serialize,
        )

    def _root_field(
        self, operation: OperationDefinitionNode, fragments: dict[str, FragmentDetails]
    ) -> tuple[str, FieldDetailsList, GraphQLObjectType] | None:
        """The operation's one root field, if it has exactly one and it is plannable."""
        root_type = {
            OperationType.QUERY: self.core.query_type,
            OperationType.MUTATION: self.core.mutation_type,
        }.get(operation.operation)
        if root_type is None:
            return None
        collected = collect_fields(
            self.core, fragments, NO_VARIABLES, root_type, operation
        ).grouped_field_set
        if len(collected) != 1:
            return None
        ((response_key, details),) = collected.items()
        if details[0].node.name.value not in self.roots or len(details) != 1:
            return None
        return response_key, details, root_type


@dataclass(frozen=True)
class _Serializers:
    compiler: Compiler
    fragments: dict[str, FragmentDetails]
    operation: OperationDefinitionNode
    # Python attributes the writers read, by object type name: all a body needs to fetch
    read: dict[str, set[str]] = dataclass_field(default_factory=dict)

    def value(
        self, type_: GraphQLOutputType, details: FieldDetailsList, non_null: bool = False
    ) -> Serializer:
        """The serializer of a value of this type; `non_null`: it raises NullInNonNull on
        None itself (one call per value, not a wrapper's and its inner's)."""
        if is_non_null_type(type_):
            return self.value(type_.of_type, details, non_null=True)
        if is_list_type(type_):
            item = self.value(type_.of_type, details)
            kind = _identity_class(type_.of_type)

            def list_of(value: Any) -> Any:
                if value is None:
                    return _null() if non_null else None
                if kind is not None:  # [String!]: most items are their own answer
                    return [v if v.__class__ is kind else item(v) for v in value]
                return [item(v) for v in value]

            return list_of
        if is_leaf_type(type_):
            serialize = type_.serialize
            if non_null:
                return lambda value: _null() if value is None else serialize(value)
            return lambda value: None if value is None else serialize(value)
        if is_object_type(type_):
            return self.object(type_, details, non_null)
        if is_abstract_type(type_):
            return self.abstract(self.compiler.core.get_possible_types(type_), details, non_null)
        raise Unplannable(str(type_))

    def abstract(self, members: Any, details: FieldDetailsList, non_null: bool) -> Serializer:
        by_class: dict[type, Serializer] = {}
        for member in members:
            serializer = self.object(member, details)
            classes = _classes_of(self.compiler.schema, member.name)
            for cls in (*classes, *self.compiler.records.get(member.name, ())):
                if cls in by_class:  # two members one class: only Strawberry can tell them
                    raise Unplannable(f"{member.name} shares its class")
                by_class[cls] = serializer

        def abstract(value: Any) -> Any:
            if value is None:
                return _null() if non_null else None
            return by_class[type(value)](value)

        return abstract

    def object(
        self, type_: GraphQLObjectType, details: FieldDetailsList, non_null: bool = False
    ) -> Serializer:
        collected = collect_subfields(
            self.compiler.core, self.fragments, NO_VARIABLES, self.operation, type_, details
        )
        attributes = _plain_attributes(self.compiler.schema, type_.name)
        read = self.read.setdefault(type_.name, set())
        fields: list[_Field] = []
        for key, field_details in collected.grouped_field_set.items():
            name = field_details[0].node.name.value
            if name == "__typename":
                fields.append((key, None, type_.name, None))
                continue
            if any(d.node.arguments for d in field_details) or name not in attributes:
                raise Unplannable(f"{type_.name}.{name}")
            field_type = type_.fields[name].type
            read.add(attributes[name])
            fields.append(
                (
                    key,
                    attributes[name],
                    self.value(field_type, field_details),
                    datetime if _is_datetime(field_type) else _identity_class(field_type),
                )
            )
        return _object_writer(fields, non_null)


def _with_selection(body: RootBody, read: dict[str, set[str]]) -> RootBody:
    """A body that takes `selected` (the attributes its answer's writers read, by object
    type name) gets them bound: it may fetch only those."""
    if "selected" not in inspect.signature(body).parameters:
        return body
    return partial(body, selected={name: frozenset(names) for name, names in read.items()})


def _null() -> Any:
    raise NullInNonNull


# (response key, Python attribute or None for a constant, its serializer or the constant,
# the class whose values the serializer returns unchanged)
_Field = tuple[str, str | None, Serializer | str, type | None]
# Leaf types whose serializer returns a value of this exact class as it is
_IDENTITY: dict[Any, type] = {GraphQLString: str, GraphQLID: str, GraphQLBoolean: bool}


def _is_datetime(type_: GraphQLOutputType) -> bool:
    """Strawberry's own DateTime (serialized by isoformat): a datetime in UTC is left to
    orjson, which writes exactly the bytes isoformat() gives for one (tests/
    test_planned_datetimes.py holds it to that), in C instead of a Python call per value."""
    named: Any = type_.of_type if is_non_null_type(type_) else type_
    return (
        isinstance(named, GraphQLScalarType)
        and named.name == "DateTime"
        and named.serialize is strawberry_isoformat
    )


def _identity_class(type_: GraphQLOutputType) -> type | None:
    named: Any = type_.of_type if is_non_null_type(type_) else type_
    kind = _IDENTITY.get(named)
    # the schema's own String, ID and Boolean, with graphql-core's serializers
    if kind is None or named.serialize not in (serialize_string, serialize_id, serialize_boolean):
        return None
    return kind


def _object_writer(fields: list[_Field], non_null: bool) -> Serializer:
    """One function per object type and selection, written as source and compiled once (as
    graphql-jit does): a dict display reading each attribute, with the value itself where
    its serializer would return it unchanged (a str for a String, …) and the serializer
    otherwise. This runs for every object of every planned answer."""
    names: dict[str, Any] = {"NullInNonNull": NullInNonNull}
    entries = []
    for index, (key, attribute, serialize, identity) in enumerate(fields):
        if not key.isidentifier():  # a GraphQL name always is; never write anything else
            raise Unplannable(key)
        if attribute is None:
            names[f"c{index}"] = serialize
            entries.append(f"{key!r}: c{index}")
            continue
        if not attribute.isidentifier() or keyword.iskeyword(attribute):
            raise Unplannable(attribute)
        names[f"s{index}"] = serialize
        if identity is datetime:  # only a datetime whose tzinfo is UTC itself is left as it is
            names["UTC"] = UTC
            names[f"k{index}"] = datetime
            entries.append(
                f"{key!r}: v if (v := value.{attribute}).__class__ is k{index} "
                f"and v.tzinfo is UTC else s{index}(v)"
            )
        elif identity is None:
            entries.append(f"{key!r}: s{index}(value.{attribute})")
        else:
            names[f"k{index}"] = identity
            entries.append(
                f"{key!r}: v if (v := value.{attribute}).__class__ is k{index} else s{index}(v)"
            )
    source = (
        "def write(value):\n"
        "    if value is None:\n"
        + ("        raise NullInNonNull\n" if non_null else "        return None\n")
        + "    return {"
        + ", ".join(entries)
        + "}\n"
    )
    exec(compile(source, "<planned object writer>", "exec"), names)  # noqa: S102
    write: Serializer = names["write"]
    return write


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is not None:
        operations = [o for o in operations if o.name and o.name.value == name]
    return operations[0] if len(operations) == 1 else None


def _strawberry_field(
    schema: strawberry.Schema, type_name: str, graphql_name: str
) -> StrawberryField | None:
    definition = schema.get_type_by_name(type_name)
    converter = schema.config.name_converter
    for field in getattr(definition, "fields", []):
        if isinstance(field, StrawberryField) and converter.get_graphql_name(field) == graphql_name:
            return field
    return None


def _has_hooks(field: StrawberryField) -> bool:
    """Permission classes and field extensions run inside Strawberry's executor only."""
    return bool(field.permission_classes or field.extensions or field.directives)


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


def _plain_attributes(schema: strawberry.Schema, type_name: str) -> dict[str, str]:
    """GraphQL field name -> Python attribute, for plain fields only: no resolver, no
    permission classes, no extensions."""
    definition = schema.get_type_by_name(type_name)
    converter = schema.config.name_converter
    return {
        converter.get_graphql_name(field): field.python_name
        for field in getattr(definition, "fields", [])
        if field.base_resolver is None and not _has_hooks(field)
    }


def _has_directives(document: DocumentNode) -> bool:
    found = False

    class Finder(Visitor):
        def enter_directive(self, *_: Any) -> None:
            nonlocal found
            found = True

    visit(document, Finder())
    return found
