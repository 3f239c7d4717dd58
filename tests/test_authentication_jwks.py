"""Keys from a JWKS URL (a real HTTP server on 127.0.0.1): fetched once and kept while the
endpoint is down, refetched at most once per interval for unknown kids, refreshed in the
background when stale, and each key used only with its own kid and algorithm."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from db.database import Database
from tests.conftest import settings_for
from tests.credentials import GLOBEX_ORG, REFUSED, claims, rsa_key, signed, viewer_with
from tests.factories import client_for

pytestmark = pytest.mark.usefixtures("no_patchbay_environment")


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
                await asyncio.sleep(0.005)  # paces the flood over the real-time intervals
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
            await asyncio.sleep(0.3)  # the 0.2 s interval passes (JwksCache reads time.monotonic)
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
            await asyncio.sleep(refresh + 0.2)  # the keys grow stale, in real time
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
