"""The static cost of an operation, in the spirit of the IBM GraphQL cost specification
(what Shopify and Apollo's demand control use): object fields 1, scalars and enums 0, a
mutation root field 10, and the list fields under a field with a `first` argument (a
connection's `edges`) multiplied by the page size asked for. A union or an interface costs
its dearest member's selection.

A document's costing is built once (per document text and operation name, bounded) and
evaluated per request: only the page sizes given as variables change between requests.
`actual` counts what ran, from the response's data: a page that returned 3 items, not 100.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any

from graphql import (
    BooleanValueNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    NamedTypeNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
)

from resolvers.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE

OBJECT_COST = 1
MUTATION_COST = 10
PAGE_ARGUMENT = "first"
MAX_KEPT_CHARS = 16 * 1024  # as the document store: longer documents are not kept
ITEMS_ARGUMENT = "items"  # a bulk mutation: its cost, and its results, count per item


@dataclass(frozen=True, slots=True)
class PageSize:
    """Where a field's `first` comes from: a literal, or a variable with a fallback."""

    literal: int | None
    variable: str | None = None

    def value(self, variables: Mapping[str, Any] | None) -> int:
        given: Any = self.literal
        if self.variable is not None:  # absent: the variable's default (kept as `literal`)
            given = (variables or {}).get(self.variable, self.literal)
        if type(given) is float and given.is_integer():  # GraphQL's Int accepts 100.0
            given = int(given)
        if type(given) is not int:  # null or absent: the default; a wrong type is refused later
            return DEFAULT_PAGE_SIZE
        return max(0, min(given, MAX_PAGE_SIZE))


@dataclass(frozen=True, slots=True)
class ItemCount:
    """How many items a bulk mutation's `items` list holds: literal, or a variable's."""

    literal: int | None
    variable: str | None = None

    def value(self, variables: Mapping[str, Any] | None) -> int:
        if self.variable is None or self.variable not in (variables or {}):
            return max(1, self.literal or 0)  # written, or the variable's default
        given = (variables or {})[self.variable]
        return max(1, len(given)) if isinstance(given, list) else 1


@dataclass(frozen=True, slots=True)
class FieldCost:
    key: str  # the response key (alias or name)
    weight: int
    page: PageSize | ItemCount | None  # multiplies its list-typed children (and, for
    # items, its own weight)
    is_list: bool
    common: tuple[FieldCost, ...]  # selected whatever the concrete type
    by_type: tuple[tuple[str, tuple[FieldCost, ...]], ...]  # (type condition, its fields)
    # (key, weight) of each of `common` when none has anything costly below it (no list, no
    # members, no item count) and there are no `by_type`: an item of this field's list then
    # costs its weight and the weights of those keys it holds (see _actual)
    flat: tuple[tuple[str, int], ...] | None = None
    # An object whose members (`by_type`) are all that flat too, and `common` with them:
    # (the (key, weight) of `common`, those of each member); None otherwise. What ran costs
    # its weight, the weights of `common`'s keys it holds and of the dearest member's
    # (a mutation's union of result types, read without a call per level)
    flat_members: (
        tuple[tuple[tuple[str, int], ...], tuple[tuple[tuple[str, int], ...], ...]] | None
    ) = None


@dataclass(frozen=True, slots=True)
class OperationCost:
    fields: tuple[FieldCost, ...]
    fixed: int | None = None  # the requested cost when no page size comes from a variable
    variables: tuple[str, ...] = ()  # the variables page sizes and item counts come from
    # requested cost by those variables' values, when all are scalars (with their types:
    # 50, 50.0 and True are different page sizes), up to KEPT_BY_VALUES
    by_values: dict[tuple[Any, ...], int] = dataclass_field(
        default_factory=dict, compare=False, repr=False
    )

    @classmethod
    def of(cls, fields: tuple[FieldCost, ...]) -> OperationCost:
        varies = any(_has_variable_page(f) for f in fields)
        if not varies:
            return cls(fields, sum(_requested(f, None, 1) for f in fields))
        names = {name for f in fields for name in _page_variables(f)}
        return cls(fields, None, tuple(sorted(names)))

    def requested(self, variables: Mapping[str, Any] | None) -> int:
        if self.fixed is not None:
            return self.fixed
        key = _scalar_values(self.variables, variables)
        if key is not None:
            known = self.by_values.get(key)
            if known is not None:
                return known
        cost = sum(_requested(f, variables, 1) for f in self.fields)
        if key is not None and len(self.by_values) < KEPT_BY_VALUES:
            self.by_values[key] = cost
        return cost

    def actual(self, data: Any) -> int:
        """What ran, read off the response's `data` (None when nothing ran)."""
        if not isinstance(data, dict):
            return 0
        return _actual_of_fields(self.fields, data)


