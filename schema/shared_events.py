"""A subscription event made once for many subscribers is executed once per selection.

A change is made into one PromptChange (or GuardrailPoolChange) for every subscriber of
the process (schema/subscription.py). graphql-core executes each subscriber's selection on
it, and most subscribers of a kind send the same document: all but the first would work
out the same result again. The executor here keeps the first result on the event, by
selection (the operation and its fragments as text, and the variables' values), and gives
it to the others, when the result cannot depend on who asked:

- every field below the subscription's root is a plain attribute of its object (no
  resolver of its own: `history` reads with the subscriber's credential, so a selection
  with it runs per subscriber), on object types only, with no directive but @include and
  @skip (their variables are in the key);
- the first execution gave no error (errors run per subscriber, with their own request
  ids); if it failed or was cancelled, each subscriber waiting for it executes on its own.

Each subscriber's own extensions (the cost it reports) and its message stay its own.
"""

from __future__ import annotations

import asyncio
from typing import Any

from graphql import ExecutionResult as CoreResult
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    SelectionSetNode,
    get_named_type,
    print_ast,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types.field import StrawberryField

DEFINITION = "strawberry-definition"  # where Strawberry keeps a field's own definition
PLAIN_DIRECTIVES = frozenset({"include", "skip"})
_UNKNOWN: Any = object()


class SharedResults:
    """An event's results by selection; the first subscriber's, while it runs, as a future."""

    __slots__ = ("by_selection",)

    def __init__(self) -> None:
        self.by_selection: dict[str, asyncio.Future[CoreResult | None]] = {}


class SharingExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor; an event with `shared_results` runs once per selection."""

    _selection: str | None = _UNKNOWN  # the subscription's key; None: not to be shared

    def build_per_event_executor(self, payload: Any) -> Any:
        if self._selection is _UNKNOWN:  # once per subscription; each event's copy keeps it
            self._selection = selection_key(self)
        return super().build_per_event_executor(payload)

    def execute_operation(self, serially: bool | None = None) -> Any:
        shared = getattr(self.root_value, "shared_results", None)
        if not isinstance(shared, SharedResults) or self._selection in (None, _UNKNOWN):
            return super().execute_operation(serially)
        return self._shared(shared, self._selection, serially)

    async def _shared(self, shared: SharedResults, key: str, serially: bool | None) -> Any:
        waiting = shared.by_selection.get(key)
        if waiting is not None:
            # shielded: a subscriber that leaves must not cancel the others' result
            result = await asyncio.shield(waiting)
            if result is not None:
                return result
            return await self._own(serially)
        first: asyncio.Future[CoreResult | None] = asyncio.get_running_loop().create_future()
        shared.by_selection[key] = first
        result = None
        try:
            result = await self._own(serially)
            return result
        finally:
            if not first.done():
                good = isinstance(result, CoreResult) and not result.errors
                first.set_result(result if good else None)

    async def _own(self, serially: bool | None) -> Any:
        result = super().execute_operation(serially)
        return await result if self.is_awaitable(result) else result


def selection_key(executor: Any) -> str | None:
    """The subscription's selection as text with its variables' values; None when its
    result may depend on who asked (see the module's docstring)."""
    schema: GraphQLSchema = executor.schema
    fragments: dict[str, FragmentDefinitionNode] = executor.fragment_definitions
    root = schema.subscription_type
    if root is None or not _context_free_root(
        schema, root, executor.operation.selection_set, fragments
    ):
        return None
    variables = sorted(executor.variable_values.coerced.items())
    texts = [print_ast(executor.operation)]
    texts += [print_ast(fragments[name]) for name in sorted(fragments)]
    return "\n".join(texts) + "\n" + repr(variables)


def _context_free_root(
    schema: GraphQLSchema,
    root: GraphQLObjectType,
    selection_set: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
) -> bool:
    """The root field resolves to the event itself: only what is below it is checked."""
    for selection in selection_set.selections:
        if not isinstance(selection, FieldNode) or not _plain_directives(selection):
            return False
        field = root.fields.get(selection.name.value)
        if field is None or selection.selection_set is None:
            return False
        named = get_named_type(field.type)
        if not isinstance(named, GraphQLObjectType):
            return False
        if not _context_free(schema, named, selection.selection_set, fragments):
            return False
    return True


def _context_free(
    schema: GraphQLSchema,
    parent: GraphQLObjectType,
    selection_set: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
) -> bool:
    for selection in selection_set.selections:
        if not _plain_directives(selection):
            return False
        if isinstance(selection, FieldNode):
            name = selection.name.value
            if name == "__typename":
                continue
            field = parent.fields.get(name)
            definition = field.extensions.get(DEFINITION) if field is not None else None
            if field is None or not _plain(definition):
                return False
            if selection.selection_set is not None:
                named = get_named_type(field.type)
                if not isinstance(named, GraphQLObjectType):
                    return False
                if not _context_free(schema, named, selection.selection_set, fragments):
                    return False
            continue
        if isinstance(selection, InlineFragmentNode):
            condition, inner = selection.type_condition, selection.selection_set
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is None:
                return False
            condition, inner = fragment.type_condition, fragment.selection_set
        else:
            return False
        target = parent if condition is None else schema.get_type(condition.name.value)
        if target is not parent or not _context_free(schema, parent, inner, fragments):
            return False
    return True


def _plain(definition: Any) -> bool:
    """A field read straight from its object's attribute."""
    return (
        isinstance(definition, StrawberryField)
        and definition.base_resolver is None
        and not definition.extensions
        and not definition.permission_classes
    )


def _plain_directives(selection: Any) -> bool:
    directives = selection.directives or ()  # None when the parser saw none
    return all(directive.name.value in PLAIN_DIRECTIVES for directive in directives)
