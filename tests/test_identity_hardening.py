"""Identity, hardened (issue 12, items 2, 3, 4, 8 and 11): weak production secrets, JWKS keys
without `kid`, a JWKS endpoint that trickles, clock skew, and two Authorization headers.

Everything that involves a request drives the real app over HTTP, on both databases.
"""

from __future__ import annotations

import os
import secrets
import time
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from gateway.cli import main
from gateway.settings import DEVELOPMENT_JWT_SECRET, Settings, describe_invalid
from tests.factories import gql, token

VIEWER = """
{ viewer { __typename
  ... on Viewer { subject }
  ... on Error { code message } } }
"""
UPDATE_PROMPT = """
mutation { updatePrompt(id: "prm_acme_welcome", input: {title: "Two headers"}) {
  __typename
  ... on UpdatePromptSuccess { prompt { title } }
  ... on Error { code message } } }
"""
PROMPT_TITLE = '{ prompt(id: "prm_acme_welcome") { __typename ... on Prompt { title } } }'
REFUSED = {"__typename": "UnauthorizedError", "code": "UNAUTHORIZED"}


@pytest.fixture(autouse=True)
def no_patchbay_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings built here must not pick up a developer's PATCHBAY_* variables."""
    for name in list(os.environ):
        if name.startswith("PATCHBAY_"):
            monkeypatch.delenv(name)


