"""A plan's variables coerced as graphql-core's get_variable_values coerces them, with the
work that depends only on the document done once.

get_variable_values looks each variable's type up in the schema on every call and walks
each value twice (a nesting check, then coerce_input_value's recursion through the type).
Here the types are looked up once per plan and each variable gets a coercer built from its
type: the same steps as coerce_input_value, in the same order, without the dispatch on the
type per value. Whatever these do not copy exactly (a variable or input field default, a
oneOf input, a recursive input type) is left to graphql-core, and anything that fails to
coerce gives None: the general path then runs and reports the errors.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLSchema,
    Undefined,
    VariableDefinitionNode,
    is_input_object_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_required_input_field,
)
from graphql.execution.get_variable_signature import get_variable_signature
from graphql.execution.values import VariableValues, VariableValueSource
from graphql.language.parser import MAX_NESTING_DEPTH
from graphql.pyutils import is_iterable
from graphql.type.scalars import coerce_string
from graphql.utilities.coerce_input_value import coerce_default_value

_DEEPEST = MAX_NESTING_DEPTH // 2  # type levels (wrappers included), well within its limit
Coerce = Callable[[Any], Any]  # a value -> its coerced value, or Undefined if invalid
Variables = Callable[[dict[str, Any]], VariableValues | None]
# graphql-core's NamedTuples built as tuple.__new__ builds them, without the Python frame of
# their own __new__ (~0.1 µs each, three a request)
new = tuple.__new__


def variables_coercer(
    schema: GraphQLSchema, definitions: Collection[VariableDefinitionNode]
) -> Variables | None:
    """The coercer of an operation's variables, or None: graphql-core's every time."""
    plan = []
    for node in definitions:
        signature = get_variable_signature(schema, node)
        if isinstance(signature, GraphQLError) or node.default_value:
            return None
        coerce = _coercer(signature.type, set(), 0)
        if coerce is None:
            return None
        plan.append((signature.name, signature, is_non_null_type(signature.type), coerce))

    def coerce_all(inputs: dict[str, Any]) -> VariableValues | None:
        sources: dict[str, VariableValueSource] = {}
        coerced: dict[str, Any] = {}
        for name, signature, required, coerce in plan:
            value = inputs.get(name, Undefined)
            if value is Undefined:
                if required:
                    return None  # an error: the general path reports it
                sources[name] = new(VariableValueSource, (signature, Undefined))
                continue  # a nullable variable not given is left out
            sources[name] = new(VariableValueSource, (signature, value))
            result = coerce(value)
            if result is Undefined:
                return None
            coerced[name] = result
        return new(VariableValues, (sources, coerced))

    return coerce_all


def _coercer(type_: Any, visiting: set[str], depth: int, null: Any = None) -> Coerce | None:
    """coerce_input_value for this type, or None where it is not copied here. Types nest
    finitely (recursive input types are refused, and so are types nested deeper than
    graphql-core lets a value nest), so no value coerced here can nest too deeply.
    `null`: what a null (or missing) value coerces to: None, or Undefined (invalid) for a
    non-null type, whose coercer is its inner type's with that (no wrapper to call)."""
    if depth > _DEEPEST:
        return None
    depth += 1
    if is_non_null_type(type_):
        return _coercer(type_.of_type, visiting, depth, Undefined)
    if is_list_type(type_):
        item = _coercer(type_.of_type, visiting, depth)
        return None if item is None else _list(item, null)
    if is_input_object_type(type_):
        return _input_object(type_, visiting, depth, null)
    if is_leaf_type(type_):
        return _leaf(type_, null)
    return None


def _list(item: Coerce, null: Any) -> Coerce:
    def coerce_list(value: Any) -> Any:
        if value is None or value is Undefined:
            return null
        if not is_iterable(value):  # a non-list value is a list of one
            single = item(value)
            return Undefined if single is Undefined else [single]
        coerced = []
        for each in value:
            result = item(each)
            if result is Undefined:
                return Undefined
            coerced.append(result)
        return coerced

    return coerce_list


def _input_object(type_: Any, visiting: set[str], depth: int, null: Any) -> Coerce | None:
    if type_.is_one_of or type_.name in visiting:
        return None
    visiting = visiting | {type_.name}
    fields = []
    for name, field in type_.fields.items():
        if coerce_default_value(field) is not Undefined:
            return None
        coerce = _coercer(field.type, visiting, depth)
        if coerce is None:
            return None
        fields.append((name, field.out_name or name, is_required_input_field(field), coerce))
    known = frozenset(type_.fields)
    out_type = type_.out_type

    def coerce_object(value: Any) -> Any:
        if value is None or value is Undefined:
            return null
        if not isinstance(value, dict):
            return Undefined
        for name, each in value.items():
            if each is not Undefined and name not in known:
                return Undefined
        coerced: dict[str, Any] = {}
        for name, out_name, required, coerce in fields:
            each = value.get(name, Undefined)
            if each is Undefined:
                if required:
                    return Undefined
                continue  # no default (checked above): left out
            result = coerce(each)
            if result is Undefined:
                return Undefined
            coerced[out_name] = result
        return out_type(coerced)

    return coerce_object


def _leaf(type_: Any, null: Any) -> Coerce:
    coerce = type_.coerce_input_value

    def coerce_leaf(value: Any) -> Any:
        if value is None or value is Undefined:
            return null
        if coerce is coerce_string and value.__class__ is str:  # what it would return
            return value
        try:
            return coerce(value)
        except Exception:  # what coerce_input_value does: invalid
            return Undefined

    return coerce_leaf