class Costs:
    """Costings of the documents a schema ran, by (text, operation name), bounded."""

    def __init__(self, *, size: int = 512) -> None:
        self.schema: GraphQLSchema | None = None  # bound once the schema is built
        self.size = size
        self._kept: OrderedDict[tuple[str, str | None], OperationCost] = OrderedDict()

    def known(self, query: str, operation_name: str | None) -> OperationCost | None:
        return self._kept.get((query, operation_name))

    def of(
        self,
        query: str,
        operation_name: str | None,
        document: DocumentNode,
        *,
        asked_as: str | None = "",
    ) -> OperationCost | None:
        """The costing of a valid document's operation (None: no such operation), kept
        under the operationName the request gave (`asked_as`; "" when it is the same), which
        is how the planned path looks it up."""
        key = (query, operation_name if asked_as == "" else asked_as)
        kept = self._kept.get(key)
        if kept is not None:
            self._kept.move_to_end(key)
            return kept
        assert self.schema is not None, "Costs.schema is bound by build_schema"
        cost = operation_cost(self.schema, document, operation_name)
        if cost is not None and len(query) <= MAX_KEPT_CHARS:  # a longer one is costed anew
            self._kept[key] = cost
            if len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return cost


def operation_cost(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
) -> OperationCost | None:
    operation = _operation(document, operation_name)
    if operation is None:
        return None
    root = schema.get_root_type(operation.operation)
    if root is None:
        return None
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    builder = _Builder(schema, fragments, _defaults(operation))
    weight = MUTATION_COST if operation.operation == OperationType.MUTATION else None
    common, _ = builder.selection(operation.selection_set, root, root_weight=weight)
    return OperationCost.of(common)


def _defaults(operation: OperationDefinitionNode) -> dict[str, Any]:
    """Each variable's default as the costing reads it: an Int, or a list's length."""
    found: dict[str, Any] = {}
    for definition in operation.variable_definitions or ():
        value = definition.default_value
        if isinstance(value, IntValueNode):
            found[definition.variable.name.value] = int(value.value)
        elif isinstance(value, ListValueNode):
            found[definition.variable.name.value] = len(value.values)
    return found


class _Builder:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        defaults: dict[str, Any],
    ):
        self.schema = schema
        self.fragments = fragments
        self.defaults = defaults

    def selection(
        self,
        selection_set: SelectionSetNode | None,
        parent: GraphQLNamedType,
        *,
        root_weight: int | None = None,
    ) -> tuple[tuple[FieldCost, ...], tuple[tuple[str, tuple[FieldCost, ...]], ...]]:
        common: list[FieldCost] = []
        by_type: dict[str, list[FieldCost]] = {}
        self._collect(selection_set, parent, parent, common, by_type, root_weight, set())
        return tuple(common), tuple((name, tuple(fields)) for name, fields in by_type.items())

    def _collect(
        self,
        selection_set: SelectionSetNode | None,
        parent: GraphQLNamedType,
        scope: GraphQLNamedType,
        common: list[FieldCost],
        by_type: dict[str, list[FieldCost]],
        root_weight: int | None,
        seen: set[str],
    ) -> None:
        for node in selection_set.selections if selection_set else ():
            if _skipped(node):
                continue
            if isinstance(node, FieldNode):
                field = self._field(node, scope, root_weight)
                if field is not None:
                    target = common if scope is parent else by_type.setdefault(scope.name, [])
                    target.append(field)
                continue
            if isinstance(node, FragmentSpreadNode):
                name = node.name.value
                if name in seen or name not in self.fragments:
                    continue  # validation refuses cycles; never loop on one regardless
                fragment = self.fragments[name]
                condition: NamedTypeNode | None = fragment.type_condition
                inner = fragment.selection_set
                seen = seen | {name}
            elif isinstance(node, InlineFragmentNode):
                condition, inner = node.type_condition, node.selection_set
            else:
                continue
            narrowed = self.schema.get_type(condition.name.value) if condition else None
            if narrowed is None or narrowed is parent or isinstance(narrowed, GraphQLUnionType):
                narrowed = scope  # the same type, or no narrowing at all
            self._collect(inner, parent, narrowed, common, by_type, root_weight, seen)

    def _field(
        self, node: FieldNode, parent: GraphQLNamedType, root_weight: int | None
    ) -> FieldCost | None:
        name = node.name.value
        if name.startswith("__"):
            return None  # __typename and introspection: free
        definition = _field_definition(parent, name)
        if definition is None:
            return None
        named = get_named_type(definition.type)
        is_object = isinstance(named, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType)
        weight = root_weight if root_weight is not None else (OBJECT_COST if is_object else 0)
        common, by_type = self.selection(node.selection_set, named) if is_object else ((), ())
        if weight == 0 and not common and not by_type:
            return None  # a scalar: free, and left out of every walk
        page = (
            _item_count(node, definition, self.defaults)
            if root_weight
            else _page_size(node, definition, self.defaults)
        )
        return FieldCost(
            key=node.alias.value if node.alias else name,
            weight=weight,
            page=page,
            is_list=isinstance(get_nullable_type(definition.type), GraphQLList),
            common=common,
            by_type=by_type,
            flat=None if by_type else _flat(common),
            flat_members=_flat_members(common, by_type, page),
        )


