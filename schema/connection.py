"""Cursor connections, generic over the node type (PromptConnection, …)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, NamedTuple, TypeVar

import strawberry

from resolvers.pagination import Page, encode_cursor

Node = TypeVar("Node")


@strawberry.type(description="Where a page ends and whether another follows.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="True when more items follow this page.")
    end_cursor: str | None = strawberry.field(
        description="Pass as `after` to fetch the next page; null on an empty page."
    )


@strawberry.type(description="One item of a page and its cursor.")
class Edge(Generic[Node]):
    cursor: str = strawberry.field(description="Opaque position of this item.")
    node: Node = strawberry.field(description="The item.")


@strawberry.type(description="A page of items, in id order.")
class Connection(Generic[Node]):
    edges: list[Edge[Node]] = strawberry.field(description="The items of this page.")
    page_info: PageInfo = strawberry.field(description="How to fetch the next page.")

    @classmethod
    def from_page(cls, page: Page[Any], node: Callable[[Any], Node]) -> Connection[Node]:
        return cls(
            edges=[Edge(cursor=cursor, node=node(row)) for cursor, row in page.items],
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
        )

    @classmethod
    def of_records(
        cls, page: Page[Any], node: Callable[[Any], Any] | None, *, own_edges: bool = False
    ) -> Connection[Any]:
        """For the planned executor: edges as records, nodes as `node` makes them (None:
        the rows are the nodes, and an edge costs no Python call; `own_edges`: the rows
        are their edges too, with `node` and `cursor` of their own, e.g. PromptRecord)."""
        new, pairs = tuple.__new__, zip(page.keys, page.rows, strict=True)
        # as EdgeRecord._make makes them, without its Python frame per edge
        edges: list[Any]
        if node is None and own_edges:
            edges = list(page.rows)
        elif node is None:
            edges = [new(EdgeRecord, pair) for pair in pairs]
        else:
            edges = [new(EdgeRecord, (key, node(row))) for key, row in pairs]
        return cls(
            edges=edges,
            page_info=PageInfo(has_next_page=page.has_next_page, end_cursor=page.end_cursor),
        )


class EdgeRecord(NamedTuple):
    """An edge as the planned executor writes it (Edge's attributes, a tuple's cost); its
    cursor is encoded only if the document asks for it."""

    key: str
    node: Any

    @property
    def cursor(self) -> str:
        return encode_cursor(self.key)
