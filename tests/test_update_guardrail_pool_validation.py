"""updateGuardrailPool refuses a name or slug that breaks a rule (all failures reported
together, nothing written), treats null as a missing required value, and keeps the brand
immutable."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from db.database import Database
from db.seed import (
    ACME_DEFAULT_POOL,
    GLOBEX_BRAND,
    SEEDED_AT,
)
from tests.factories import gql, token
from tests.updating_pools import (
    RESULT,
    UPDATE_POOL,
    field_codes,
    stored_pool,
    stored_pools,
    update_pool,
)

NAME_NULL_INLINE = (
    """
mutation ClearName($id: ID!) {
  updateGuardrailPool(id: $id, input: {name: null}) { ...Result }
}
"""
    + RESULT
)
SLUG_NULL_INLINE = (
    """
mutation ClearSlug($id: ID!) {
  updateGuardrailPool(id: $id, input: {slug: null}) { ...Result }
}
"""
    + RESULT
)
NAME_AS_VARIABLE = (
    """
mutation SetName($id: ID!, $name: String) {
  updateGuardrailPool(id: $id, input: {name: $name}) { ...Result }
}
"""
    + RESULT
)
SLUG_AS_VARIABLE = (
    """
mutation SetSlug($id: ID!, $slug: String) {
  updateGuardrailPool(id: $id, input: {slug: $slug}) { ...Result }
}
"""
    + RESULT
)
BRAND_ID_INLINE = (
    """
