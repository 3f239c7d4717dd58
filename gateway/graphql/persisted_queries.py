"""Automatic persisted queries, in Apollo's protocol.

A client sends `extensions.persistedQuery.sha256Hash` instead of the document; the first
time, the server answers PersistedQueryNotFound and the client sends both, which the
server checks and keeps. Each process keeps the documents it has seen, bounded by entries
and by bytes; with PATCHBAY_REDIS_URL they are kept in Redis too (shared_documents.py), so
that a document registered through one replica is served by every other (docs/deploy.md).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

NOT_FOUND = "PersistedQueryNotFound"


@dataclass(frozen=True)
class PersistedQueryError(Exception):
    message: str
    code: str
    status: int


class Shared(Protocol):
    """The documents every replica sees (Redis): a miss or a failure is None."""

    async def get(self, digest: str) -> str | None: ...

    async def put(self, digest: str, query: str) -> None: ...


class PersistedQueries:
    def __init__(
        self,
        *,
        max_entries: int = 2000,
        max_bytes: int = 16 * 1024 * 1024,
        shared: Shared | None = None,
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.shared = shared
        self._documents: OrderedDict[str, str] = OrderedDict()
        self._sizes: dict[str, int] = {}  # UTF-8 bytes of each document
        self._bytes = 0

    async def resolve(self, query: Any, persisted: Any) -> str:
        """The document to run for a request carrying `extensions.persistedQuery`."""
        digest = self.check(persisted)
        if not isinstance(query, str):
            return await self._known(digest)
        self.verify(query, persisted)
        if digest not in self._documents and self.shared is not None:
            await self.shared.put(digest, query)  # before the answer: the next may go elsewhere
        self._keep(digest, query, len(query.encode()))
        return query

    @staticmethod
    def check(persisted: Any) -> str:
        """The hash of a well-formed `persistedQuery` extension, in lower case."""
        if not isinstance(persisted, dict) or persisted.get("version") != 1:
            raise PersistedQueryError(
                "Unsupported persisted query version", "PERSISTED_QUERY_NOT_SUPPORTED", 400
            )
        digest = persisted.get("sha256Hash")
        if not isinstance(digest, str):
            raise PersistedQueryError("sha256Hash is missing", "BAD_REQUEST", 400)
        return digest.lower()

    @classmethod
    def verify(cls, query: Any, persisted: Any) -> str:
        """The document, once its hash is the one the extension names (nothing is kept)."""
        digest = cls.check(persisted)
        if not isinstance(query, str):
            raise PersistedQueryError("the query must be a string", "BAD_REQUEST", 400)
        try:
            encoded = query.encode()
        except UnicodeEncodeError:  # a lone surrogate: no document has that hash
            raise PersistedQueryError("the query is not valid UTF-8", "BAD_REQUEST", 400) from None
        if hashlib.sha256(encoded).hexdigest() != digest:
            raise PersistedQueryError(
                "provided sha does not match query", "PERSISTED_QUERY_HASH_MISMATCH", 400
            )
        return query

    async def _known(self, digest: str) -> str:
        known = self._documents.get(digest)
        if known is not None:
            self._documents.move_to_end(digest)
            return known
        if self.shared is not None:
            known = await self.shared.get(digest)
            if known is not None:
                self._keep(digest, known, len(known.encode()))
                return known
        raise PersistedQueryError(NOT_FOUND, "PERSISTED_QUERY_NOT_FOUND", 200)

    def _keep(self, digest: str, query: str, size: int) -> None:
        if digest in self._documents:
            self._documents.move_to_end(digest)
            return
        self._documents[digest] = query
        self._sizes[digest] = size
        self._bytes += size
        while len(self._documents) > self.max_entries or self._bytes > self.max_bytes:
            dropped, _ = self._documents.popitem(last=False)
            self._bytes -= self._sizes.pop(dropped)

    def __len__(self) -> int:
        return len(self._documents)