def _flat(common: tuple[FieldCost, ...]) -> tuple[tuple[str, int], ...] | None:
    """What FieldCost.flat says, or None."""
    for child in common:
        if child.common or child.by_type or child.is_list or isinstance(child.page, ItemCount):
            return None
    return tuple((child.key, child.weight) for child in common)


def _flat_members(
    common: tuple[FieldCost, ...],
    by_type: tuple[tuple[str, tuple[FieldCost, ...]], ...],
    page: PageSize | ItemCount | None,
) -> tuple[tuple[tuple[str, int], ...], tuple[tuple[tuple[str, int], ...], ...]] | None:
    """What FieldCost.flat_members says, or None."""
    if not by_type or isinstance(page, ItemCount):
        return None
    flat_common = _flat(common)
    members = tuple(_flat(fields) for _, fields in by_type)
    if flat_common is None or any(member is None for member in members):
        return None
    return flat_common, tuple(member for member in members if member is not None)


def _requested(field: FieldCost, variables: Mapping[str, Any] | None, times: int) -> int:
    inner = field.page.value(variables) if field.page is not None else 1
    cost = field.weight * (inner if isinstance(field.page, ItemCount) else 1)
    for child in field.common:
        cost += _requested(child, variables, inner if child.is_list else 1)
    dearest = 0
    for _, fields in field.by_type:
        member = 0
        for child in fields:
            member += _requested(child, variables, inner if child.is_list else 1)
        dearest = max(dearest, member)
    return (cost + dearest) * times


KEPT_BY_VALUES = 64
_ABSENT = object()  # a variable not given: its default (unlike null)
_SCALARS = frozenset({int, float, bool, str, type(None)})


def _scalar_values(
    names: tuple[str, ...], variables: Mapping[str, Any] | None
) -> tuple[Any, ...] | None:
    """The named variables' values with their types, absent ones as _ABSENT; None when one
    is not a scalar (an item list: its length counts, and it is not hashable)."""
    given = variables or {}
    key: list[Any] = []
    for name in names:
        value = given.get(name, _ABSENT)
        if value is not _ABSENT and type(value) not in _SCALARS:
            return None
        key.append((type(value), value))
    return tuple(key)


def _page_variables(field: FieldCost) -> set[str]:
    names = set()
    if field.page is not None and field.page.variable is not None:
        names.add(field.page.variable)
    for child in (*field.common, *(c for _, fields in field.by_type for c in fields)):
        names |= _page_variables(child)
    return names


def _has_variable_page(field: FieldCost) -> bool:
    if field.page is not None and field.page.variable is not None:  # a page or an item count
        return True
    children = [*field.common, *(c for _, fields in field.by_type for c in fields)]
    return any(_has_variable_page(c) for c in children)


