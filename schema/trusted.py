"""Checks a trusted document once, when the gateway starts: the same parsing, caps and
validation rules a request's document meets, and the operations it holds."""

from __future__ import annotations

from dataclasses import dataclass

from graphql import GraphQLError, OperationDefinitionNode, parse
from graphql.validation import specified_rules

from schema.limits import cap_errors
from schema.repetition import repetition_errors
from schema.schema import PatchbaySchema
from schema.strawberry_internals import graphql_core_schema
from schema.validation import validation_errors


@dataclass(frozen=True, slots=True)
class CheckedDocument:
    errors: list[str]  # why the document would be refused; empty when it is valid
    operations: list[tuple[str | None, str]]  # (name, "query" / "mutation" / …)
    requested_cost: dict[str | None, int]  # each operation's cost with default variables


def check_document(schema: PatchbaySchema, text: str, *, max_tokens: int) -> CheckedDocument:
    try:
        document = parse(text, max_tokens=max_tokens)
    except GraphQLError as error:
        return CheckedDocument([error.message], [], {})
    rules = (*specified_rules, *schema.rules)
    errors = cap_errors(document, rules) or repetition_errors(
        document, max_pairs=schema.max_repeated_pairs, max_selections=schema.max_selections
    )
    if not errors:
        core = graphql_core_schema(schema)
        errors = validation_errors(core, document, rules, hide_suggestions=False)
    operations = [
        (d.name.value if d.name else None, d.operation.value)
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
    ]
    costs: dict[str | None, int] = {}
    if not errors:
        for name, _ in operations:
            cost = schema.costs.of(text, name, document)
            costs[name] = cost.requested(None) if cost is not None else 0
    return CheckedDocument([e.message for e in errors], operations, costs)