async def viewer(
    client: httpx.AsyncClient,
    credential: str | None = None,
    *,
    headers: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """The viewer field as the caller sees it, without `message` (`code` says enough)."""
    if credential is not None:
        headers = [("Authorization", f"Bearer {credential}")]
    response = await client.post("/graphql", json={"query": VIEWER}, headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()["data"]["viewer"]
    result.pop("message", None)
    return result


# --- item 2: production refuses weak secrets -------------------------------------------------

WEAK_SECRETS = {
    "built-in development secret": DEVELOPMENT_JWT_SECRET,
    "32 spaces": " " * 32,
    "whitespace of every kind": " \t\n\r\x0b\x0c" * 6,
    "32 x a": "a" * 32,
    "a short pattern repeated": "abcd" * 8,
    "16 characters twice": "abcdefghijklmnop" * 2,
    "a longer pattern repeated, a tail cut": ("Kz8-vQ2rT5y" * 6)[:64],
    "mostly one byte": "a" * 16 + "bcdefghijklmnopq",
    "16 random bytes as hex": "f5cdd26c9485d8326fde1818566e3ee3",
}


@pytest.mark.parametrize("secret", WEAK_SECRETS.values(), ids=WEAK_SECRETS.keys())
def test_production_refuses_a_weak_jwt_secret_in_one_line(secret: str) -> None:
    # when
    with pytest.raises(ValidationError) as refused:
        Settings(env="production", jwt_secret=secret)
    # then: one line that names the setting and does not repeat the secret
    line = describe_invalid(refused.value)
    assert line.startswith("PATCHBAY_JWT_SECRET "), line
    assert "\n" not in line
    assert secret not in str(refused.value)
    assert secret not in line


@pytest.mark.parametrize("secret", WEAK_SECRETS.values(), ids=WEAK_SECRETS.keys())
def test_development_still_accepts_any_secret(secret: str) -> None:
    assert Settings(jwt_secret=secret).hmac_secret == secret


@pytest.mark.parametrize(
    "make_secret",
    [
        lambda: secrets.token_urlsafe(32),  # `openssl rand -base64 32`, in effect
        lambda: secrets.token_hex(32),  # `openssl rand -hex 32`
        lambda: secrets.token_urlsafe(24),
    ],
    ids=["urlsafe-32-bytes", "hex-32-bytes", "urlsafe-24-bytes"],
)
def test_production_accepts_random_secrets(make_secret: Any) -> None:
    # given: a few hundred secrets made the ways the README suggests
    made = [make_secret() for _ in range(300)]
    # when
    refused = []
    for secret in made:
        try:
            Settings(env="production", jwt_secret=secret)
        except ValidationError:
            refused.append(secret)
    # then
    assert refused == []


def test_patchbay_serve_refuses_a_weak_secret_in_one_line_without_echoing_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # given: a secret that is too short (refused before this change too)
    secret = "short-secret-echo-me"
    monkeypatch.setenv("PATCHBAY_ENV", "production")
    monkeypatch.setenv("PATCHBAY_JWT_SECRET", secret)
    # when
    code = main(["serve"])
    # then
    err = capsys.readouterr().err
    assert code == 2
    assert err == "patchbay: invalid settings: PATCHBAY_JWT_SECRET needs 32+ bytes in production\n"
    assert secret not in err


# --- item 8: clock skew -----------------------------------------------------------------------


def test_the_default_leeway_is_30_seconds() -> None:
    assert Settings().jwt_leeway_seconds == 30


async def test_a_token_issued_seconds_in_the_future_is_accepted(
    client: httpx.AsyncClient,
) -> None:
    # given: the identity provider's clock is 5 s ahead of the gateway's
    ahead = int(time.time()) + 5
    credential = token("alice", iat=ahead, nbf=ahead)
    # when
    result = await viewer(client, credential)
    # then
    assert result == {"__typename": "Viewer", "subject": "alice"}


@pytest.mark.parametrize(
    "claims",
    [{"iat": 300}, {"nbf": 300}, {"iat": 300, "nbf": 300}, {"exp": -60}],
    ids=["iat-5-min-ahead", "nbf-5-min-ahead", "both-5-min-ahead", "expired-a-minute-ago"],
)
async def test_a_token_beyond_the_leeway_is_refused(
    client: httpx.AsyncClient, claims: dict[str, int]
) -> None:
    # given
    now = int(time.time())
    credential = token("alice", **{name: now + offset for name, offset in claims.items()})
    # when
    result = await viewer(client, credential)
    # then
    assert result == REFUSED


# --- item 11: two Authorization headers --------------------------------------------------------


def _two_headers(case: str) -> list[tuple[str, str]]:
    alice, carol = f"Bearer {token('alice')}", f"Bearer {token('carol')}"
    pairs = {
        "valid then garbage": (alice, "Bearer garbage"),
        "garbage then valid": ("Bearer garbage", alice),
        "the same token twice": (alice, alice),
        "two users": (alice, carol),
        "valid then empty": (alice, ""),
    }
    first, second = pairs[case]
    return [("Authorization", first), ("X-Request-ID", "two-headers"), ("authorization", second)]


TWO_HEADER_CASES = [
    "valid then garbage",
    "garbage then valid",
    "the same token twice",
    "two users",
    "valid then empty",
]


@pytest.mark.parametrize("case", TWO_HEADER_CASES)
async def test_two_authorization_headers_are_refused(client: httpx.AsyncClient, case: str) -> None:
    # given
    headers = _two_headers(case)
    # when: a read over POST and GET, and a write
    posted = await viewer(client, headers=headers)
    got = await client.get("/graphql", params={"query": VIEWER}, headers=headers)
    written = await client.post("/graphql", json={"query": UPDATE_PROMPT}, headers=headers)
    # then: the operation's own UnauthorizedError, and nothing written
    assert posted == REFUSED
    assert got.status_code == 200
    assert got.json()["data"]["viewer"]["__typename"] == "UnauthorizedError"
    assert written.json()["data"]["updatePrompt"]["__typename"] == "UnauthorizedError"
    after = await gql(client, PROMPT_TITLE, auth=token())
    assert after["data"]["prompt"]["title"] != "Two headers"


async def test_one_authorization_header_among_others_still_authenticates(
    client: httpx.AsyncClient,
) -> None:
    # given
    headers = [
        ("X-Forwarded-Authorization", "Bearer garbage"),
        ("Authorization", f"Bearer {token('alice')}"),
        ("X-Request-ID", "one-header"),
    ]
    # when
    result = await viewer(client, headers=headers)
    # then
    assert result == {"__typename": "Viewer", "subject": "alice"}
