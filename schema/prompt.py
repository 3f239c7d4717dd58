"""The Prompt object type, built from a database row."""

from __future__ import annotations

from collections import namedtuple
from datetime import datetime
from functools import lru_cache
from typing import Annotated, NamedTuple

import strawberry

from db.models import PromptState as PromptStateValue
from db.models import PromptType as PromptTypeValue
from db.rows import PromptRow
from resolvers.history import PROMPT
from resolvers.ids import path_segment
from resolvers.pagination import encode_cursor
from schema.history import (
    AFTER,
    FIRST,
    HistoryEntry,
    Info,
    PromptHistoryConnection,
    history_page,
)

PromptType = strawberry.enum(
    PromptTypeValue, name="PromptType", description="How a prompt is played."
)
PromptState = strawberry.enum(
    PromptStateValue, name="PromptState", description="Where a prompt is in its lifecycle."
)

DOWNLOADABLE = frozenset({PromptStateValue.PUBLISHED, PromptStateValue.ARCHIVED})


@strawberry.type(description="A link to a related resource.")
class Link:
    href: str = strawberry.field(description="Address of the resource.")


@strawberry.type(description="HAL-style links of a prompt.")
class PromptLinks:
    self: Link = strawberry.field(description="Where to fetch this prompt's details.")
    download_link: Link | None = strawberry.field(
        description="Where to generate a download link; null unless PUBLISHED or ARCHIVED."
    )


@strawberry.type(description="An audio, text-to-speech or URL prompt played to callers.")
class Prompt:
    id: strawberry.ID = strawberry.field(description="Unique id of the prompt.")
    org_id: strawberry.ID = strawberry.field(description="Organization that owns the prompt.")
    owner_id: str = strawberry.field(description="User who owns the prompt.")
    name: str = strawberry.field(description="Name, unique within the organization.")
    title: str | None = strawberry.field(description="Display title.")
    description: str | None = strawberry.field(description="Free-text description.")
    type: PromptTypeValue = strawberry.field(description="ASSET, TTS or URL.")
    state: PromptStateValue = strawberry.field(description="DRAFT, PUBLISHED or ARCHIVED.")
    asset_id: str | None = strawberry.field(description="Audio asset played, for ASSET prompts.")
    file_name: str | None = strawberry.field(description="File name of the audio asset.")
    content: str | None = strawberry.field(description="Text content, e.g. for TTS prompts.")
    model: str | None = strawberry.field(description="Model that renders the content.")
    tags: list[str] = strawberry.field(description="Tags, without duplicates.")
    created_at: datetime = strawberry.field(description="When the prompt was created (UTC).")
    created_by: str = strawberry.field(description="Subject that created the prompt.")
    created_user_name: str | None = strawberry.field(description="Display name of the creator.")
    updated_at: datetime = strawberry.field(description="When the prompt last changed (UTC).")
    updated_by: str = strawberry.field(description="Subject that last changed the prompt.")
    updated_user_name: str | None = strawberry.field(
        description="Display name of whoever last changed the prompt."
    )
    version: int = strawberry.field(
        description="Starts at 1 and moves by one with every write that changes the prompt: "
        "send it back as expectedVersion to update only this version."
    )
    links: PromptLinks = strawberry.field(description="Related resources.")

    @strawberry.field(
        description="Every change of the prompt, newest first: the fields it changed, with "
        "their values before and after, who made it and when."
    )
    async def history(
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = 20,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
    ) -> PromptHistoryConnection:
        page = await history_page(
            info, kind=PROMPT, entity_id=str(self.id), first=first, after=after
        )
        return PromptHistoryConnection.from_page(page, HistoryEntry.from_row)  # type: ignore[return-value]

    @classmethod
    def from_row(cls, row: PromptRow, prompts_url: str) -> Prompt:
        href = f"{prompts_url}/{path_segment(row.id)}"
        download = Link(href=f"{href}/download-link") if row.state in DOWNLOADABLE else None
        return cls(
            id=strawberry.ID(row.id),
            org_id=strawberry.ID(str(row.org_id)),
            owner_id=row.owner_id,
            name=row.name,
            title=row.title,
            description=row.description,
            type=row.type,
            state=row.state,
            asset_id=row.asset_id,
            file_name=row.file_name,
            content=row.content,
            model=row.model,
            tags=list(row.tags),
            created_at=row.created_at,
            created_by=row.created_by,
            created_user_name=row.created_user_name,
            updated_at=row.updated_at,
            updated_by=row.updated_by,
            updated_user_name=row.updated_user_name,
            version=row.version,
            links=PromptLinks(self=Link(href=href), download_link=download),
        )


# What the planned executor (schema/planned/) writes answers from: the row itself with the
# prompt's links beside it, read through the same attribute names as Prompt's, instead of
# a Prompt (whose dataclass __init__ of 20 keywords was a fifth of a page's CPU). The
# values are the row's: org_id stays a UUID, which the ID scalar writes as str() does.


class LinkRecord(NamedTuple):
    href: str


class PromptLinksRecord(NamedTuple):
    self: LinkRecord
    download_link: LinkRecord | None


# mypy needs literal field names; these are derived from PromptRow's, so they cannot drift.
class PromptRecord(namedtuple("PromptRecord", (*PromptRow._fields, "links"))):  # type: ignore[misc]
    """A prompt row's columns, in the row's order (derived from it: never out of step),
    and `links`."""

    __slots__ = ()

    # A record is its own edge (Connection.of_records): an edge tuple per row cost more
    # than these two reads of it.
    @property
    def node(self) -> PromptRecord:
        return self

    @property
    def cursor(self) -> str:
        return encode_cursor(self.id)  # type: ignore[attr-defined]  # (a field, see above)

    @classmethod
    def from_row(cls, row: PromptRow, prompts_url: str) -> PromptRecord:
        # Each tuple made directly, as _make does without its Python frame: a NamedTuple's
        # own __new__ is one too (~0.1 µs each, every prompt answered)
        new = tuple.__new__
        href = f"{prompts_url}/{path_segment(row.id)}"
        download = (
            new(LinkRecord, (f"{href}/download-link",)) if row.state in DOWNLOADABLE else None
        )
        return new(cls, (*row, new(PromptLinksRecord, (new(LinkRecord, (href,)), download))))


# Prompt's attributes that are not columns of its own, and the columns they are made from
_DERIVED: dict[str, frozenset[str]] = {"links": frozenset({"id", "state"})}


@lru_cache(maxsize=256)  # a plan reads the same attributes every time: worked out once
def prompt_columns(attributes: frozenset[str] | None) -> frozenset[str] | None:
    """The columns a Prompt answer reading these attributes needs (None: every column, for
    an attribute this does not know)."""
    if attributes is None:
        return None
    columns: set[str] = set()
    for attribute in attributes:
        if attribute in PromptRow._fields:
            columns.add(attribute)
        elif attribute in _DERIVED:
            columns |= _DERIVED[attribute]
        else:
            return None
    return frozenset(columns)
