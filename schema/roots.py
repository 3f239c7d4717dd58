"""Root fields the planned executor (schema/planned/) may run, by GraphQL name: the body
each resolver delegates to, called with the arguments as Strawberry converts them."""

from __future__ import annotations

from schema.mutation import MUTATION_BODIES
from schema.planned.plan import RootBody
from schema.query import QUERY_BODIES, QUERY_RECORDS

PLANNABLE_ROOTS: dict[str, RootBody] = {**QUERY_BODIES, **MUTATION_BODIES}
# Classes the bodies answer with in place of a type's own (see schema/query.py)
RECORDS: dict[str, tuple[type, ...]] = QUERY_RECORDS