mutation MoveBrand($id: ID!) {
  updateGuardrailPool(
    id: $id, input: {name: "Moved", brandId: "b0000000-0000-4000-8000-000000000001"}
  ) { ...Result }
}
"""
    + RESULT
)


@pytest.mark.parametrize(
    ("document", "variables", "field"),
    [
        (NAME_NULL_INLINE, {}, "name"),
        (SLUG_NULL_INLINE, {}, "slug"),
        (NAME_AS_VARIABLE, {"name": None}, "name"),
        (SLUG_AS_VARIABLE, {"slug": None}, "slug"),
        (UPDATE_POOL, {"input": {"name": None}}, "name"),
        (UPDATE_POOL, {"input": {"slug": None}}, "slug"),
    ],
    ids=["name-inline", "slug-inline", "name-var", "slug-var", "name-input-var", "slug-input-var"],
)
async def test_null_name_or_slug_is_required_not_a_clear(
    client: httpx.AsyncClient,
    db: Database,
    document: str,
    variables: dict[str, Any],
    field: str,
) -> None:
    # given
    before = await stored_pools(db)
    # when
    body = await gql(client, document, {"id": str(ACME_DEFAULT_POOL), **variables}, auth=token())
    # then
    assert "errors" not in body, body
    result = body["data"]["updateGuardrailPool"]
    assert result["__typename"] == "ValidationError"
    assert result["code"] == "VALIDATION_FAILED"
    assert field_codes(result) == [(field, "REQUIRED")]
    assert await stored_pools(db) == before


@pytest.mark.parametrize(
    ("document", "variables"),
    [(NAME_AS_VARIABLE, {}), (SLUG_AS_VARIABLE, {})],
    ids=["name", "slug"],
)
async def test_a_variable_left_out_is_an_absent_field(
    client: httpx.AsyncClient, db: Database, document: str, variables: dict[str, Any]
) -> None:
    body = await gql(client, document, {"id": str(ACME_DEFAULT_POOL), **variables}, auth=token())
    result = body["data"]["updateGuardrailPool"]
    assert result["__typename"] == "UpdateGuardrailPoolSuccess", body
    assert result["guardrailPool"]["updatedAt"] == SEEDED_AT.isoformat()
    row = await stored_pool(db, ACME_DEFAULT_POOL)
    assert (row["name"], row["slug"]) == ("Default", "default")


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"name": ""}, "name", "TOO_SHORT"),
        ({"name": "   "}, "name", "TOO_SHORT"),
        ({"name": " \t\n "}, "name", "TOO_SHORT"),
        ({"name": "n" * 101}, "name", "TOO_LONG"),
        ({"name": " " + "n" * 101 + " "}, "name", "TOO_LONG"),
        ({"slug": "Bad Slug"}, "slug", "INVALID"),
        ({"slug": "a--b"}, "slug", "INVALID"),
        ({"slug": "-a"}, "slug", "INVALID"),
        ({"slug": "a-"}, "slug", "INVALID"),
        ({"slug": "-"}, "slug", "INVALID"),
        ({"slug": ""}, "slug", "INVALID"),
        ({"slug": "Default"}, "slug", "INVALID"),
        ({"slug": "MARKETING"}, "slug", "INVALID"),
        ({"slug": "a_b"}, "slug", "INVALID"),
        ({"slug": "a.b"}, "slug", "INVALID"),
        ({"slug": " default"}, "slug", "INVALID"),
        ({"slug": "default\n"}, "slug", "INVALID"),
        ({"slug": "café"}, "slug", "INVALID"),
        ({"slug": "\u0661\u0662"}, "slug", "INVALID"),  # Arabic-Indic digits are not [0-9]
        ({"slug": "a" * 65}, "slug", "TOO_LONG"),
    ],
)
async def test_a_value_that_breaks_a_rule_is_refused_and_nothing_is_written(
    client: httpx.AsyncClient, db: Database, changes: dict[str, str], field: str, code: str
) -> None:
    # given
    before = await stored_pools(db)
    # when
    result = await update_pool(client, ACME_DEFAULT_POOL, changes, auth=token())
    # then
    assert result["__typename"] == "ValidationError"
    assert result["code"] == "VALIDATION_FAILED"
    assert field_codes(result) == [(field, code)]
    assert all(issue["message"] for issue in result["fields"])
    assert await stored_pools(db) == before


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"name": "   ", "slug": "Bad Slug"}, {("name", "TOO_SHORT"), ("slug", "INVALID")}),
        ({"name": "n" * 101, "slug": "a" * 65}, {("name", "TOO_LONG"), ("slug", "TOO_LONG")}),
        ({"name": None, "slug": None}, {("name", "REQUIRED"), ("slug", "REQUIRED")}),
        (
            {"name": "", "slug": "a--b", "expectedUpdatedAt": "2026-01-05T09:00:00"},
            {("name", "TOO_SHORT"), ("slug", "INVALID"), ("expectedUpdatedAt", "INVALID")},
        ),
    ],
)
async def test_every_failure_of_a_request_is_reported_together(
    client: httpx.AsyncClient,
    db: Database,
    changes: dict[str, Any],
    expected: set[tuple[str, str]],
) -> None:
    before = await stored_pools(db)
    result = await update_pool(client, ACME_DEFAULT_POOL, changes, auth=token())
    assert result["__typename"] == "ValidationError"
    assert sorted(field_codes(result)) == sorted(expected)
    assert await stored_pools(db) == before


@pytest.mark.parametrize(
    ("pool_id", "changes", "typename", "field"),
    [
        (str(ACME_DEFAULT_POOL), {"name": "bad\x00name"}, "ValidationError", "name"),
        (str(ACME_DEFAULT_POOL), {"name": "\x00"}, "ValidationError", "name"),
        (str(ACME_DEFAULT_POOL), {"slug": "bad\x00slug"}, "ValidationError", "slug"),
        (str(ACME_DEFAULT_POOL), {"slug": "\x00"}, "ValidationError", "slug"),
        (str(ACME_DEFAULT_POOL) + "\x00", {"name": "Renamed"}, "NotFoundError", None),
        ("\x00", {"slug": "renamed"}, "NotFoundError", None),
    ],
    ids=["name", "name-only-nul", "slug", "slug-only-nul", "id", "id-only-nul"],
)
async def test_nul_bytes_are_refused_never_a_server_error(
    client: httpx.AsyncClient,
    db: Database,
    pool_id: str,
    changes: dict[str, str],
    typename: str,
    field: str | None,
) -> None:
    # given
    before = await stored_pools(db)
    # when
    result = await update_pool(client, pool_id, changes, auth=token())
    # then
    assert result["__typename"] == typename
    if field is not None:
        assert field_codes(result) == [(field, "INVALID")]
    assert await stored_pools(db) == before


@pytest.mark.parametrize(
    ("document", "variables"),
    [
        (BRAND_ID_INLINE, {"id": str(ACME_DEFAULT_POOL)}),
        (
            UPDATE_POOL,
            {
                "id": str(ACME_DEFAULT_POOL),
                "input": {"name": "Moved", "brandId": str(GLOBEX_BRAND)},
            },
        ),
    ],
    ids=["inline", "variable"],
)
async def test_a_brand_id_in_the_input_is_a_graphql_validation_error(
    client: httpx.AsyncClient, db: Database, document: str, variables: dict[str, Any]
) -> None:
    # given
    before = await stored_pools(db)
    # when
    body = await gql(client, document, variables, auth=token())
    # then
    assert "data" not in body
    assert [error["extensions"]["code"] for error in body["errors"]] == [
        "GRAPHQL_VALIDATION_FAILED"
    ]
    assert "brandId" in body["errors"][0]["message"]
    assert await stored_pools(db) == before
