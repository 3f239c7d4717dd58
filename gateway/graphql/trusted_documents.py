"""Trusted documents: the operations an organization's apps are known to send, loaded from
Apollo persisted-query manifests at start, and the policy for every other document.

Policies: `off` runs any document; `log` runs any document and counts (and logs once) each
one that is not trusted; `enforce` runs trusted documents only, except for credentials with
the `graphql:freeform` scope.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from db.storable import is_storable
from schema.planned.executor import PlannedExecutor
from schema.schema import PatchbaySchema
from schema.trusted import check_document

log = logging.getLogger("patchbay.trusted")
MANIFEST_FORMAT = "apollo-persisted-query-manifest"
Policy = Literal["off", "log", "enforce"]
HASH_PREFIX = "sha256:"
MAX_LOGGED = 10_000  # untrusted documents logged once each, by hash: bounded


class ManifestError(ValueError):
    """A manifest that cannot be trusted; the gateway refuses to start (one line)."""


@dataclass
class TrustedDocuments:
    policy: Policy = "off"
    bodies: dict[str, str] = field(default_factory=dict)  # sha256 hex → document
    _logged: set[bytes] = field(default_factory=set)

    def body_of(self, document_id: str) -> str | None:
        """`sha256:<hex>` (the GraphQL-over-HTTP appendix) or the bare hex (Apollo's)."""
        return self.bodies.get(document_id.removeprefix(HASH_PREFIX).lower())

    def trusts(self, query: str) -> bool:
        if not self.bodies:
            return False
        digest = hashlib.sha256(query.encode("utf-8", "surrogatepass")).hexdigest()
        return digest in self.bodies

    def log_once(self, query: str, operation: str | None) -> None:
        """Logs an untrusted document the first time it is seen (by its hash)."""
        digest = hashlib.sha256(query.encode("utf-8", "surrogatepass"))
        if digest.digest() in self._logged or len(self._logged) >= MAX_LOGGED:
            return
        self._logged.add(digest.digest())
        log.info("untrusted document ran: operation=%s sha256=%s", operation, digest.hexdigest())


def load_manifests(
    paths: Iterable[Path],
    *,
    policy: Policy,
    schema: PatchbaySchema,
    planned: PlannedExecutor | None,
    max_tokens: int,
) -> TrustedDocuments:
    trusted = TrustedDocuments(policy=policy)
    listed: dict[str, set[str | None]] = {}  # each body's operations the manifests name
    every: dict[str, set[str | None]] = {}  # each body's operations
    for path in paths:
        for operation in _operations(path):
            digest, body, names = _checked(path, operation, schema, max_tokens)
            trusted.bodies[digest] = body
            listed.setdefault(digest, set()).add(operation.get("name"))
            every[digest] = {name for name in names if name is not None}
            if planned is not None:  # planned now: the first request runs from its plan
                for name in names:
                    planned.learn(body, name, pinned=True)
    for digest, operations in every.items():
        unlisted = operations - listed[digest]
        if unlisted:  # a body's other operations would run by its id and an operationName
            raise ManifestError(
                f"trusted documents manifest: the body of {digest[:12]}… also holds "
                f"operation {sorted(map(str, unlisted))[0]!r}, which no entry lists"
            )
    if trusted.bodies:
        log.info("trusted documents: %d loaded, policy %s", len(trusted.bodies), policy)
    return trusted


def _operations(path: Path) -> list[dict[str, Any]]:
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ManifestError(f"trusted documents manifest {path}: {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != MANIFEST_FORMAT:
        raise ManifestError(f"trusted documents manifest {path}: format is not {MANIFEST_FORMAT}")
    if manifest.get("version") != 1:
        raise ManifestError(f"trusted documents manifest {path}: version must be 1")
    operations = manifest.get("operations")
    if not isinstance(operations, list) or not all(isinstance(o, dict) for o in operations):
        raise ManifestError(f"trusted documents manifest {path}: `operations` is not a list")
    return operations


def _checked(
    path: Path, operation: dict[str, Any], schema: PatchbaySchema, max_tokens: int
) -> tuple[str, str, list[str | None]]:
    """The document's hash, its body and the operation names a request may ask for."""
    name, body, digest = operation.get("name"), operation.get("body"), operation.get("id")
    where = f"trusted documents manifest {path}, operation {name!r}"
    if not isinstance(body, str) or not isinstance(digest, str):
        raise ManifestError(f"{where}: `id` and `body` must be strings")
    if not is_storable(body) or hashlib.sha256(body.encode()).hexdigest() != digest.lower():
        raise ManifestError(f"{where}: `id` is not the sha256 of its body")
    checked = check_document(schema, body, max_tokens=max_tokens)
    if checked.errors:
        raise ManifestError(f"{where}: invalid against the schema: {checked.errors[0]}")
    names = [n for n, _ in checked.operations]
    if name is not None and name not in names:
        raise ManifestError(f"{where}: the body has no operation of that name")
    kind = operation.get("type")
    if kind is not None and (name, kind) not in checked.operations:
        raise ManifestError(f"{where}: the operation is not a {kind}")
    runnable = [*names, None] if len(names) == 1 else names
    return digest.lower(), body, runnable
