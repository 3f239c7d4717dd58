"""Authentication as a caller meets it: JWTs, API keys, JWKS, settings and the CLI.

Every refused credential must look the same from outside (`UnauthorizedError`, one message),
and never become a server error.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import json
import logging
import os
import shlex
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import RSAAlgorithm
from pydantic import ValidationError
from sqlalchemy import inspect, text

from db.api_keys import revoke_key
from db.database import Database
from gateway.app import DEVELOPMENT_WARNING
from gateway.cli import main
from gateway.identity.api_keys import prefix_of
from gateway.settings import DEVELOPMENT_JWT_SECRET, Settings
from tests.conftest import settings_for
from tests.factories import ALL_SCOPES, ORGS, TEST_SECRET, api_key, client_for, gql, token

VIEWER = """
{ viewer { __typename
  ... on Viewer { subject kind name scopes organization { id slug name } }
  ... on Error { code message requestId } } }
"""
UPDATE_PROMPT = """
mutation { updatePrompt(id: "prm_acme_welcome", input: {title: "Hijacked"}) {
  __typename
  ... on UpdatePromptSuccess { prompt { title } }
  ... on Error { code message requestId } } }
"""
PROMPT_TITLE = """
{ prompt(id: "prm_acme_welcome") { __typename ... on Prompt { title } } }
"""

REQUEST_ID = "auth-test-request"
REFUSED = {
    "__typename": "UnauthorizedError",
    "code": "UNAUTHORIZED",
    "message": "authentication failed",
    "requestId": REQUEST_ID,
}
ACME_ORG = {"id": ORGS["acme"], "slug": "acme", "name": "Acme"}
GLOBEX_ORG = {"id": ORGS["globex"], "slug": "globex", "name": "Globex"}
OTHER_SECRET = "another-secret-that-is-also-32-bytes-long!"
ISSUER = "https://issuer.test"
AUDIENCE = "patchbay"


# --- helpers -------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_patchbay_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings built here must not pick up a developer's PATCHBAY_* variables."""
    for name in list(os.environ):
        if name.startswith("PATCHBAY_"):
            monkeypatch.delenv(name)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_json(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def claims(user: str = "alice", **changes: Any) -> dict[str, Any]:
    """Valid claims for a seeded user; a change to None drops the claim."""
    now = int(time.time())
    payload: dict[str, Any] = {
        "sub": user,
        "org_id": ORGS["globex" if user == "carol" else "acme"],
        "scope": ALL_SCOPES,
        "iat": now,
        "exp": now + 600,
        "name": user.title(),
    }
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not None}


def signed(payload: dict[str, Any], key: Any, algorithm: str, kid: str | None = None) -> str:
    headers = {"kid": kid} if kid is not None else None
    return jwt.encode(payload, key, algorithm=algorithm, headers=headers)


def unsigned_token(payload: dict[str, Any], alg: str = "none") -> str:
    """An `alg: none` token, built by hand: header.payload. with an empty signature."""
    return f"{b64url_json({'alg': alg, 'typ': 'JWT'})}.{b64url_json(payload)}."


def hs256_by_hand(payload: dict[str, Any], secret: bytes) -> str:
    """HS256 with any bytes as the secret (PyJWT refuses a PEM key as an HMAC secret)."""
    signing_input = f"{b64url_json({'alg': 'HS256', 'typ': 'JWT'})}.{b64url_json(payload)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def tampered(original: str, **changes: Any) -> str:
    """The original header and signature around a changed payload."""
    header, payload, signature = original.split(".")
    decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return f"{header}.{b64url_json({**decoded, **changes})}.{signature}"


@functools.cache
def rsa_key(name: str) -> rsa.RSAPrivateKey:
    """One key pair per name, made once per run."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


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


def bearer(credential: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {credential}", "X-Request-ID": REQUEST_ID}


async def viewer(client: httpx.AsyncClient, headers: dict[str, str]) -> dict[str, Any]:
    body = await gql(client, VIEWER, headers={"X-Request-ID": REQUEST_ID, **headers})
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["viewer"]
    return result


async def viewer_with(client: httpx.AsyncClient, credential: str) -> dict[str, Any]:
    return await viewer(client, bearer(credential))


async def run_cli(capsys: pytest.CaptureFixture[str], command: str) -> tuple[int, str, str]:
    """`patchbay COMMAND` in a thread (it runs its own event loop): exit code, stdout, stderr."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, shlex.split(command))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- every refused credential looks the same -----------------------------------------------


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
    # when
    await asyncio.sleep(expires + leeway - time.time() + 0.1)
    # then
    assert await viewer_with(client, credential) == REFUSED


