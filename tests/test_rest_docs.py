"""docs/rest.md's curl examples are real: each request, sent to the app on fresh demo data,
answers with the status, headers and body printed under it."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import httpx
import pytest

from db.database import Database
from tests.factories import api_key, token

DOC = Path(__file__).resolve().parent.parent / "docs" / "rest.md"
EXAMPLE = re.compile(r"```sh\n(?P<command>curl .*?)\n```\n```http\n(?P<response>.*?)\n```", re.S)
EXAMPLES = list(EXAMPLE.finditer(DOC.read_text()))
CREDENTIALS = {  # the doc's `export` lines, signed with the test secret
    "TOKEN": lambda: token("alice", name="Alice Archer"),
    "READER": lambda: token("alice", scope="prompts:read org:admin:read", name="Alice Archer"),
}
VOLATILE = {"updatedAt", "updated_at", "requestId", "request_id"}
SHOWN_HEADERS = {"etag", "www-authenticate", "content-type"}  # compared when the doc shows them


def stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "…" if k in VOLATILE else stable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [stable(v) for v in value]
    return value


def parse_curl(command: str, credentials: dict[str, str]) -> dict[str, Any]:
    words = shlex.split(command.replace("\\\n", " "))
    request: dict[str, Any] = {"method": "GET", "headers": {}, "content": None}
    words = iter(words[1:])
    for word in words:
        if word == "-X":
            request["method"] = next(words)
        elif word == "-H":
            name, _, value = next(words).partition(": ")
            request["headers"][name] = re.sub(
                r"\$(\w+)", lambda m: credentials.get(m[1], m[0]), value
            )
        elif word == "-d":
            request["content"] = next(words).encode()
        elif word.startswith("localhost:8000"):
            request["url"] = word.removeprefix("localhost:8000")
        elif word not in {"-s", "-i"}:
            raise AssertionError(f"unexpected curl word {word!r}")
    return request


def parse_response(text: str) -> tuple[int, dict[str, str], Any]:
    head, _, body = text.partition("\n\n")
    status_line, *header_lines = head.splitlines()
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(": ")
        headers[name.lower()] = value
    return int(status_line.split()[1]), headers, json.loads(body) if body.strip() else None


def test_the_doc_has_an_example_per_endpoint_and_error() -> None:
    statuses = {(parse_curl(m["command"], {})["url"].rsplit("/", 1)[0],
                 parse_response(m["response"])[0]) for m in EXAMPLES}  # fmt: skip
    for path in ("/prompts", "/v1/prompts", "/v1/guardrails/pools"):
        assert {s for p, s in statuses if p == path} >= {200, 400, 401, 403, 404, 409}, path


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda m: m["command"].splitlines()[0][8:70])
async def test_doc_example_answers_as_documented(
    client: httpx.AsyncClient, db: Database, example: re.Match[str]
) -> None:
    # given: the doc's credentials; its API key is made the way `patchbay apikey create` does
    credentials = {name: make() for name, make in CREDENTIALS.items()}
    if "$API_KEY" in example["command"]:
        credentials["API_KEY"] = await api_key(db, scope="org:admin:write", name="pool-bot")
    request = parse_curl(example["command"], credentials)
    status, headers, body = parse_response(example["response"])
    # when
    response = await client.request(
        request["method"], request["url"], headers=request["headers"], content=request["content"]
    )
    # then
    assert response.status_code == status, response.text
    for name, value in headers.items():
        assert name in SHOWN_HEADERS and response.headers[name] == value, name
    if body is None:
        assert response.content == b""
    else:
        assert stable(response.json()) == stable(body)
