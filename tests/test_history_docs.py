"""docs/history.md is real: its requests, run in order on fresh demo data, give the
responses printed under them (a recorded change, a no-op that records nothing, the history)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx

from tests.factories import as_documented, token

EXAMPLE = re.compile(
    r"```sh\ncurl -s localhost:8000/graphql -H \"Authorization: Bearer \$TOKEN\""
    r" -H 'X-Request-ID: (?P<request_id>[^']+)' -H 'Content-Type: application/json' \\\n"
    r"  -d '(?P<body>.*?)'\n```\n```json\n(?P<response>.*?)\n```",
    re.S,
)
DOC = Path(__file__).resolve().parent.parent / "docs" / "history.md"
VOLATILE = {"recordedAt"}


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "…" if k in VOLATILE else _stable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


async def test_every_example_answers_as_documented(client: httpx.AsyncClient) -> None:
    # given: fresh demo data, the document's examples in order
    examples = list(EXAMPLE.finditer(DOC.read_text()))
    assert len(examples) == 3
    credential = {"Authorization": f"Bearer {token('alice', name='Alice Archer')}"}
    for example in examples:
        # when
        response = await client.post(
            "/graphql",
            content=example["body"],
            headers={
                **credential,
                "X-Request-ID": example["request_id"],
                "Content-Type": "application/json",
            },
        )
        # then
        documented = json.loads(example["response"])
        answered = as_documented(response.json(), documented)
        assert _stable(answered) == _stable(documented), example[0]
