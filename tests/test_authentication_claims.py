"""What a token's claims give the caller: scopes (scope or scp), subject, name and
organization, and issuer and audience checks when they are configured."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from db.database import Database
from tests.conftest import settings_for
from tests.credentials import GLOBEX_ORG, PROMPT_TITLE, REFUSED, claims, signed, viewer_with
from tests.factories import ALL_SCOPES, TEST_SECRET, client_for, gql, token

pytestmark = pytest.mark.usefixtures("no_patchbay_environment")


ISSUER = "https://issuer.test"
AUDIENCE = "patchbay"


async def test_scp_list_claim_gives_scopes(client: httpx.AsyncClient) -> None:
    # given: no `scope`, an `scp` list instead
    credential = signed(
        claims(scope=None, scp=["prompts:read", "prompts:write"]), TEST_SECRET, "HS256"
    )
    # when
    result = await viewer_with(client, credential)
    prompt = await gql(client, PROMPT_TITLE, auth=credential)
    # then
    assert result["scopes"] == ["prompts:read", "prompts:write"]
    assert prompt["data"]["prompt"]["__typename"] == "Prompt"


async def test_scope_string_claim_gives_scopes(client: httpx.AsyncClient) -> None:
    # when
    result = await viewer_with(client, token(scope="prompts:read org:admin:read"))
    # then
    assert result["scopes"] == ["org:admin:read", "prompts:read"]


async def test_token_without_scopes_authenticates_with_none(client: httpx.AsyncClient) -> None:
    # given
    credential = signed(claims(scope=None), TEST_SECRET, "HS256")
    # when
    result = await viewer_with(client, credential)
    prompt = await gql(client, PROMPT_TITLE, auth=credential)
    # then
    assert (result["__typename"], result["scopes"]) == ("Viewer", [])
    assert prompt["data"]["prompt"]["__typename"] == "ForbiddenError"


async def test_viewer_reports_the_token_subject_name_and_organization(
    client: httpx.AsyncClient,
) -> None:
    # when
    result = await viewer_with(client, token("carol", name="Carol Cobb"))
    # then
    assert result == {
        "__typename": "Viewer",
        "subject": "carol",
        "kind": "USER",
        "name": "Carol Cobb",
        "scopes": sorted(ALL_SCOPES.split()),
        "organization": GLOBEX_ORG,
    }


@pytest.mark.parametrize(
    ("changes", "accepted"),
    [
        ({"iss": ISSUER, "aud": AUDIENCE}, True),
        ({"iss": ISSUER, "aud": ["someone-else", AUDIENCE]}, True),
        ({"aud": AUDIENCE}, False),
        ({"iss": "https://evil.test", "aud": AUDIENCE}, False),
        ({"iss": ISSUER}, False),
        ({"iss": ISSUER, "aud": "someone-else"}, False),
        ({}, False),
    ],
    ids=["right", "aud-list", "no-iss", "wrong-iss", "no-aud", "wrong-aud", "neither"],
)
async def test_issuer_and_audience_are_checked_when_configured(
    database_url: str, db: Database, changes: dict[str, Any], accepted: bool
) -> None:
    # given
    settings = settings_for(database_url, jwt_issuer=ISSUER, jwt_audience=AUDIENCE)
    async with client_for(settings) as client:
        # when
        result = await viewer_with(client, token(**changes))
    # then
    if accepted:
        assert (result["__typename"], result["subject"]) == ("Viewer", "alice")
    else:
        assert result == REFUSED


async def test_issuer_and_audience_are_ignored_when_not_configured(
    client: httpx.AsyncClient,
) -> None:
    # when
    result = await viewer_with(client, token(iss="https://anyone.test", aud="anything"))
    # then
    assert result["__typename"] == "Viewer"
