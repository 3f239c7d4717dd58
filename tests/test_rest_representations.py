"""The JSON the endpoints write is exactly what the document's models describe: every seeded
object, in every representation, validates against its model with no key missing or extra,
and the model writes it back byte for byte the same."""

from __future__ import annotations

import httpx
import orjson
import pytest

from db.database import Database
from db.seed import POOLS, PROMPTS
from gateway.rest.resources import RESOURCES, Resource
from tests.factories import token
from tests.rest_requests import bearer

OBJECTS = [p["id"] for p in PROMPTS if p["org_id"] == POOLS[0]["org_id"]]
OBJECTS += [str(p["id"]) for p in POOLS if p["org_id"] == POOLS[0]["org_id"]]


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: r.noun)
async def test_every_answer_is_its_model_exactly(
    client: httpx.AsyncClient, db: Database, resource: Resource
) -> None:
    answered = 0
    for object_id in OBJECTS:
        response = await client.get(
            resource.path.replace("{id}", object_id), headers=bearer(token("alice"))
        )
        if response.status_code == 404:  # a pool's id on a prompt path, or the reverse
            continue
        assert response.status_code == 200, response.text
        model = resource.representation.model_validate_json(response.content)
        assert orjson.loads(model.model_dump_json(by_alias=True)) == response.json()
        answered += 1
    assert answered >= 2