async def test_revoked_api_key_is_refused(client: httpx.AsyncClient, db: Database) -> None:
    # given: a key that works
    secret = await api_key(db)
    assert (await viewer_with(client, secret))["__typename"] == "Viewer"
    # when
    async with db.write() as conn:
        assert await revoke_key(conn, prefix=prefix_of(secret))
    # then
    assert await viewer_with(client, secret) == REFUSED
    body = await gql(client, UPDATE_PROMPT, headers=bearer(secret))
    assert body["data"]["updatePrompt"] == REFUSED


async def test_api_key_with_a_known_prefix_and_a_wrong_secret_is_refused(
    client: httpx.AsyncClient, db: Database
) -> None:
    # given: the visible prefix of a real key, followed by another secret
    secret = await api_key(db)
    forged = prefix_of(secret) + b64url(os.urandom(32))
    # when
    result = await viewer_with(client, forged)
    # then
    assert result == REFUSED


async def test_valid_token_for_an_unknown_organization_is_refused_on_viewer(
    client: httpx.AsyncClient,
) -> None:
    # when
    result = await viewer_with(client, token(org_id=str(uuid.uuid4())))
    # then
    assert result == REFUSED


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


# --- claims ---------------------------------------------------------------------------------


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


# --- asymmetric keys ------------------------------------------------------------------------


async def test_rs256_with_a_pem_public_key(database_url: str, db: Database) -> None:
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


async def test_es256_with_a_pem_public_key(database_url: str, db: Database) -> None:
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


# --- JWKS -----------------------------------------------------------------------------------


@dataclass
class JwksEndpoint:
    """A real HTTP server on 127.0.0.1 serving {"keys": keys}; `hits` are its request times.

    While `answering` is clear, requests hang (up to 10 s) until it is set again; `hung` is
    set once one did.
    """

    url: str
    keys: list[dict[str, Any]]
    stop: Callable[[], None]
    hits: list[float] = field(default_factory=list)
    answering: threading.Event = field(default_factory=threading.Event)
    hung: threading.Event = field(default_factory=threading.Event)


def jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    public: dict[str, Any] = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    return {**public, "kid": kid, "alg": "RS256", "use": "sig"}


@contextmanager
def serve_jwks(*keys: dict[str, Any]) -> Iterator[JwksEndpoint]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _JwksHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)

    def stop() -> None:
        endpoint.answering.set()  # release requests left hanging
        if thread.is_alive():
            server.shutdown()
            thread.join(timeout=5)
        server.server_close()

    port = server.server_address[1]
    endpoint = JwksEndpoint(f"http://127.0.0.1:{port}/.well-known/jwks.json", list(keys), stop)
    endpoint.answering.set()
    server.endpoint = endpoint  # type: ignore[attr-defined]
    thread.start()
    try:
        yield endpoint
    finally:
        stop()


