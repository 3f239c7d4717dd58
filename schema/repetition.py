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
# Path entries written while expanding fragments: GraphiQL's introspection query needs ~400,
# a chain of 450 fragments each nesting the next ~100,000 (0.4 s to count them all).
MAX_PATHS = 5_000


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


class TooManyPaths(Exception):
    """Expanding the fragments would take more work than any real document needs."""


@dataclass
class _Budget:
    entries: int  # response paths that may still be written while expanding

    def expanded(self, shape: _Shape, fragments: dict[str, Counter[Path]]) -> Counter[Path]:
        fields = Counter(shape.fields)
        for name, prefix in shape.spreads:
            spread: Counter[Path] = fragments.get(name) or Counter()
            self.entries -= len(spread)
            if self.entries < 0:  # e.g. hundreds of fragments each nesting the next
                raise TooManyPaths
            for path, count in spread.items():
                fields[prefix + path] += count
        return fields


def comparable_pairs(document: DocumentNode, *, max_paths: int = MAX_PATHS) -> int:
    """Pairs of field nodes sharing a response path, in the costliest operation. Raises
    TooManyPaths past `max_paths` path entries written while expanding fragments."""
    budget = _Budget(max_paths)
    _expanded = budget.expanded
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


def written_selections(document: DocumentNode) -> int:
    """Fields, fragment spreads and inline fragments as written (not expanded): what parsing,
    validation and collecting fields each walk at least once."""
    count = 0
    pending = [d.selection_set for d in document.definitions if hasattr(d, "selection_set")]
    while pending:
        selections = pending.pop().selections
        count += len(selections)
        pending += [s.selection_set for s in selections if getattr(s, "selection_set", None)]
    return count


def repetition_errors(
    document: DocumentNode, *, max_pairs: int, max_selections: int
) -> list[GraphQLError]:
    written = written_selections(document)
    if written > max_selections:
        return [
            GraphQLError(
                f"The document has {written} selections (fields, fragment spreads and inline "
                f"fragments), at most {max_selections} are allowed."
            )
        ]
    try:
        pairs = comparable_pairs(document)
    except TooManyPaths:
        return [
            GraphQLError(
                f"The document's fragments expand to more than {MAX_PATHS} distinct field "
                "paths: too many to check. Spread fewer fragments inside one another."
            )
        ]
    if pairs <= max_pairs:
        return []
    return [
        GraphQLError(
            f"The document repeats fields too often: {pairs} pairs of fields answer under "
            f"the same name and would be compared, at most {max_pairs} are allowed. Merge "
            "repeated selections of the same field."
        )
    ]
