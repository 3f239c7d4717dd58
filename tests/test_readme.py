"""The examples of the README and the docs are real: each request gives the response printed
under it, wherever the example lives."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from db.database import Database
from tests.factories import api_key, as_documented, token

EXAMPLE = re.compile(
    r"```sh\ncurl -s localhost:8000/graphql(?: -H \"Authorization: Bearer \$(?P<who>\w+)\")?"
    r" -H 'Content-Type: application/json' \\\n  -d '(?P<body>.*?)'\n```\n```json\n"
    r"(?P<response>.*?)\n```",
    re.S,
)
CREDENTIALS = {  # the README's `export` lines, signed with the test secret
    "TOKEN": lambda: token("alice", name="Alice Archer"),
    "BOB": lambda: token("bob", name="Bob Baker"),
    "READER": lambda: token("alice", scope="prompts:read", name=None),
    "CAROL": lambda: token("carol", name=None),
}
VOLATILE = {"updatedAt", "requestId"}
REPO = Path(__file__).resolve().parent.parent
PAGES = [
    "README.md",
    "docs/api.md",
    "docs/authentication.md",
    "docs/trusted-documents.md",
]  # every page with examples
EXAMPLES = [
    (page, example) for page in PAGES for example in EXAMPLE.finditer((REPO / page).read_text())
]


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "…" if k in VOLATILE else _stable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def test_the_pages_have_their_examples() -> None:
    per_page = {page: sum(1 for p, _ in EXAMPLES if p == page) for page in PAGES}
    assert per_page["README.md"] >= 2
    assert per_page["docs/api.md"] >= 16  # every outcome of both mutations
    assert per_page["docs/authentication.md"] >= 1  # an API key in use


def test_the_readme_says_how_to_send_an_api_key() -> None:
    readme = (REPO / "README.md").read_text()
    assert "Authorization: Bearer am_live_" in readme
    assert "patchbay apikey create" in readme


def test_the_readme_fits_on_a_few_screens() -> None:
    assert len((REPO / "README.md").read_text().splitlines()) <= 160


@pytest.mark.parametrize(
    ("page", "example"), EXAMPLES, ids=lambda e: e if isinstance(e, str) else e["body"][:60]
)
async def test_example_answers_as_documented(
    client: httpx.AsyncClient, db: Database, page: str, example: re.Match[str]
) -> None:
    who = example.group("who")
    credential = (
        await api_key(db, scope="prompts:read", name="docs") if who == "APIKEY" else None
    ) or (CREDENTIALS[who]() if who else None)
    headers = {"Authorization": f"Bearer {credential}"} if credential else {}
    response = await client.post(
        "/graphql",
        content=example.group("body"),
        headers={**headers, "Content-Type": "application/json"},
    )
    documented = json.loads(example.group("response"))
    answered = as_documented(response.json(), documented)
    assert _stable(answered) == _stable(documented)
