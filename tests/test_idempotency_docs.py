"""docs/safe-writes.md is real: its requests, run in order on fresh demo data, give the
responses printed under them (versions, dry runs, idempotent retries, bulk updates)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import delete

from db.database import Database
from db.models import idempotency_keys
from tests.factories import as_documented, token

EXAMPLE = re.compile(
    r"```sh\ncurl -s localhost:8000/graphql -H \"Authorization: Bearer \$TOKEN\""
    r"(?: -H 'Idempotency-Key: (?P<key>[^']+)')? -H 'Content-Type: application/json' \\\n"
    r"  -d '(?P<body>.*?)'\n```\n```json\n(?P<response>.*?)\n```",
    re.S,
)
DOC = Path(__file__).resolve().parent.parent / "docs" / "safe-writes.md"
VOLATILE = {"updatedAt", "currentUpdatedAt", "requestId"}


def _stable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "…" if k in VOLATILE else _stable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


async def test_every_example_answers_as_documented(client: httpx.AsyncClient, db: Database) -> None:
    # given: fresh demo data, no idempotency records, the document's examples in order
    async with db.write() as conn:
        await conn.execute(delete(idempotency_keys))
    examples = list(EXAMPLE.finditer(DOC.read_text()))
    assert len(examples) >= 11
    headers = {"Authorization": f"Bearer {token('alice', name='Alice Archer')}"}
    answers = []
    for example in examples:
        key = {"Idempotency-Key": example["key"]} if example["key"] else {}
        # when
        response = await client.post(
            "/graphql",
            content=example["body"],
            headers={**headers, **key, "Content-Type": "application/json"},
        )
        # then
        documented = json.loads(example["response"])
        answered = as_documented(response.json(), documented)
        assert _stable(answered) == _stable(documented), example[0]
        answers.append(response)
    # the retry with the same key is the first answer, byte for byte, flagged as a replay
    first, retry = (
        a for a in answers if a.request.headers.get("idempotency-key") and a.status_code == 200
    )
    assert retry.content == first.content
    assert retry.headers["idempotent-replayed"] == "true"
