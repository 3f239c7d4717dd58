"""Admission: an operation's cost is known, and the gateway says whether it may run.

Between validation and execution, `CostAdmission` works out the operation's requested cost
and asks the request's `admit` callback (the gateway's operation-cost cap and rate limit); a
refusal takes the place of the result, so nothing runs. The planned executor's path asks the
same callback with the same costing (gateway/graphql/view.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from schema.context import Context
from schema.cost import Costs
from schema.strawberry_internals import provided_operation_name


@dataclass(frozen=True)
class NotAdmitted(Exception):
    """The operation may not run: too costly, or its client is over its rate limit."""

    code: str
    message: str
    status: int
    extensions: dict[str, Any] = field(default_factory=dict)

    def as_error(self) -> GraphQLError:
        return GraphQLError(self.message, original_error=self)


class CostAdmission(SchemaExtension):
    def __init__(self, *, costs: Costs) -> None:
        super().__init__()
        self.costs = costs

    async def on_execute(self) -> AsyncIterator[None]:
        execution = self.execution_context
        context = execution.context
        document = execution.graphql_document
        if not isinstance(context, Context) or context.admit is None or document is None:
            yield
            return
        cost = self.costs.of(
            execution.query or "",
            execution.operation_name,
            document,
            asked_as=provided_operation_name(execution),
        )
        requested = cost.requested(execution.variables) if cost is not None else 0
        try:
            await context.admit(requested)
        except NotAdmitted as refusal:
            if execution.operation_type is OperationType.SUBSCRIPTION:
                raise  # Strawberry subscribes whatever result is set here: the error ends it
            execution.result = GraphQLExecutionResult(data=None, errors=[refusal.as_error()])
            yield
            return
        yield
        result = execution.result
        if getattr(result, "errors", None):
            context.actual_cost = requested  # what ran is not all in the data: no give-back
        else:
            context.actual_cost = cost.actual(getattr(result, "data", None)) if cost else 0
