"""Depth and alias caps that cost one pass over a document, however its fragments are spread.

Strawberry's own depth and alias rules expand a fragment at every spread. A fragment that
spreads the next one twice, twenty times over, is ~200 tokens but 2^20 expansions: seconds
of CPU on the event loop per request. They also fail with a KeyError (shown to the caller as
the message `'Name'`) on a spread of a fragment the document does not define. Here each
fragment is measured once and its totals reused at every spread, without recursion; what a
caller sees is unchanged (same counting, same messages).

As in Strawberry's rules, introspection fields (`__schema`, `__type`) and everything below
them add no depth, but every alias counts wherever it is, introspection included: otherwise
300 aliased `types` under one `__schema` are served, the whole type list 300 times over.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TypeVar

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from graphql.validation import ASTValidationRule, ValidationContext

S = TypeVar("S")
T = TypeVar("T")


@dataclass(frozen=True)
class Totals:
    depth: int  # levels of fields below the root fields (introspection fields end a branch)
    aliases: int  # aliased fields anywhere, introspection included; a fragment's once per spread


@dataclass(frozen=True)
class _Shape:
    own: Totals  # of the definition's own selections
    # (fragment name, level of the spread; None below an introspection field: aliases only)
    spreads: tuple[tuple[str, int | None], ...]


def _shape(selection_set: SelectionSetNode) -> _Shape:
    depth = aliases = 0
    spreads: list[tuple[str, int | None]] = []
    # level None: below an introspection field, where aliases count and depth does not
    pending: list[tuple[SelectionSetNode, int | None]] = [(selection_set, 0)]
    while pending:
        selections, level = pending.pop()
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                aliases += selection.alias is not None
                if level is not None:
                    depth = max(depth, level)
                if not selection.selection_set:
                    continue
                if level is None or selection.name.value.startswith("__"):
                    pending.append((selection.selection_set, None))
                else:
                    pending.append((selection.selection_set, level + 1))
            elif isinstance(selection, InlineFragmentNode):
                pending.append((selection.selection_set, level))
            elif isinstance(selection, FragmentSpreadNode):
                spreads.append((selection.name.value, level))
    return _Shape(Totals(depth, aliases), tuple(spreads))


def _with_spreads(shape: _Shape, fragments: Mapping[str, Totals]) -> Totals:
    """Unknown fragments and spreads that close a cycle add nothing: the specified rules
    (KnownFragmentNames, NoFragmentCycles) report those documents."""
    depth, aliases = shape.own.depth, shape.own.aliases
    for name, level in shape.spreads:
        spread = fragments.get(name)
        if spread is not None:
            if level is not None:
                depth = max(depth, level + spread.depth)
            aliases += spread.aliases
    return Totals(depth, aliases)


def _fragment_totals(shapes: Mapping[str, _Shape]) -> dict[str, Totals]:
    return in_spread_order(shapes, lambda shape: [name for name, _ in shape.spreads], _with_spreads)


def in_spread_order(
    shapes: Mapping[str, S],
    spreads_of: Callable[[S], Iterable[str]],
    combine: Callable[[S, dict[str, T]], T],
) -> dict[str, T]:
    """Each fragment's totals, every fragment after those it spreads (depth-first, no
    recursion, so a long chain of fragments cannot exhaust the stack). Spreads of unknown
    fragments and spreads that close a cycle are left to `combine` to skip."""
    done: dict[str, T] = {}
    for root in shapes:
        if root in done:
            continue
        path: list[tuple[str, Iterator[str]]] = [(root, iter(spreads_of(shapes[root])))]
        on_path = {root}
        while path:
            name, spreads = path[-1]
            for spread in spreads:
                if spread in shapes and spread not in done and spread not in on_path:
                    path.append((spread, iter(spreads_of(shapes[spread]))))
                    on_path.add(spread)
                    break
            else:
                path.pop()
                on_path.discard(name)
                done[name] = combine(shapes[name], done)
    return done


def operation_totals(document: DocumentNode) -> list[tuple[OperationDefinitionNode, Totals]]:
    """Depth and alias count of each operation of the document, fragments included."""
    shapes = {
        definition.name.value: _shape(definition.selection_set)
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    fragments = _fragment_totals(shapes)
    return [
        (definition, _with_spreads(_shape(definition.selection_set), fragments))
        for definition in document.definitions
        if isinstance(definition, OperationDefinitionNode)
    ]


def limits_rule(*, max_depth: int, max_aliases: int) -> type[ASTValidationRule]:
    """One validation rule for both caps; build it once so validation caches keep hitting."""

    class DocumentLimits(CapsRule):
        def __init__(self, context: ValidationContext) -> None:
            super().__init__(context)
            for error in self.errors(context.document):
                context.report_error(error)

        @staticmethod
        def errors(document: DocumentNode) -> list[GraphQLError]:
            return _cap_errors(document, max_depth=max_depth, max_aliases=max_aliases)

    return DocumentLimits


class CapsRule(ASTValidationRule):
    """The caps' rule: its errors can also be had without the rest of validation."""

    @staticmethod
    def errors(document: DocumentNode) -> list[GraphQLError]:
        raise NotImplementedError


def _cap_errors(document: DocumentNode, *, max_depth: int, max_aliases: int) -> list[GraphQLError]:
    errors = []
    operations = operation_totals(document)
    for operation, totals in operations:
        if totals.depth > max_depth:
            name = operation.name.value if operation.name else "anonymous"
            errors.append(
                GraphQLError(f"'{name}' exceeds maximum operation depth of {max_depth}", operation)
            )
    aliases = sum(totals.aliases for _, totals in operations)
    if aliases > max_aliases:
        errors.append(GraphQLError(f"{aliases} aliases found. Allowed: {max_aliases}"))
    return errors


def cap_errors(
    document: DocumentNode, rules: tuple[type[ASTValidationRule], ...]
) -> list[GraphQLError]:
    """The errors of the caps' rule among `rules`, run alone (one pass over the document)."""
    return [e for rule in rules if issubclass(rule, CapsRule) for e in rule.errors(document)]
