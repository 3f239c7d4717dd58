"""Tokens are verified with the configured key material only: a PEM public key (RS256,
ES256), the configured algorithms, and no algorithm confusion with the public key."""

from __future__ import annotations

import functools
import hashlib
import hmac
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from db.database import Database
from gateway.settings import Settings
from tests.conftest import settings_for
from tests.credentials import (
    ACME_ORG,
    GLOBEX_ORG,
    REFUSED,
    UPDATE_PROMPT,
    b64url,
    b64url_json,
    bearer,
    claims,
    rsa_key,
    signed,
    viewer_with,
)
from tests.factories import client_for, gql, token

pytestmark = pytest.mark.usefixtures("no_patchbay_environment")


def hs256_by_hand(payload: dict[str, Any], secret: bytes) -> str:
    """HS256 with any bytes as the secret (PyJWT refuses a PEM key as an HMAC secret)."""
    signing_input = f"{b64url_json({'alg': 'HS256', 'typ': 'JWT'})}.{b64url_json(payload)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


@functools.cache
def ec_key(name: str) -> ec.EllipticCurvePrivateKey:
    """One key pair per name, made once per run."""
    return ec.generate_private_key(ec.SECP256R1())


def public_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@pytest.mark.parametrize("with_hs_secret", [True, False], ids=["hs-secret-too", "public-key"])
async def test_hs256_signed_with_the_public_key_is_refused(
    database_url: str, db: Database, with_hs_secret: bool
) -> None:
    """Algorithm confusion: the RSA public key (known to everyone) used as an HMAC secret."""
    # given: an app that verifies RS256 with this public key
    pem = public_pem(rsa_key("main"))
    settings = (
        settings_for(database_url, jwt_public_key=pem)
        if with_hs_secret
        else Settings(database_url=database_url, jwt_public_key=pem)
    )
    forged = hs256_by_hand(claims(), pem.encode())
    async with client_for(settings) as client:
        # when
        genuine = await viewer_with(client, signed(claims(), rsa_key("main"), "RS256"))
        result = await viewer_with(client, forged)
        update = await gql(client, UPDATE_PROMPT, headers=bearer(forged))
    # then
    assert genuine["__typename"] == "Viewer"
    assert result == REFUSED
    assert update["data"]["updatePrompt"] == REFUSED


async def test_only_configured_algorithms_are_accepted(database_url: str, db: Database) -> None:
    # given: a shared secret long enough for HS384, and only HS384 allowed
    secret = "a-shared-secret-long-enough-for-hs384-signatures-0123456789"
    settings = Settings(
        database_url=database_url,
        jwt_secret=secret,
        jwt_algorithms="HS384",
    )
    async with client_for(settings) as client:
        # when
        hs384 = await viewer_with(client, token(secret=secret, algorithm="HS384"))
        hs256 = await viewer_with(client, token(secret=secret, algorithm="HS256"))
    # then
    assert hs384["__typename"] == "Viewer"
    assert hs256 == REFUSED


async def test_rs256_is_verified_with_the_configured_pem_key_only(
    database_url: str, db: Database
) -> None:
    # given
    settings = Settings(database_url=database_url, jwt_public_key=public_pem(rsa_key("main")))
    async with client_for(settings) as client:
        # when
        good = await viewer_with(client, signed(claims(), rsa_key("main"), "RS256"))
        other_key = await viewer_with(client, signed(claims(), rsa_key("other"), "RS256"))
        hs256 = await viewer_with(client, token())
    # then
    assert (good["__typename"], good["subject"], good["organization"]) == (
        "Viewer",
        "alice",
        ACME_ORG,
    )
    assert other_key == REFUSED
    assert hs256 == REFUSED  # no shared secret configured: HS256 is not an accepted algorithm


async def test_es256_is_verified_with_the_configured_pem_key_only(
    database_url: str, db: Database
) -> None:
    # given
    settings = Settings(database_url=database_url, jwt_public_key=public_pem(ec_key("main")))
    async with client_for(settings) as client:
        # when
        good = await viewer_with(client, signed(claims("carol"), ec_key("main"), "ES256"))
        other_key = await viewer_with(client, signed(claims(), ec_key("other"), "ES256"))
        rsa_signed = await viewer_with(client, signed(claims(), rsa_key("main"), "RS256"))
    # then
    assert (good["__typename"], good["subject"], good["organization"]) == (
        "Viewer",
        "carol",
        GLOBEX_ORG,
    )
    assert other_key == REFUSED
    assert rsa_signed == REFUSED
