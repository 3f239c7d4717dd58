"""A fast path for documents seen before: the same resolvers, no generic executor.

A document that Strawberry has executed once without request errors (so it parsed and
passed every validation rule) is compiled into a plan: its one root field and, for each
concrete result type, the fields to write, found with graphql-core's own field
collection and serialized with the schema's own scalars. A request for a planned
document coerces its variables and arguments with graphql-core, calls the root field's
resolver function and writes the response, skipping Strawberry's and graphql-core's
per-request machinery. Whatever the compiler does not know (several root fields,
directives, fields with resolvers or arguments below the root) stays on Strawberry's
path, and so does any request whose variables do not coerce: nothing has run by then.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import strawberry
from graphql import (
    FieldNode,
    GraphQLField,
    GraphQLObjectType,
    GraphQLOutputType,
    OperationDefinitionNode,
    OperationType,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
    located_error,
    parse,
    visit,
)
from graphql.execution.collect_fields import (
    FieldDetailsList,
    FragmentDetails,
    collect_fields,
    collect_subfields,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.language import FragmentDefinitionNode, Visitor

from gateway.errors import format_error
from schema.context import Context
from schema.schema import CACHED_DOCUMENT_CHARS

RootResolver = Callable[[Context, dict[str, Any]], Awaitable[object]]
Serializer = Callable[[Any], Any]
NO_VARIABLES = VariableValues({}, {})


class Unplannable(Exception):
    """The document uses something the fast path does not compile."""


class NullInNonNull(Exception):
    """A resolver produced null where the schema promises a value (a bug of ours)."""


@dataclass(frozen=True, slots=True)
class Plan:
    operation: OperationDefinitionNode
    operation_name: str | None
    response_key: str
    field: GraphQLField
    node: FieldNode
    resolve: RootResolver
    serialize: Serializer


class FastPath:
    def __init__(
        self, schema: strawberry.Schema, roots: Mapping[str, RootResolver], *, size: int = 256
    ) -> None:
        self.schema = schema
        self.graphql_schema = schema._schema
        self.roots = roots
        self.size = size
        self._plans: OrderedDict[tuple[str, str | None], Plan | None] = OrderedDict()
        self._classes = _classes_by_type(schema)

    def plan_for(self, query: str, operation_name: str | None) -> Plan | None:
        key = (query, operation_name)
        plan = self._plans.get(key)
        if plan is not None:
            self._plans.move_to_end(key)
        return plan

    def learn(self, query: str, operation_name: str | None) -> None:
        """Compile a document that Strawberry just executed without request errors."""
        key = (query, operation_name)
        if key in self._plans or len(query) > CACHED_DOCUMENT_CHARS:
            return
        try:
            plan: Plan | None = self._compile(query, operation_name)
        except Exception:  # anything unexpected: the document simply stays on the slow path
            plan = None
        self._plans[key] = plan
        if len(self._plans) > self.size:
            self._plans.popitem(last=False)

    async def execute(
        self, plan: Plan, ctx: Context, variables: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        """The response, or None when the slow path must answer (it reports the errors)."""
        coerced = get_variable_values(
            self.graphql_schema, plan.operation.variable_definitions or (), variables or {}
        )
        if not isinstance(coerced, VariableValues):
            return None
        try:
            arguments = get_argument_values(plan.field, plan.node, coerced)
        except Exception:
            return None
        ctx.operation = plan.operation_name
        try:
            result = await plan.resolve(ctx, arguments)
            return {"data": {plan.response_key: plan.serialize(result)}}
        except Exception as exc:  # what graphql-core does with a failing non-null root field
            error = located_error(exc, [plan.node], [plan.response_key])
            self.schema.process_errors([error], SimpleNamespace(context=ctx))  # type: ignore[arg-type]
            return {"data": None, "errors": [format_error(error, ctx.request_id)]}

    def _compile(self, query: str, operation_name: str | None) -> Plan | None:
        document = parse(query)
        if _has_directives(document):
            raise Unplannable("directives")
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if operation_name is not None:
            operations = [o for o in operations if o.name and o.name.value == operation_name]
        if len(operations) != 1:
            return None
        operation = operations[0]
        root_type = {
            OperationType.QUERY: self.graphql_schema.query_type,
            OperationType.MUTATION: self.graphql_schema.mutation_type,
        }.get(operation.operation)
        if root_type is None:
            return None
        fragments = {
            d.name.value: FragmentDetails(d)
            for d in document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }
        collected = collect_fields(
            self.graphql_schema, fragments, NO_VARIABLES, root_type, operation
        ).grouped_field_set
        if len(collected) != 1:
            return None
        ((response_key, details),) = collected.items()
        name = details[0].node.name.value
        if name not in self.roots or len(details) != 1:
            return None
        field = root_type.fields[name]
        return Plan(
            operation=operation,
            operation_name=operation.name.value if operation.name else None,
            response_key=response_key,
            field=field,
            node=details[0].node,
            resolve=self.roots[name],
            serialize=_Compiler(self, fragments, operation).value(field.type, details),
        )


@dataclass(frozen=True)
class _Compiler:
    fast: FastPath
    fragments: dict[str, FragmentDetails]
    operation: OperationDefinitionNode

    def value(self, type_: GraphQLOutputType, details: FieldDetailsList) -> Serializer:
        if is_non_null_type(type_):
            inner = self.value(type_.of_type, details)

            def non_null(value: Any) -> Any:
                if value is None:
                    raise NullInNonNull
                return inner(value)

            return non_null
        if is_list_type(type_):
            item = self.value(type_.of_type, details)
            return lambda value: None if value is None else [item(v) for v in value]
        if is_leaf_type(type_):
            serialize = type_.serialize
            return lambda value: None if value is None else serialize(value)
        if is_object_type(type_):
            return self.object(type_, details)
        if is_abstract_type(type_):
            by_class: dict[type, Serializer] = {}
            for member in self.fast.graphql_schema.get_possible_types(type_):
                by_class[self.fast._classes[member.name]] = self.object(member, details)

            def abstract(value: Any) -> Any:
                return None if value is None else by_class[type(value)](value)

            return abstract
        raise Unplannable(str(type_))

    def object(self, type_: GraphQLObjectType, details: FieldDetailsList) -> Serializer:
        collected = collect_subfields(
            self.fast.graphql_schema, self.fragments, NO_VARIABLES, self.operation, type_, details
        )
        attributes = _attributes(self.fast.schema, type_.name)
        fields: list[tuple[str, str | None, Serializer | str]] = []
        for key, field_details in collected.grouped_field_set.items():
            name = field_details[0].node.name.value
            if name == "__typename":
                fields.append((key, None, type_.name))
                continue
            if any(d.node.arguments for d in field_details) or name not in attributes:
                raise Unplannable(f"{type_.name}.{name}")
            fields.append(
                (key, attributes[name], self.value(type_.fields[name].type, field_details))
            )

        def write(value: Any) -> dict[str, Any] | None:
            if value is None:
                return None
            return {
                key: (serialize if attribute is None else serialize(getattr(value, attribute)))  # type: ignore[operator]
                for key, attribute, serialize in fields
            }

        return write


def _classes_by_type(schema: strawberry.Schema) -> dict[str, type]:
    """Python class of each object type; types sharing a class (generics) are left out."""
    classes: dict[str, type] = {}
    seen: dict[type, str] = {}
    for name in schema._schema.type_map:
        definition = schema.get_type_by_name(name)
        origin = getattr(definition, "origin", None)
        if isinstance(origin, type) and not getattr(definition, "is_input", False):
            if origin in seen:
                classes.pop(seen[origin], None)
                continue
            seen[origin] = name
            classes[name] = origin
    return classes


def _attributes(schema: strawberry.Schema, type_name: str) -> dict[str, str]:
    """GraphQL field name -> Python attribute, for plain fields (no resolver) only."""
    definition = schema.get_type_by_name(type_name)
    converter = schema.config.name_converter
    return {
        converter.get_graphql_name(field): field.python_name
        for field in getattr(definition, "fields", [])
        if field.base_resolver is None
    }


def _has_directives(document: Any) -> bool:
    found = False

    class Finder(Visitor):
        def enter_directive(self, *_: Any) -> None:
            nonlocal found
            found = True

    visit(document, Finder())
    return found
