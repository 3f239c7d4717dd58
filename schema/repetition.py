"""A bound on the work of graphql-core's OverlappingFieldsCanBeMerged rule, in one pass.

That rule compares every two fields that answer under the same response path: the same
field written 300 times with a sub-selection is 90,000 comparisons, a third of a second of
the event loop, for a 2 KB document under every other cap. Here each field node is counted
by its response path (aliases and names from the root, inline fragments flattened, each
fragment counted once per place it is spread), and a document whose paths hold more pairs than the
budget is refused before that rule runs. Type conditions are ignored, as the rule itself
still compares sub-selections under different ones: the count is an upper bound.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

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

from schema.limits import in_spread_order

Path = tuple[str, ...]


@dataclass(frozen=True)
class _Shape:
    fields: Counter[Path]  # own field nodes, by response path relative to the definition
    spreads: tuple[tuple[str, Path], ...]  # (fragment, path where it is spread)


def _shape(selection_set: SelectionSetNode) -> _Shape:
    fields: Counter[Path] = Counter()
    spreads: list[tuple[str, Path]] = []
    pending: list[tuple[SelectionSetNode, Path]] = [(selection_set, ())]
    while pending:
        selections, path = pending.pop()
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                key = (selection.alias or selection.name).value
                here = (*path, key)
                fields[here] += 1
                if selection.selection_set:
                    pending.append((selection.selection_set, here))
            elif isinstance(selection, InlineFragmentNode):
                pending.append((selection.selection_set, path))
            elif isinstance(selection, FragmentSpreadNode):
                spreads.append((selection.name.value, path))
    # The rule itself compares a fragment spread twice in one selection once: so here.
    return _Shape(fields, tuple(dict.fromkeys(spreads)))


def _expanded(shape: _Shape, fragments: dict[str, Counter[Path]]) -> Counter[Path]:
    fields = Counter(shape.fields)
    for name, prefix in shape.spreads:
        for path, count in fragments.get(name, {}).items():
            fields[prefix + path] += count
    return fields


def comparable_pairs(document: DocumentNode) -> int:
    """Pairs of field nodes sharing a response path, in the costliest operation."""
    shapes = {
        d.name.value: _shape(d.selection_set)
        for d in document.definitions
        if isinstance(d, FragmentDefinitionNode)
    }
    fragments = in_spread_order(shapes, lambda s: [name for name, _ in s.spreads], _expanded)
    worst = 0
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            fields = _expanded(_shape(definition.selection_set), fragments)
            worst = max(worst, sum(n * (n - 1) // 2 for n in fields.values()))
    # Fragments are validated on their own too, whether or not an operation spreads them.
    for counts in fragments.values():
        worst = max(worst, sum(n * (n - 1) // 2 for n in counts.values()))
    return worst


def repetition_errors(document: DocumentNode, *, max_pairs: int) -> list[GraphQLError]:
    pairs = comparable_pairs(document)
    if pairs <= max_pairs:
        return []
    return [
        GraphQLError(
            f"The document repeats fields too often: {pairs} pairs of fields answer under "
            f"the same name and would be compared, at most {max_pairs} are allowed. Merge "
            "repeated selections of the same field."
        )
    ]
