"""Compiles a document with one plannable root field into a Plan, or says why it cannot.

Whatever the compiler cannot honour exactly as Strawberry would is refused: several root
fields, directives, fields with resolvers, arguments, permission classes or extensions
below the root, and a root field with permission classes or extensions of its own.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from functools import partial
from typing import Any

import strawberry
from graphql import (
    DocumentNode,
    GraphQLObjectType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    parse,
    visit,
)
from graphql.execution.collect_fields import (
    FieldDetailsList,
    FragmentDetails,
    collect_fields,
)
from graphql.language import FragmentDefinitionNode, Visitor
from strawberry.types.field import StrawberryField

from schema.planned.argument_values import argument_values
from schema.planned.arguments import arguments_converter
from schema.planned.plan import Plan, RootBody, Unplannable
from schema.planned.variables import variables_coercer
from schema.planned.writers import NO_VARIABLES, Writers, has_hooks, plain_attributes
from schema.strawberry_internals import graphql_core_schema


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
            wanted = set(plain_attributes(schema, type_name).values())
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
        if strawberry_field is None or has_hooks(strawberry_field):
            raise Unplannable(f"{root_type.name}.{name}")
        field = root_type.fields[name]
        writers = Writers(self.schema, self.core, dict(self.records), fragments, operation)
        serialize = writers.writer(field.type, details)
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
            resolve=_with_selection(self.roots[name], writers.read),
            serialize=serialize,
            variables=variables_coercer(self.core, operation.variable_definitions or ()),
            argument_values=argument_values(
                self.core, field, details[0].node, operation.variable_definitions or ()
            ),
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


def _with_selection(body: RootBody, read: dict[str, set[str]]) -> RootBody:
    """A body that takes `selected` (the attributes its answer's writers read, by object
    type name) gets them bound: it may fetch only those."""
    if "selected" not in inspect.signature(body).parameters:
        return body
    return partial(body, selected={name: frozenset(names) for name, names in read.items()})


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


def _has_directives(document: DocumentNode) -> bool:
    found = False

    class Finder(Visitor):
        def enter_directive(self, *_: Any) -> None:
            nonlocal found
            found = True

    visit(document, Finder())
    return found
