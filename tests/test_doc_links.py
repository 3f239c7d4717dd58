"""Every relative link of the README and the docs leads to a file that exists (and, for a
`#section`, to a heading it has): content moved between pages must not leave links behind."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.live_server import REPO

PAGES = sorted([REPO / "README.md", REPO / "CHANGELOG.md", *(REPO / "docs").glob("*.md")])
LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")
# Pages other branches of issue 16 add; linked from the README ahead of their merge.
PENDING: set[str] = set()  # pages linked before they exist (none now)


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", page.read_text(), re.M)
    return {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_lead_somewhere(page: Path) -> None:
    broken = []
    for match in LINK.finditer(page.read_text()):
        target = match["target"]
        if re.match(r"[a-z]+:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if str(file.relative_to(REPO)) in PENDING:
            continue
        if not file.exists() or (anchor and anchor not in anchors(file)):
            broken.append(target)
    assert broken == []
