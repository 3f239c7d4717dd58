"""Documents seen before, run from their plans instead of by the generic executor.

A document is planned after Strawberry has executed it once without request errors (so it
parsed, validated and passed every limit). Any request whose variables or arguments do not
coerce stays on Strawberry's path, which reports the errors: nothing has run by then. A
schema with an extension the plans cannot honour plans nothing at all.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import strawberry
from graphql import located_error
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from strawberry.types import ExecutionContext
from strawberry.types.arguments import convert_arguments

from schema.context import Context
from schema.documents import MAX_CACHED_CHARS
from schema.extensions import honours_every_extension
from schema.planned.compiler import Compiler
from schema.planned.plan import Plan, RootBody
from schema.request_errors import format_error


class PlannedExecutor:
    def __init__(
        self,
        schema: strawberry.Schema,
        roots: Mapping[str, RootBody],
        *,
        records: Mapping[str, tuple[type, ...]] | None = None,
        size: int = 256,
    ) -> None:
        """`roots`: the body of each plannable root field; `records`: classes (NamedTuples)
        the bodies may answer with in place of an object type's own, by type name."""
        self.schema = schema
        self.size = size
        self.enabled = honours_every_extension(schema)
        self._compiler = Compiler(schema, roots, records or {})
        self._plans: OrderedDict[tuple[str, str | None], Plan | None] = OrderedDict()
        self._pinned: dict[tuple[str, str | None], Plan] = {}  # trusted documents: kept
        self._scalars = schema.schema_converter.scalar_registry
        self.runs = 0  # documents answered from a plan: what tests and benchmarks read

    def plan_for(self, query: str, operation_name: str | None) -> Plan | None:
        key = (query, operation_name)
        plan = self._pinned.get(key) or self._plans.get(key)
        if plan is not None and key in self._plans:
            self._plans.move_to_end(key)
        return plan

    def learn(self, query: str, operation_name: str | None, *, pinned: bool = False) -> None:
        """Compile a document that Strawberry just executed without request errors, or a
        trusted one checked at start (`pinned`: kept whatever else is learnt)."""
        key = (query, operation_name)
        if not self.enabled or key in self._plans or key in self._pinned:
            return
        if len(query) > MAX_CACHED_CHARS and not pinned:
            return
        try:
            plan: Plan | None = self._compiler.compile(query, operation_name)
        except Exception:  # anything unexpected: the document simply stays on the slow path
            plan = None
        if pinned:
            if plan is not None:
                self._pinned[key] = plan
            return
        self._plans[key] = plan
        if len(self._plans) > self.size:
            self._plans.popitem(last=False)

    async def execute(
        self, plan: Plan, ctx: Context, variables: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        """The response, or None when the slow path must answer (it reports the errors)."""
        arguments = self._arguments(plan, variables)
        if arguments is None:
            return None
        self.runs += 1
        ctx.operation = plan.operation_name
        try:
            result = await plan.resolve(ctx, **arguments)  # (no frame of Plan's between)
            return {"data": {plan.response_key: plan.serialize(result)}}
        except Exception as exc:  # what graphql-core does with a failing non-null root field
            error = located_error(exc, [plan.node], [plan.response_key])
            self.schema.process_errors([error], self._execution_of(ctx))
            return {"data": None, "errors": [format_error(error, ctx.request_id)]}

    def _execution_of(self, ctx: Context) -> ExecutionContext:
        """What Strawberry's error processing reads: the request's context."""
        return ExecutionContext(query=None, schema=self.schema, allowed_operations=(), context=ctx)

    def _arguments(self, plan: Plan, variables: dict[str, Any] | None) -> dict[str, Any] | None:
        """The root field's arguments as its resolver gets them from Strawberry.

        Coercion is a function of the plan and the variables alone: arguments made of
        immutable scalars only are kept per plan, by variables of immutable scalars only
        (with their types: 1, 1.0 and True are different variables)."""
        key = _scalar_key(variables)
        if key is not None:
            cached = plan.arguments_cache.get(key)
            if cached is not None:
                return cached
        arguments = self._coerced_arguments(plan, variables)
        if (
            key is not None
            and arguments is not None
            and len(plan.arguments_cache) < ARGUMENTS_KEPT_PER_PLAN
            and all(type(value) in _SCALARS for value in arguments.values())
        ):
            plan.arguments_cache[key] = arguments
        return arguments

    def _coerced_arguments(
        self, plan: Plan, variables: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        try:
            coerced = None if plan.variables is None else plan.variables(variables or {})
            if coerced is None:
                general = get_variable_values(
                    self._compiler.core, plan.operation.variable_definitions or (), variables or {}
                )
                if not isinstance(general, VariableValues):
                    return None
                coerced = general
            raw = plan.argument_values(coerced) if plan.argument_values is not None else None
            if raw is None:
                raw = get_argument_values(plan.field, plan.node, coerced)
            if plan.convert is not None:
                return plan.convert(raw)
            return convert_arguments(raw, plan.arguments, self._scalars, self.schema.config)
        except Exception:
            return None


ARGUMENTS_KEPT_PER_PLAN = 64
_SCALARS = frozenset({str, int, float, bool, type(None)})


def _scalar_key(variables: dict[str, Any] | None) -> tuple[Any, ...] | None:
    """A hashable key for variables that are all immutable scalars; None otherwise."""
    if not variables:
        return ()
    key = []
    for name, value in variables.items():
        kind = type(value)
        if kind not in _SCALARS:
            return None
        key.append((name, kind, value))
    return tuple(key)
