"""A change to the GraphQL schema comes with a changelog entry.

CHANGELOG.md names the fingerprint (SHA-256, first 16 hex digits) of the `schema.graphql` it
describes. Change the schema, and this fails until an entry says what changed for callers and
carries the new fingerprint.
"""

from __future__ import annotations

import hashlib
import re

from tests.live_server import REPO

FINGERPRINT = re.compile(r"`schema\.graphql` sha256 `(?P<digest>[0-9a-f]{16})`")


def fingerprint(sdl: str) -> str:
    return hashlib.sha256(sdl.encode()).hexdigest()[:16]


def test_the_changelog_describes_the_committed_schema() -> None:
    current = fingerprint((REPO / "schema.graphql").read_text())
    recorded = [m["digest"] for m in FINGERPRINT.finditer((REPO / "CHANGELOG.md").read_text())]
    assert current in recorded, (
        "schema.graphql changed: say what changed for callers in CHANGELOG.md under "
        f"'## Unreleased', with the line `schema.graphql` sha256 `{current}`"
    )


def test_the_newest_entry_carries_the_current_fingerprint() -> None:
    # an entry for an older schema does not count: the first fingerprint is the newest
    changelog = (REPO / "CHANGELOG.md").read_text()
    first = FINGERPRINT.search(changelog)
    assert first is not None
    assert first["digest"] == fingerprint((REPO / "schema.graphql").read_text())


def test_the_fingerprint_changes_with_the_schema() -> None:
    sdl = (REPO / "schema.graphql").read_text()
    assert fingerprint(sdl) != fingerprint(sdl.replace("type Query", "type Query2"))
