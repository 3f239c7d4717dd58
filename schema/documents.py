"""Parsed and validated documents, remembered by their text, and what is remembered of
refused ones.

Valid documents keep their syntax tree in an LRU bounded by entries and by characters: the
trees of a cache are millions of objects that every full garbage collection walks, and an
unbounded one stalled the event loop for ~250 ms per collection. Refused documents (syntax,
caps, validation) keep only their errors, without the tree or the text, by the text's hash,
whatever their length: sending the same refused document again costs a hash.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from functools import lru_cache

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSyntaxError,
    OperationDefinitionNode,
    OperationType,
    Source,
    parse,
)
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType as StrawberryOperationType

from schema.limits import cap_errors
from schema.repetition import repetition_errors
from schema.strawberry_internals import graphql_core_schema, provided_operation_name
from schema.validation import validation_errors

MAX_CACHED_CHARS = 16 * 1024  # a longer valid document is parsed and validated every time
GRAPHQL_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")


@lru_cache(maxsize=256)  # operation names are the caller's: bounded
def placeholder(operation: OperationType, name: str | None) -> DocumentNode:
    """What Strawberry gets instead of a remembered refusal's tree: one operation of the
    same type and name, so it reads the operation type exactly as from the document (an
    unknown operationName is refused the same way), then meets the remembered errors."""
    return parse(f"{operation.value} {name or ''} {{ __typename }}")


@dataclass(frozen=True, slots=True)
class Refusal:
    errors: list[GraphQLError]  # light copies: no nodes, no source text
    # The document's one operation (type, name); None: refused before there was one (a
    # syntax error, a cap on the text), which no operationName could have changed.
    operation: tuple[OperationType, str | None] | None


class DocumentStore:
    def __init__(
        self, *, entries: int = 512, chars: int = 128 * 1024, refusals: int = 1024
    ) -> None:
        self.entries, self.chars, self.refusals = entries, chars, refusals
        self._valid: OrderedDict[str, DocumentNode] = OrderedDict()
        self._valid_chars = 0
        self._refused: OrderedDict[bytes, Refusal] = OrderedDict()

    def valid(self, query: str) -> DocumentNode | None:
        document = self._valid.get(query)
        if document is not None:
            self._valid.move_to_end(query)
        return document

    def keep_valid(self, query: str, document: DocumentNode) -> None:
        if len(query) > MAX_CACHED_CHARS or query in self._valid:
            return
        self._valid[query] = document
        self._valid_chars += len(query)
        while len(self._valid) > self.entries or self._valid_chars > self.chars:
            dropped, _ = self._valid.popitem(last=False)
            self._valid_chars -= len(dropped)

    def knows_valid(self, query: str) -> bool:
        """Parsed and found valid before (and still in the cache)."""
        return query in self._valid

    def refusal(self, query: str) -> Refusal | None:
        key = _digest(query)
        refusal = self._refused.get(key)
        if refusal is not None:
            self._refused.move_to_end(key)
        return refusal

    def refuse(
        self,
        query: str,
        errors: list[GraphQLError],
        operation: tuple[OperationType, str | None] | None,
    ) -> None:
        if any(error.original_error is not None for error in errors):
            return  # a failure of ours, not a verdict on the document: never remembered
        self._refused[_digest(query)] = Refusal([_light(e) for e in errors], operation)
        if len(self._refused) > self.refusals:
            self._refused.popitem(last=False)

    def __len__(self) -> int:
        return len(self._valid)

    @property
    def kept_chars(self) -> int:
        return self._valid_chars


class CachedDocuments(SchemaExtension):
    """Parsing and validation through the store; graphql-core's `hide_suggestions` passed
    on, and the repetition bound checked before validation's quadratic rule."""

    def __init__(
        self,
        *,
        store: DocumentStore,
        hide_suggestions: bool,
        max_repeated_pairs: int,
        max_chars: int,
        max_selections: int,
    ) -> None:
        super().__init__()
        self.store = store
        self.max_chars = max_chars
        self.max_selections = max_selections
        self.hide_suggestions = hide_suggestions
        self.max_repeated_pairs = max_repeated_pairs
        self.known: Refusal | bool | None = None  # a refusal, True when known valid

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        query = context.query or ""
        if len(query) > self.max_chars:  # lexing alone would take the event loop too long
            self.known = Refusal([_too_long(self.max_chars)], None)
        elif (document := self.store.valid(query)) is not None:
            self.known = True
            context.graphql_document = document
        else:
            self.known = self.store.refusal(query)
        if isinstance(self.known, Refusal):
            stand_in = self._placeholder(self.known)
            if stand_in is None:
                self.known = None  # parsed and validated again: the answer is the same
            context.graphql_document = stand_in
        yield  # Strawberry parses when no document was set, and catches its syntax errors
        if context.graphql_document is None and context.pre_execution_errors:
            self.store.refuse(query, context.pre_execution_errors, None)

    def _placeholder(self, refusal: Refusal) -> DocumentNode | None:
        if refusal.operation is not None:
            return placeholder(*refusal.operation)
        # Refused before any operation: whatever operationName the caller sent, it was
        # never looked up. A stand-in of that name keeps it so, when it can be written.
        name = provided_operation_name(self.execution_context)
        if name is None or GRAPHQL_NAME.fullmatch(name):
            return placeholder(self._runnable_type(), name)
        return None

    def _runnable_type(self) -> OperationType:
        """A type this transport runs, so the stand-in meets the remembered errors and not
        the transport's refusal of its type: over WebSocket and SSE only subscriptions run."""
        allowed = self.execution_context.allowed_operations  # Strawberry's, a set or a tuple
        if not isinstance(allowed, Collection) or StrawberryOperationType.QUERY in allowed:
            return OperationType.QUERY
        return OperationType.SUBSCRIPTION

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if isinstance(self.known, Refusal):
            context.pre_execution_errors = list(self.known.errors)
        elif self.known:
            context.pre_execution_errors = []
        else:
            context.pre_execution_errors = self._validate()
        yield

    def _validate(self) -> list[GraphQLError]:
        context = self.execution_context
        query, document = context.query or "", context.graphql_document
        assert document is not None
        rules = context.validation_rules
        # The caps first (one pass, fragments measured once), then the repetition bound, and
        # only then the rules whose work grows faster than the document.
        errors = cap_errors(document, rules) or repetition_errors(
            document, max_pairs=self.max_repeated_pairs, max_selections=self.max_selections
        )
        if not errors:
            errors = validation_errors(
                graphql_core_schema(context.schema),
                document,
                rules,
                hide_suggestions=self.hide_suggestions,
            )
        if not errors:
            self.store.keep_valid(query, document)
        elif (operation := _only_operation(document)) is not None:
            # A refusal is remembered only for a document of one operation: with several,
            # which one runs (and OperationName's own error) depends on operationName.
            self.store.refuse(query, errors, operation)
        return errors


def _only_operation(document: DocumentNode) -> tuple[OperationType, str | None] | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1:
        return None
    only = operations[0]
    return only.operation, only.name.value if only.name else None


def _digest(query: str) -> bytes:
    return hashlib.sha256(query.encode("utf-8", "surrogatepass")).digest()


def _too_long(max_chars: int) -> GraphQLError:
    """Refused before lexing, in the words of graphql-core's token cap."""
    return GraphQLSyntaxError(
        Source(""), 0, f"Document contains more than {max_chars} characters. Parsing aborted."
    )


def _light(error: GraphQLError) -> GraphQLError:
    """The same error, class and locations included, without the tree and the text."""
    light = Exception.__new__(type(error))  # no __init__: its signature differs by class
    light.args = error.args
    for klass in type(error).__mro__:
        for name in getattr(klass, "__slots__", ()):
            if hasattr(error, name):
                setattr(light, name, getattr(error, name))
    light.__dict__.update(getattr(error, "__dict__", {}))
    light.nodes = None
    light.source = None
    return light
