"""Every refused credential looks the same from outside (one UnauthorizedError, one
message), on a query as on a mutation, and never becomes a server error."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from gateway.settings import Settings
from tests.credentials import (
    PROMPT_TITLE,
    REFUSED,
    REQUEST_ID,
    UPDATE_PROMPT,
    b64url,
    b64url_json,
    claims,
    rsa_key,
    signed,
    viewer,
    viewer_with,
)
from tests.factories import ORGS, TEST_SECRET, gql, token

pytestmark = pytest.mark.usefixtures("no_patchbay_environment")


OTHER_SECRET = "another-secret-that-is-also-32-bytes-long!"


def unsigned_token(payload: dict[str, Any], alg: str = "none") -> str:
    """An `alg: none` token, built by hand: header.payload. with an empty signature."""
    return f"{b64url_json({'alg': alg, 'typ': 'JWT'})}.{b64url_json(payload)}."


def tampered(original: str, **changes: Any) -> str:
    """The original header and signature around a changed payload."""
    header, payload, signature = original.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return f"{header}.{b64url_json({**decoded, **changes})}.{signature}"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _well_formed_unknown_key() -> str:
    return "am_live_" + b64url(os.urandom(32))


REFUSED_AUTHORIZATION: dict[str, Callable[[], str | None]] = {
    "no header": lambda: None,
    "empty bearer": lambda: "Bearer ",
    "bearer garbage": lambda: "Bearer garbage",
    "three dots of garbage": lambda: "Bearer a.b.c",
    "basic scheme": lambda: _basic("alice", "password"),
    "valid token under another scheme": lambda: f"Token {token()}",
    "valid token without a scheme": lambda: token(),
    "expired token": lambda: f"Bearer {token(ttl=-60)}",
    "not valid yet (nbf)": lambda: f"Bearer {token(nbf=int(time.time()) + 600)}",
    "signed with another secret": lambda: f"Bearer {token(secret=OTHER_SECRET)}",
    "alg none": lambda: f"Bearer {unsigned_token(claims())}",
    "alg None": lambda: f"Bearer {unsigned_token(claims(), alg='None')}",
    "HS256 header, empty signature": lambda: f"Bearer {unsigned_token(claims(), alg='HS256')}",
    "missing org_id": lambda: f"Bearer {token(org_id=None)}",
    "missing sub": lambda: f"Bearer {token(sub=None)}",
    "missing exp": lambda: f"Bearer {token(exp=None)}",
    "org_id not a uuid": lambda: f"Bearer {token(org_id='acme')}",
    "org_id a number": lambda: f"Bearer {token(org_id=11111111)}",
    "sub a number": lambda: f"Bearer {token(sub=42)}",
    "exp a string": lambda: f"Bearer {token(exp='tomorrow')}",
    "tampered payload": lambda: f"Bearer {tampered(token('carol'), org_id=ORGS['acme'])}",
    "RS256 token, no public key configured": lambda: (
        f"Bearer {signed(claims(), rsa_key('main'), 'RS256')}"
    ),
    "oversized credential": lambda: f"Bearer {token(padding='x' * 9000)}",
    "unknown api key": lambda: f"Bearer {_well_formed_unknown_key()}",
    "api key too short": lambda: "Bearer am_live_abc",
    "api key with bad characters": lambda: "Bearer am_live_" + "!" * 43,
}


@pytest.mark.parametrize(
    "make_authorization", REFUSED_AUTHORIZATION.values(), ids=REFUSED_AUTHORIZATION.keys()
)
async def test_refused_credential_is_one_unauthorized_error_on_viewer(
    client: httpx.AsyncClient, make_authorization: Callable[[], str | None]
) -> None:
    # given
    authorization = make_authorization()
    headers = {} if authorization is None else {"Authorization": authorization}
    # when
    result = await viewer(client, headers)
    # then
    assert result == REFUSED


@pytest.mark.parametrize(
    "make_authorization", REFUSED_AUTHORIZATION.values(), ids=REFUSED_AUTHORIZATION.keys()
)
async def test_refused_credential_is_one_unauthorized_error_on_update_prompt(
    client: httpx.AsyncClient, make_authorization: Callable[[], str | None]
) -> None:
    # given
    authorization = make_authorization()
    headers = {"X-Request-ID": REQUEST_ID}
    if authorization is not None:
        headers["Authorization"] = authorization
    # when
    body = await gql(client, UPDATE_PROMPT, headers=headers)
    # then
    assert body["data"]["updatePrompt"] == REFUSED
    after = await gql(client, PROMPT_TITLE, auth=token())
    assert after["data"]["prompt"]["title"] != "Hijacked"


async def test_a_token_accepted_before_is_refused_once_it_expires(
    client: httpx.AsyncClient,
) -> None:
    # given: a token that is accepted now (and so remembered as verified), whose expiry
    # plus the default clock-skew leeway is 2 s away
    leeway = int(Settings.model_fields["jwt_leeway_seconds"].default)
    expires = int(time.time()) + 2 - leeway
    credential = signed(claims(exp=expires), TEST_SECRET, "HS256")
    assert (await viewer_with(client, credential))["__typename"] == "Viewer"
    # when: its expiry passes, in real time (PyJWT and the token cache read the wall clock)
    await asyncio.sleep(expires + leeway - time.time() + 0.1)
    # then
    assert await viewer_with(client, credential) == REFUSED


async def test_valid_token_for_an_unknown_organization_is_refused_on_viewer(
    client: httpx.AsyncClient,
) -> None:
    # when
    result = await viewer_with(client, token(org_id=str(uuid.uuid4())))
    # then
    assert result == REFUSED
