"""The planned executor plans only what it can honour exactly as Strawberry would."""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest
import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.permission import BasePermission

from schema.planned.executor import PlannedExecutor
from schema.roots import PLANNABLE_ROOTS
from schema.schema import build_schema

UPDATE = """mutation { updatePrompt(id: "p", input: {title: "t"}) { __typename } }"""


class Never(BasePermission):
    message = "never"

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        return False


async def _body(ctx: Any, **arguments: Any) -> bool:
    return True


@strawberry.type
class _Query:
    ok: bool = True


@strawberry.type
class _Guarded:
    @strawberry.mutation(permission_classes=[Never])
    async def touch(self) -> bool:
        return True

    @strawberry.mutation
    async def plain(self) -> bool:
        return True


def test_a_document_of_our_schema_is_planned() -> None:
    planned = PlannedExecutor(build_schema(), PLANNABLE_ROOTS)
    planned.learn(UPDATE, None)
    assert planned.plan_for(UPDATE, None) is not None


def test_a_root_field_with_permission_classes_is_not_planned() -> None:
    schema = strawberry.Schema(query=_Query, mutation=_Guarded)
    planned = PlannedExecutor(schema, {"touch": _body, "plain": _body})
    planned.learn("mutation { touch }", None)
    planned.learn("mutation { plain }", None)
    assert planned.plan_for("mutation { touch }", None) is None
    assert planned.plan_for("mutation { plain }", None) is not None


def test_a_schema_with_an_extension_it_cannot_honour_plans_nothing() -> None:
    class Audit(SchemaExtension):
        pass

    schema = strawberry.Schema(query=_Query, mutation=_Guarded, extensions=[Audit])
    planned = PlannedExecutor(schema, {"plain": _body})
    planned.learn("mutation { plain }", None)
    assert not planned.enabled
    assert planned.plan_for("mutation { plain }", None) is None


def test_a_document_with_a_directive_is_not_planned() -> None:
    planned = PlannedExecutor(build_schema(), PLANNABLE_ROOTS)
    document = UPDATE.replace("__typename", "__typename @include(if: true)")
    planned.learn(document, None)
    assert planned.plan_for(document, None) is None


def test_planned_arguments_are_what_strawberry_converts() -> None:
    """The converters built once per plan give the resolver what Strawberry's own
    convert_arguments gives it, for every shape of our mutations' inputs."""
    from graphql.execution.values import get_argument_values, get_variable_values
    from strawberry.types.arguments import convert_arguments

    schema = build_schema()
    planned = PlannedExecutor(schema, PLANNABLE_ROOTS)
    document = (
        "mutation U($id: ID!, $input: UpdatePromptInput!) "
        "{ updatePrompt(id: $id, input: $input) { __typename } }"
    )
    planned.learn(document, None)
    plan = planned.plan_for(document, None)
    assert plan is not None and plan.convert is not None
    inputs = [
        {},
        {"title": None, "tags": None, "name": "n"},
        {"tags": ["a", " b "], "expectedUpdatedAt": "2026-01-01T00:00:00+01:00"},
        {"requestId": "r", "fileName": "f.mp3", "content": "", "model": None},
    ]
    for value in inputs:
        variables = get_variable_values(
            schema._schema, plan.operation.variable_definitions, {"id": "p", "input": value}
        )
        raw = get_argument_values(plan.field, plan.node, variables)  # type: ignore[arg-type]
        expected = convert_arguments(
            raw, plan.arguments, schema.schema_converter.scalar_registry, schema.config
        )
        assert plan.convert(raw) == expected


def test_a_record_without_every_field_of_its_type_is_refused_at_once() -> None:
    class Partial(NamedTuple):
        id: str

    with pytest.raises(TypeError, match="Partial lacks"):
        PlannedExecutor(build_schema(), PLANNABLE_ROOTS, records={"Prompt": (Partial,)})


def test_coerced_arguments_are_kept_per_plan_for_scalar_variables_only() -> None:
    planned = PlannedExecutor(build_schema(), PLANNABLE_ROOTS)
    page = "query P($n: Int, $a: String) { prompts(first: $n, after: $a) { __typename } }"
    write = "mutation W($i: UpdatePromptInput!) { updatePrompt(id: 1, input: $i) { __typename } }"
    planned.learn(page, None)
    planned.learn(write, None)
    reads, writes = planned.plan_for(page, None), planned.plan_for(write, None)
    assert reads is not None and writes is not None
    # when: the same scalar variables twice, then a value of another type, then bad ones
    first = planned._arguments(reads, {"n": 2, "a": None})
    again = planned._arguments(reads, {"n": 2, "a": None})
    refused = planned._arguments(reads, {"n": "2"})
    written = planned._arguments(writes, {"i": {"title": "t"}})
    # then
    assert first == again == {"first": 2, "after": None}
    assert refused is None
    assert written is not None
    assert list(reads.arguments_cache.values()) == [first]  # refusals are not kept
    assert writes.arguments_cache == {}  # input objects are not scalars