def _actual(field: FieldCost, value: Any) -> int:
    kind = value.__class__
    if kind is dict:
        weight = field.weight
        if isinstance(field.page, ItemCount):  # a bulk mutation: per item that answered
            weight *= max(1, _items_answered(field, value))
        return weight + _actual_of_selection(field.common, field.by_type, value)
    if kind is list:
        total = 0
        if field.by_type or field.page.__class__ is ItemCount:
            for item in value:
                total += _actual(field, item)
            return total
        # A page's items (edges): an object's cost as the dict branch above counts it, one
        # call less per item; none at all where nothing below an item is costly (flat)
        weight, common, flat = field.weight, field.common, field.flat
        if flat is not None:
            for item in value:
                if item.__class__ is dict:
                    total += weight
                    for key, child_weight in flat:
                        if key in item:
                            total += child_weight
                else:
                    total += _actual(field, item)
            return total
        for item in value:
            if item.__class__ is dict:
                total += weight + _actual_of_selection(common, (), item)
            else:
                total += _actual(field, item)
        return total
    return field.weight  # a leaf, or an object field that resolved to null


def _actual_of_selection(
    common: tuple[FieldCost, ...],
    by_type: tuple[tuple[str, tuple[FieldCost, ...]], ...],
    data: dict[str, Any],
) -> int:
    cost = _actual_of_fields(common, data) if common else 0
    # The member that answered is the one whose fields are in the data: the dearest of them.
    dearest = 0
    for _, fields in by_type:
        member = _actual_of_fields(fields, data)
        if member > dearest:
            dearest = member
    return cost + dearest


def _actual_of_fields(fields: tuple[FieldCost, ...], data: dict[str, Any]) -> int:
    cost = 0
    for child in fields:
        if child.key in data:
            value = data[child.key]
            # Nothing below it costs anything, and no count of items: an object, a leaf or
            # null costs its weight (what _actual gives, without its two calls per node).
            if not (child.common or child.by_type or value.__class__ is list) and (
                child.page.__class__ is not ItemCount
            ):
                cost += child.weight
            elif child.flat_members is not None and value.__class__ is dict:
                # _actual_of_selection, a loop instead of a call per level and member
                common, members = child.flat_members
                cost += child.weight
                for key, weight in common:
                    if key in value:
                        cost += weight
                dearest = 0
                for member in members:
                    found = 0
                    for key, weight in member:
                        if key in value:
                            found += weight
                    if found > dearest:
                        dearest = found
                cost += dearest
            else:
                cost += _actual(child, value)
    return cost


def _items_answered(field: FieldCost, value: dict[str, Any]) -> int:
    """The length of the first list a bulk mutation's answer holds (its `results`)."""
    children = [*field.common, *(c for _, fields in field.by_type for c in fields)]
    for child in children:
        found = value.get(child.key)
        if child.is_list and isinstance(found, list):
            return len(found)
    return 1


def _item_count(
    node: FieldNode, definition: GraphQLField, defaults: dict[str, Any]
) -> ItemCount | None:
    if ITEMS_ARGUMENT not in definition.args:
        return None
    for argument in node.arguments or ():
        if argument.name.value != ITEMS_ARGUMENT:
            continue
        if isinstance(argument.value, VariableNode):
            name = argument.value.name.value
            default = defaults.get(name)
            return ItemCount(default if isinstance(default, int) else None, name)
        if isinstance(argument.value, ListValueNode):
            return ItemCount(len(argument.value.values))
    return ItemCount(1)


def _page_size(
    node: FieldNode, definition: GraphQLField, defaults: dict[str, Any]
) -> PageSize | None:
    if PAGE_ARGUMENT not in definition.args:
        return None
    for argument in node.arguments or ():
        if argument.name.value != PAGE_ARGUMENT:
            continue
        if isinstance(argument.value, VariableNode):
            name = argument.value.name.value
            default = defaults.get(name)
            return PageSize(default if isinstance(default, int) else DEFAULT_PAGE_SIZE, name)
        if isinstance(argument.value, IntValueNode):
            return PageSize(int(argument.value.value))
        return PageSize(None)  # null: the default
    return PageSize(None)


def _field_definition(parent: GraphQLNamedType, name: str) -> GraphQLField | None:
    if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        found: GraphQLField | None = parent.fields.get(name)
        return found
    return None  # a union has no fields of its own but __typename


def _skipped(node: Any) -> bool:
    """`@skip(if: true)` / `@include(if: false)` written as literals; variables count."""
    for directive in getattr(node, "directives", None) or ():
        argument = next((a for a in directive.arguments or () if a.name.value == "if"), None)
        if argument is None or not isinstance(argument.value, BooleanValueNode):
            continue
        if directive.name.value == "skip" and argument.value.value:
            return True
        if directive.name.value == "include" and not argument.value.value:
            return True
    return False


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name and o.name.value == name), None)