class _JwksHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        endpoint: JwksEndpoint = self.server.endpoint  # type: ignore[attr-defined]
        endpoint.hits.append(time.monotonic())
        if not endpoint.answering.is_set():
            endpoint.hung.set()
            endpoint.answering.wait(timeout=10)
        body = json.dumps({"keys": endpoint.keys}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output quiet


def rs256(kid: str, user: str = "alice", key: str = "main") -> str:
    return signed(claims(user), rsa_key(key), "RS256", kid=kid)


def random_kid() -> str:
    return uuid.uuid4().hex


async def test_jwks_key_is_accepted_and_keeps_working_when_the_endpoint_is_down(
    database_url: str, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    # given: an app that refetches the JWKS on every request
    caplog.set_level(logging.WARNING, logger="patchbay.jwks")
    with serve_jwks(jwk(rsa_key("main"), "key-1")) as endpoint:
        settings = settings_for(
            database_url, jwks_url=endpoint.url, jwks_refresh_seconds=0, jwks_min_refetch_seconds=0
        )
        async with client_for(settings) as client:
            first = await viewer_with(client, rs256("key-1"))
            fetched = len(endpoint.hits)
            # when: the endpoint goes down
            endpoint.stop()
            same = await viewer_with(client, rs256("key-1"))
            fresh = await viewer_with(client, rs256("key-1", user="carol"))
            unknown = await viewer_with(client, rs256("key-2", key="other"))
    # then
    assert (first["__typename"], first["subject"], fetched) == ("Viewer", "alice", 1)
    assert (same["__typename"], same["subject"]) == ("Viewer", "alice")
    assert (fresh["__typename"], fresh["organization"]) == ("Viewer", GLOBEX_ORG)
    assert unknown == REFUSED
    assert any("JWKS fetch failed" in record.getMessage() for record in caplog.records)


async def test_jwks_unreachable_from_the_start_refuses_without_a_server_error(
    database_url: str, db: Database
) -> None:
    # given: an endpoint that is already gone
    with serve_jwks(jwk(rsa_key("main"), "key-1")) as endpoint:
        endpoint.stop()
        settings = settings_for(database_url, jwks_url=endpoint.url)
        async with client_for(settings) as client:
            # when
            result = await viewer_with(client, rs256("key-1"))
    # then
    assert result == REFUSED


async def test_random_kids_fetch_the_jwks_at_most_once_per_interval(
    database_url: str, db: Database
) -> None:
    # given
    with serve_jwks(jwk(rsa_key("main"), "key-1")) as endpoint:
        settings = settings_for(database_url, jwks_url=endpoint.url, jwks_min_refetch_seconds=60)
        async with client_for(settings) as client:
            known = await viewer_with(client, rs256("key-1"))
            # when: a flood of tokens with unknown kids, one by one and all at once
            one_by_one = [await viewer_with(client, rs256(random_kid())) for _ in range(30)]
            at_once = await asyncio.gather(
                *(viewer_with(client, rs256(random_kid())) for _ in range(30))
            )
            still_known = await viewer_with(client, rs256("key-1"))
    # then
    assert known["__typename"] == still_known["__typename"] == "Viewer"
    assert all(result == REFUSED for result in [*one_by_one, *at_once])
    assert len(endpoint.hits) == 1


async def test_jwks_refetches_are_spaced_by_the_minimum_interval(
    database_url: str, db: Database
) -> None:
    # given
    interval = 0.25
    with serve_jwks(jwk(rsa_key("main"), "key-1")) as endpoint:
        settings = settings_for(
            database_url, jwks_url=endpoint.url, jwks_min_refetch_seconds=interval
        )
        async with client_for(settings) as client:
            # when: unknown kids for about five intervals
            started = time.monotonic()
            deadline = started + 5 * interval
            flood = 0
            while time.monotonic() < deadline:
                assert await viewer_with(client, rs256(random_kid())) == REFUSED
                flood += 1
                await asyncio.sleep(0.005)
            elapsed = time.monotonic() - started
    # then: it did refetch, but at most once per interval (counted, not timed: the
    # server thread's own timestamps jitter on a loaded machine)
    assert 2 <= len(endpoint.hits) <= int(elapsed / interval) + 1
    assert len(endpoint.hits) < flood


async def test_a_key_added_to_the_jwks_is_picked_up_after_the_interval(
    database_url: str, db: Database
) -> None:
    # given
    with serve_jwks(jwk(rsa_key("main"), "key-1")) as endpoint:
        settings = settings_for(database_url, jwks_url=endpoint.url, jwks_min_refetch_seconds=0.2)
        async with client_for(settings) as client:
            assert (await viewer_with(client, rs256("key-1")))["__typename"] == "Viewer"
            # when: the identity provider rotates in a second key
            endpoint.keys.append(jwk(rsa_key("other"), "key-2"))
            await asyncio.sleep(0.3)
            rotated = await viewer_with(client, rs256("key-2", user="bob", key="other"))
    # then
    assert (rotated["__typename"], rotated["subject"]) == ("Viewer", "bob")
    assert len(endpoint.hits) == 2


async def test_a_known_kid_is_answered_at_once_while_a_stale_jwks_refreshes_in_the_background(
    database_url: str, db: Database
) -> None:
    # given: keys fetched once, older than the refresh interval, and an endpoint that hangs
    refresh = 1.0
    with serve_jwks(jwk(rsa_key("main"), "key-1")) as endpoint:
        settings = settings_for(
            database_url,
            jwks_url=endpoint.url,
            jwks_refresh_seconds=refresh,
            jwks_min_refetch_seconds=0,
        )
        async with client_for(settings) as client:
            assert (await viewer_with(client, rs256("key-1")))["__typename"] == "Viewer"
            endpoint.answering.clear()
            endpoint.keys.append(jwk(rsa_key("other"), "key-2"))  # published once it answers
            await asyncio.sleep(refresh + 0.2)
            # when: a token not verified before, whose kid is known
            started = time.monotonic()
            answer = asyncio.ensure_future(viewer_with(client, rs256("key-1", user="bob")))
            await asyncio.wait({answer}, timeout=1.0)
            answered_at_once, elapsed = answer.done(), time.monotonic() - started
            hung = await asyncio.to_thread(endpoint.hung.wait, 3)  # the refresh reached it
            # and: the endpoint answers again
            endpoint.answering.set()
            known = await answer
            rotated = await viewer_with(client, rs256("key-2", user="carol", key="other"))
    # then: the known kid did not wait; the refresh ran once, in the background, and a
    # token for the rotated-in key needed no fetch of its own
    assert answered_at_once, f"waited {elapsed:.2f}s for the JWKS endpoint"
    assert hung
    assert (known["__typename"], known["subject"]) == ("Viewer", "bob")
    assert (rotated["__typename"], rotated["subject"]) == ("Viewer", "carol")
    assert len(endpoint.hits) == 2


async def test_jwks_key_used_with_a_kid_of_another_key_is_refused(
    database_url: str, db: Database
) -> None:
    # given: two published keys; the token names key-1 but is signed with key-2
    keys = (jwk(rsa_key("main"), "key-1"), jwk(rsa_key("other"), "key-2"))
    with serve_jwks(*keys) as endpoint:
        settings = settings_for(database_url, jwks_url=endpoint.url)
        async with client_for(settings) as client:
            # when
            result = await viewer_with(client, rs256("key-1", key="other"))
    # then
    assert result == REFUSED


async def test_jwks_key_is_used_only_with_the_algorithm_it_declares(
    database_url: str, db: Database
) -> None:
    # given: RS256 and RS384 are both allowed; the published key declares RS256
    with serve_jwks(jwk(rsa_key("main"), "key-1")) as endpoint:
        settings = settings_for(
            database_url, jwks_url=endpoint.url, jwt_algorithms="HS256 RS256 RS384"
        )
        async with client_for(settings) as client:
            # when
            declared = await viewer_with(client, rs256("key-1"))
            other = await viewer_with(
                client, signed(claims(), rsa_key("main"), "RS384", kid="key-1")
            )
    # then
    assert declared["__typename"] == "Viewer"
    assert other == REFUSED


# --- API keys -------------------------------------------------------------------------------


async def test_api_key_acts_for_its_organization(client: httpx.AsyncClient, db: Database) -> None:
    # given
    secret = await api_key(db, org="globex", scope="prompts:read", name="globex-bot")
    # when
    result = await viewer_with(client, secret)
    other_org = await gql(client, PROMPT_TITLE, auth=secret)
    # then
    assert result == {
        "__typename": "Viewer",
        "subject": prefix_of(secret),
        "kind": "API_KEY",
        "name": "globex-bot",
        "scopes": ["prompts:read"],
        "organization": GLOBEX_ORG,
    }
    assert other_org["data"]["prompt"]["__typename"] == "NotFoundError"


async def dump_database(db: Database) -> str:
    """Every row of every table in the database, as text."""
    async with db.read() as conn:
        names = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
        assert "api_keys" in names
        rows = [
            f"{name}: {row!r}"
            for name in names
            for row in (await conn.execute(text(f'SELECT * FROM "{name}"'))).all()
        ]
    return "\n".join(rows)


async def test_api_key_secret_is_stored_nowhere(db: Database) -> None:
    # given
    secret = await api_key(db, name="stored-nowhere")
    hidden_part = secret[len(prefix_of(secret)) :]
    # when
    dump = await dump_database(db)
    # then
    assert "stored-nowhere" in dump and prefix_of(secret) in dump
    assert secret not in dump
    assert hidden_part not in dump


# --- settings -------------------------------------------------------------------------------


def test_production_refuses_to_start_without_key_material() -> None:
    with pytest.raises(ValidationError, match="PATCHBAY_ENV=production needs"):
        Settings(env="production")


@pytest.mark.parametrize(
    "secret", ["x" * 31, "é" * 15 + "x"], ids=["31-ascii", "31-bytes-16-chars"]
)
def test_production_refuses_a_short_hs256_secret(secret: str) -> None:
    with pytest.raises(ValidationError, match="32\\+ bytes"):
        Settings(env="production", jwt_secret=secret)


@pytest.mark.parametrize(
    "material",
    [
        {"jwt_secret": "Kz8-vQ2rT5yWm1Xc4Fh7Lp0Nd3Gj6Sb9"},  # 32 bytes, none repeated
        {"jwt_secret": "αβγδЖЗИЙԱԲՁՂאבجح"},  # 16 characters, 32 bytes
        {"jwt_public_key": "-----BEGIN PUBLIC KEY-----"},
        {"jwks_url": "https://issuer.test/jwks.json"},
    ],
    ids=["32-byte-secret", "32-bytes-16-chars", "public-key", "jwks-url"],
)
def test_production_starts_with_real_key_material(material: dict[str, Any]) -> None:
    settings = Settings(env="production", **material)
    assert settings.env == "production"
    assert not settings.development_keys


@pytest.mark.parametrize("algorithms", ["none", "HS256 none", "None"])
def test_the_none_algorithm_cannot_be_configured(algorithms: str) -> None:
    with pytest.raises(ValidationError, match="unsupported JWT algorithms"):
        Settings(jwt_secret=TEST_SECRET, jwt_algorithms=algorithms)


async def test_development_mode_says_so_loudly(
    database_url: str, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    caplog.set_level(logging.WARNING, logger="patchbay")
    # when
    async with client_for(Settings(database_url=database_url)) as client:
        result = await viewer_with(client, token(secret=DEVELOPMENT_JWT_SECRET))
        test_secret = await viewer_with(client, token())
    # then
    warnings = [r for r in caplog.records if r.name == "patchbay" and r.levelno >= logging.WARNING]
    assert [r.getMessage() for r in warnings] == [DEVELOPMENT_WARNING]
    assert "DEVELOPMENT MODE" in caplog.text
    assert result["__typename"] == "Viewer"
    assert test_secret == REFUSED


async def test_configured_key_material_gives_no_development_warning(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # given
    caplog.set_level(logging.WARNING, logger="patchbay")
    # when
    async with client_for(settings_for(database_url)):
        pass
    # then
    assert "DEVELOPMENT MODE" not in caplog.text


# --- command line ---------------------------------------------------------------------------


@pytest.fixture
def cli_environment(monkeypatch: pytest.MonkeyPatch, database_url: str, db: Database) -> None:
    monkeypatch.setenv("PATCHBAY_DATABASE_URL", database_url)
    monkeypatch.setenv("PATCHBAY_JWT_SECRET", TEST_SECRET)


@pytest.mark.usefixtures("cli_environment")
async def test_cli_token_is_accepted(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    # when
    code, out, _ = await run_cli(capsys, "token --sub alice --org acme")
    # then
    assert code == 0
    result = await viewer_with(client, out.strip())
    assert result == {
        "__typename": "Viewer",
        "subject": "alice",
        "kind": "USER",
        "name": None,
        "scopes": sorted(ALL_SCOPES.split()),
        "organization": ACME_ORG,
    }


@pytest.mark.usefixtures("cli_environment")
async def test_cli_token_by_org_id_with_scope_and_name(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    # when
    command = f"token --sub carol --org {ORGS['globex']} --scope prompts:read --name 'Carol Cobb'"
    code, out, _ = await run_cli(capsys, command)
    # then
    assert code == 0
    result = await viewer_with(client, out.strip())
    assert (result["subject"], result["name"], result["scopes"], result["organization"]) == (
        "carol",
        "Carol Cobb",
        ["prompts:read"],
        GLOBEX_ORG,
    )


@pytest.mark.usefixtures("cli_environment")
async def test_cli_token_with_a_negative_ttl_is_expired(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    # when
    # (expired for longer than the 30 s clock-skew leeway)
    code, out, _ = await run_cli(capsys, "token --sub alice --org acme --ttl -60")
    # then
    assert code == 0
    assert await viewer_with(client, out.strip()) == REFUSED


@pytest.mark.usefixtures("cli_environment")
async def test_cli_token_for_an_unknown_organization_fails(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # when
    code, out, err = await run_cli(capsys, "token --sub alice --org initech")
    # then
    assert (code, out) == (1, "")
    assert "no organization 'initech'" in err


@pytest.mark.usefixtures("cli_environment")
async def test_cli_apikey_create_then_revoke(
    client: httpx.AsyncClient, db: Database, capsys: pytest.CaptureFixture[str]
) -> None:
    # given: a key made by the CLI
    command = "apikey create --org acme --scope 'prompts:read prompts:write' --name deploy-bot"
    code, out, err = await run_cli(capsys, command)
    assert code == 0
    secret = out.strip()
    assert out.count("\n") == 1 and secret.startswith("am_live_")
    assert prefix_of(secret) in err and secret not in err
    assert secret not in await dump_database(db)
    created = await viewer_with(client, secret)
    assert created == {
        "__typename": "Viewer",
        "subject": prefix_of(secret),
        "kind": "API_KEY",
        "name": "deploy-bot",
        "scopes": ["prompts:read", "prompts:write"],
        "organization": ACME_ORG,
    }
    # when
    revoked = await run_cli(capsys, f"apikey revoke {prefix_of(secret)}")
    again = await run_cli(capsys, f"apikey revoke {prefix_of(secret)}")
    # then
    assert revoked[0] == 0
    assert await viewer_with(client, secret) == REFUSED
    assert again[0] == 1 and "no active key" in again[2]
