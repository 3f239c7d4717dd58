"""The README's examples are real: each request gives the response printed under it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.factories import token

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
README = Path(__file__).resolve().parent.parent / "README.md"
EXAMPLES = list(EXAMPLE.finditer(README.read_text()))


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "…" if k in VOLATILE else _stable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def test_the_readme_has_examples() -> None:
    assert len(EXAMPLES) >= 14


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda m: m.group("body")[:60])
async def test_readme_example_answers_as_documented(
    client: httpx.AsyncClient, example: re.Match[str]
) -> None:
    who = example.group("who")
    headers = {"Authorization": f"Bearer {CREDENTIALS[who]()}"} if who else {}
    response = await client.post(
        "/graphql",
        content=example.group("body"),
        headers={**headers, "Content-Type": "application/json"},
    )
    documented = json.loads(example.group("response"))
    answered = response.json()
    if "extensions" not in documented:  # every response reports its cost; examples may omit it
        answered.get("extensions", {}).pop("cost", None)
        if answered.get("extensions") == {}:
            del answered["extensions"]
    assert _stable(answered) == _stable(documented)
