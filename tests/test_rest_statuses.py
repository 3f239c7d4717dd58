"""Every status the REST endpoints document, one test each (most for all three endpoints),
on SQLite and PostgreSQL: the rules are the resolvers', the status and body each page's."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from db.database import Database
from tests.conftest import settings_for
from tests.factories import api_key, client_for, token
from tests.rest_requests import (
    ALICES,
    AUDIO_PROMPTS,
    BOBS,
    CAROLS,
    GLOBEX_POOL,
    POOL,
    POOLS,
    PROMPTS,
    REQUEST_ID,
    bearer,
    patch,
    stored_pool,
    stored_prompt,
)

# Each endpoint with an id of alice's organization, a body that changes something, and how
# its error body names the code and the fields at fault.
ENDPOINTS = {
    "prompts": (f"{PROMPTS}/{ALICES}", {"title": "New title"}),
    "v1-prompts": (f"{AUDIO_PROMPTS}/{ALICES}", {"description": "New description"}),
    "v1-pools": (f"{POOLS}/{POOL}", {"name": "New name"}),
}
EACH = pytest.mark.parametrize("endpoint", list(ENDPOINTS))


def code(body: dict[str, Any]) -> str:
    return str(body["error"]["code"] if "success" in body else body["code"])


def fields(body: dict[str, Any]) -> dict[str, str]:
    """Field -> message, whichever of the three pages' shapes the body has."""
    if "success" in body:
        return dict(body["error"].get("details", {}))
    if "requestId" in body:
        return {f["field"]: f["message"] for f in body["fields"]}
    return {f["name"]: f["description"] for f in body["fields"]}


async def stored(db: Database, endpoint: str) -> dict[str, Any]:
    return await (stored_pool(db, POOL) if endpoint == "v1-pools" else stored_prompt(db, ALICES))


# --- 200 and 304: GET on each path, the same representation as PATCH answers ---------------


@EACH
async def test_get_answers_the_representation_patch_answers(
    client: httpx.AsyncClient, endpoint: str
) -> None:
    path, _ = ENDPOINTS[endpoint]
    got = await client.get(path, headers=bearer(token("alice")))
    patched = await patch(client, path, {}, token("alice"))
    assert got.status_code == patched.status_code == 200
    assert got.json() == patched.json()
    assert got.headers["etag"] == patched.headers["etag"]
    assert got.headers["x-request-id"] == REQUEST_ID


@EACH
async def test_a_representation_carries_exactly_its_headers(
    client: httpx.AsyncClient, endpoint: str
) -> None:
    # given: an answer of the REST routes' direct path (gateway/http/routing.py)
    path, body = ENDPOINTS[endpoint]
    # when
    for response in (
        await patch(client, path, body, token("alice")),
        await client.get(path, headers=bearer(token("alice"))),
    ):
        # then: the headers a Starlette JSON Response has, the ETag and the request id
        assert response.status_code == 200
        assert sorted(response.headers.keys()) == [
            "content-length",
            "content-type",
            "etag",
            "x-request-id",
        ]
        assert response.headers["content-type"] == "application/json"
        assert int(response.headers["content-length"]) == len(response.content)
        assert response.headers["etag"].strip('"').isdigit()


@EACH
async def test_get_with_the_current_etag_is_not_modified(
    client: httpx.AsyncClient, endpoint: str
) -> None:
    path, _ = ENDPOINTS[endpoint]
    first = await client.get(path, headers=bearer(token("alice")))
    again = await client.get(
        path, headers=bearer(token("alice"), **{"If-None-Match": first.headers["etag"]})
    )
    assert again.status_code == 304 and again.content == b""


async def test_prompt_links_self_resolves_on_the_same_server(client: httpx.AsyncClient) -> None:
    # given: the GraphQL Prompt's links, built from settings.prompts_url
    query = '{ prompt(id: "prm_acme_welcome") { ... on Prompt { links { self { href } } } } }'
    graphql = await client.post("/graphql", json={"query": query}, headers=bearer(token("alice")))
    href = graphql.json()["data"]["prompt"]["links"]["self"]["href"]
    # when
    response = await client.get(href, headers=bearer(token("alice")))
    # then
    assert response.status_code == 200
    assert response.json()["_links"]["self"]["href"] == href


async def test_a_read_scope_may_get_but_not_patch(client: httpx.AsyncClient) -> None:
    reader = token("alice", scope="prompts:read")
    assert (await client.get(f"{PROMPTS}/{ALICES}", headers=bearer(reader))).status_code == 200
    assert (await patch(client, f"{PROMPTS}/{ALICES}", {}, reader)).status_code == 403


# --- 400 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "body", "expected"),
    [
        ("prompts", {"title": "", "tags": ["ok", " "]}, {"title", "tags.1"}),
        ("prompts", {"name": None}, {"name"}),
        ("prompts", {"title": 5, "tags": "x"}, {"title", "tags"}),
        ("prompts", {"_id": "other", "ownerId": "bob"}, {"_id", "ownerId"}),
        ("v1-prompts", {"file_name": "notes.txt", "name": " "}, {"file_name", "name"}),
        ("v1-prompts", {"request_id": "no-such-upload"}, {"request_id"}),
        ("v1-prompts", {"name": 1}, {"name"}),
        ("v1-pools", {"slug": "Not A Slug", "name": None}, {"slug", "name"}),
        ("v1-pools", {"brand_id": "b0000000-0000-4000-8000-000000000001"}, {"brand_id"}),
        # a value of the wrong type and a rule broken: both reported at once
        ("v1-pools", {"brand_id": "x", "slug": "Not A Slug"}, {"brand_id", "slug"}),
        ("prompts", {"title": 5, "model": "", "color": "red"}, {"title", "model", "color"}),
    ],
)
async def test_invalid_bodies_are_400_with_every_field_at_fault_and_nothing_written(
    client: httpx.AsyncClient, db: Database, endpoint: str, body: Any, expected: set[str]
) -> None:
    path, _ = ENDPOINTS[endpoint]
    before = await stored(db, endpoint)
    response = await patch(client, path, body, token("alice"))
    assert response.status_code == 400, response.text
    assert code(response.json()) == "VALIDATION_FAILED"
    assert set(fields(response.json())) == expected
    assert await stored(db, endpoint) == before


async def test_brand_id_is_refused_as_immutable(client: httpx.AsyncClient) -> None:
    response = await patch(client, f"{POOLS}/{POOL}", {"brand_id": "x"}, token("alice"))
    assert response.json()["error"]["details"] == {"brand_id": "is immutable"}
    assert response.json()["error"]["message"] == "validation failed"


@EACH
@pytest.mark.parametrize("content", [b"{", b"[]", b'"title"', b"null", b""])
async def test_a_body_that_is_no_json_object_is_400(
    client: httpx.AsyncClient, endpoint: str, content: bytes
) -> None:
    path, _ = ENDPOINTS[endpoint]
    headers = bearer(token("alice"), **{"Content-Type": "application/json"})
    response = await client.patch(path, content=content, headers=headers)
    assert response.status_code == 400
    assert code(response.json()) == "VALIDATION_FAILED"


# --- 401 ------------------------------------------------------------------------------------


@EACH
@pytest.mark.parametrize("credential", [None, "not-a-token", "am_live_nosuchkey"])
async def test_a_missing_or_refused_credential_is_401_before_any_rule(
    client: httpx.AsyncClient, db: Database, endpoint: str, credential: str | None
) -> None:
    path, _ = ENDPOINTS[endpoint]
    before = await stored(db, endpoint)
    response = await patch(client, path, {"name": 5}, credential)  # invalid, but 401 first
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert code(response.json()) == "UNAUTHORIZED"
    assert await stored(db, endpoint) == before
    assert (await client.get(path, headers=bearer(credential))).status_code == 401


async def test_an_expired_token_is_401(client: httpx.AsyncClient) -> None:
    response = await patch(client, f"{PROMPTS}/{ALICES}", {"title": "x"}, token(ttl=-120))
    assert response.status_code == 401


# --- 403 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("endpoint", "scope"),
    [
        ("prompts", "prompts:read org:admin:write"),
        ("v1-prompts", "prompts:read org:admin:write"),
        ("v1-pools", "org:admin:read prompts:write"),
    ],
)
async def test_a_missing_scope_is_403_before_validation(
    client: httpx.AsyncClient, db: Database, endpoint: str, scope: str
) -> None:
    path, _ = ENDPOINTS[endpoint]
    before = await stored(db, endpoint)
    response = await patch(client, path, {"name": None, "title": 5}, token(scope=scope))
    assert response.status_code == 403
    assert code(response.json()) == "FORBIDDEN"
    assert await stored(db, endpoint) == before


async def test_the_pool_page_says_missing_required_scope(client: httpx.AsyncClient) -> None:
    response = await patch(client, f"{POOLS}/{POOL}", {}, token(scope="org:admin:read"))
    assert response.json()["error"]["message"] == "missing required scope"


@pytest.mark.parametrize("path", [f"{PROMPTS}/{BOBS}", f"{AUDIO_PROMPTS}/{BOBS}"])
async def test_another_users_prompt_is_403_and_unchanged(
    client: httpx.AsyncClient, db: Database, path: str
) -> None:
    before = await stored_prompt(db, BOBS)
    response = await patch(client, path, {"description": "mine now"}, token("alice"))
    assert response.status_code == 403
    assert code(response.json()) == "FORBIDDEN"
    assert await stored_prompt(db, BOBS) == before


async def test_an_api_key_acts_for_its_whole_organization(
    client: httpx.AsyncClient, db: Database
) -> None:
    key = await api_key(db, scope="prompts:write", name="ci-bot")
    response = await patch(client, f"{PROMPTS}/{BOBS}", {"title": "By the bot"}, key)
    assert response.status_code == 200
    body = response.json()
    assert (body["ownerId"], body["updatedUserName"]) == ("bob", "ci-bot")
    assert key.startswith(body["updatedBy"])  # the key's visible prefix, never the secret


# --- 404 ------------------------------------------------------------------------------------

OTHER_ORG = {"prompts": f"{PROMPTS}/{CAROLS}", "v1-prompts": f"{AUDIO_PROMPTS}/{CAROLS}"}
OTHER_ORG["v1-pools"] = f"{POOLS}/{GLOBEX_POOL}"
UNKNOWN = {"prompts": f"{PROMPTS}/prm_nope", "v1-prompts": f"{AUDIO_PROMPTS}/prm_nope"}
UNKNOWN["v1-pools"] = f"{POOLS}/00000000-0000-4000-8000-000000000000"


@EACH
async def test_another_organizations_id_answers_exactly_like_an_unknown_id(
    client: httpx.AsyncClient, endpoint: str
) -> None:
    _, body = ENDPOINTS[endpoint]
    theirs = await patch(client, OTHER_ORG[endpoint], body, token("alice"))
    unknown = await patch(client, UNKNOWN[endpoint], body, token("alice"))
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json() == unknown.json()
    assert code(theirs.json()) == "NOT_FOUND"
    got = await client.get(OTHER_ORG[endpoint], headers=bearer(token("alice")))
    assert got.status_code == 404 and got.json() == theirs.json()


@pytest.mark.parametrize("raw", ["not-a-uuid", "%00", "x" * 300])
async def test_a_malformed_id_is_404(client: httpx.AsyncClient, raw: str) -> None:
    for base in (PROMPTS, AUDIO_PROMPTS, POOLS):
        response = await patch(client, f"{base}/{raw}", {}, token("alice"))
        assert response.status_code == 404, (base, response.text)


async def test_the_pool_page_says_not_found(client: httpx.AsyncClient) -> None:
    response = await patch(client, UNKNOWN["v1-pools"], {}, token("alice"))
    assert response.json()["error"]["message"] == "not found"


# --- 409 ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        (f"{PROMPTS}/{ALICES}", {"name": "hold-music"}, "name"),
        (f"{AUDIO_PROMPTS}/{ALICES}", {"name": "after-hours"}, "name"),
        (f"{POOLS}/{POOL}", {"slug": "marketing"}, "slug"),
    ],
)
async def test_a_taken_name_or_slug_is_409(
    client: httpx.AsyncClient, path: str, body: dict[str, str], field: str
) -> None:
    response = await patch(client, path, body, token("alice"))
    assert response.status_code == 409
    assert code(response.json()) == "CONFLICT"
    assert set(fields(response.json())) == {field}


# --- 412: If-Match --------------------------------------------------------------------------


@EACH
async def test_a_stale_if_match_is_412_and_nothing_is_written(
    client: httpx.AsyncClient, db: Database, endpoint: str
) -> None:
    # given: a version read, then changed by someone else
    path, body = ENDPOINTS[endpoint]
    read = await client.get(path, headers=bearer(token("alice")))
    other = {"description": "meanwhile"} if endpoint != "v1-pools" else {"slug": "meanwhile"}
    assert (await patch(client, path, other, token("alice"))).status_code == 200
    between = await stored(db, endpoint)
    # when
    response = await patch(client, path, body, token("alice"), **{"If-Match": read.headers["etag"]})
    # then
    assert response.status_code == 412
    assert code(response.json()) == "PRECONDITION_FAILED"
    assert await stored(db, endpoint) == between


@EACH
@pytest.mark.parametrize("kind", ["current", "star", "list"])
async def test_an_if_match_that_holds_lets_the_write_through(
    client: httpx.AsyncClient, endpoint: str, kind: str
) -> None:
    path, body = ENDPOINTS[endpoint]
    current = (await client.get(path, headers=bearer(token("alice")))).headers["etag"]
    header = {"current": current, "star": "*", "list": f'"1", {current}'}[kind]
    response = await patch(client, path, body, token("alice"), **{"If-Match": header})
    assert response.status_code == 200, response.text
    assert response.headers["etag"] != current


HUGE_TAG = '"' + "1" * 4_301 + '"'  # more digits than int() reads: was a 500


@pytest.mark.parametrize(
    "header", ['W/"1767603600000000"', "garbage", '"99999999999999999999"', HUGE_TAG]
)
async def test_an_if_match_that_names_no_current_version_is_412(
    client: httpx.AsyncClient, header: str
) -> None:
    response = await patch(
        client, f"{PROMPTS}/{ALICES}", {"title": "x"}, token("alice"), **{"If-Match": header}
    )
    assert response.status_code == 412


@EACH
async def test_an_if_match_too_long_for_a_version_is_judged_after_the_credential(
    client: httpx.AsyncClient, endpoint: str
) -> None:
    path, body = ENDPOINTS[endpoint]
    response = await client.patch(path, json=body, headers={"If-Match": HUGE_TAG})
    assert response.status_code == 401, response.text


async def test_if_match_comes_after_not_found(client: httpx.AsyncClient) -> None:
    response = await patch(
        client, UNKNOWN["prompts"], {"title": "x"}, token("alice"), **{"If-Match": '"1"'}
    )
    assert response.status_code == 404


# --- 413, 415 -------------------------------------------------------------------------------


@EACH
async def test_a_body_over_the_limit_is_413(client: httpx.AsyncClient, endpoint: str) -> None:
    path, _ = ENDPOINTS[endpoint]
    response = await patch(client, path, {"description": "x" * (1024 * 1024)}, token("alice"))
    assert response.status_code == 413
    assert response.headers["x-request-id"] == REQUEST_ID
    # the route's own error body, as every other failure of the page (not GraphQL's shape)
    assert response.headers["content-type"] == "application/json"
    assert code(response.json()) == "PAYLOAD_TOO_LARGE"


@EACH
@pytest.mark.parametrize("size", [1024 * 1024, 16])
async def test_a_streamed_body_is_held_to_the_limit_as_it_arrives(
    client: httpx.AsyncClient, endpoint: str, size: int
) -> None:
    # given: a body sent in chunks, with no Content-Length (the direct path's other way)
    path, body = ENDPOINTS[endpoint]
    field = next(iter(body))
    sent = orjson.dumps({field: "x" * size})

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(sent), 64 * 1024):
            yield sent[start : start + 64 * 1024]

    headers = bearer(token("alice"), **{"Content-Type": "application/json"})
    # when
    response = await client.patch(path, content=chunks(), headers=headers)
    # then: over the limit, the route's own 413; within it, the update
    assert response.headers["x-request-id"] == REQUEST_ID
    if size > 1024:
        assert response.status_code == 413
        assert code(response.json()) == "PAYLOAD_TOO_LARGE"
    else:
        assert response.status_code == 200, response.text
        assert "etag" in response.headers


@EACH
@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        None,
        # JSON in another charset: refused, not misread as UTF-8
        "application/json; charset=latin-1",
        "application/merge-patch+json; charset=utf-16",
        "application/json; charset*=utf-8''x",  # (RFC 2231: parsed as a tuple)
    ],
)
async def test_other_media_types_are_415(
    client: httpx.AsyncClient, endpoint: str, content_type: str | None
) -> None:
    path, _ = ENDPOINTS[endpoint]
    headers = bearer(token("alice"))
    if content_type is not None:
        headers["Content-Type"] = content_type
    response = await client.patch(path, content=b'{"name": "x"}', headers=headers)
    assert response.status_code == 415
    assert code(response.json()) == "UNSUPPORTED_MEDIA_TYPE"


@EACH
@pytest.mark.parametrize(
    "content_type",
    ["Application/JSON; charset=UTF-8", 'application/merge-patch+json; charset="utf8"'],
)
async def test_json_in_utf8_is_read_whatever_the_case_of_its_names(
    client: httpx.AsyncClient, endpoint: str, content_type: str
) -> None:
    path, body = ENDPOINTS[endpoint]
    sent = {field: f"{value}, Zoë" for field, value in body.items()}
    headers = {**bearer(token("alice")), "Content-Type": content_type}
    response = await client.patch(path, content=orjson.dumps(sent), headers=headers)
    assert response.status_code == 200, response.text
    assert all(value in response.text for value in sent.values())  # read as UTF-8


READ_ONLY = {"prompts": "prompts:read", "v1-prompts": "prompts:read", "v1-pools": "org:admin:read"}


@EACH
@pytest.mark.parametrize(
    ("content_type", "body"),
    [("application/json", b"{"), ("application/json", b"[1]"), ("text/plain", b"{}")],
)
async def test_who_is_asking_comes_before_what_is_wrong_with_the_body(
    client: httpx.AsyncClient, endpoint: str, content_type: str, body: bytes
) -> None:
    # the contract's order: 401, then 403, then the body's 400 (or 415)
    path, _ = ENDPOINTS[endpoint]
    nobody = await client.patch(
        path, content=body, headers=bearer(None, **{"Content-Type": content_type})
    )
    reader = token("alice", scope=READ_ONLY[endpoint])
    headers = bearer(reader, **{"Content-Type": content_type})
    read_only = await client.patch(path, content=body, headers=headers)
    assert (nobody.status_code, read_only.status_code) == (401, 403)


@EACH
async def test_several_if_match_tags_keep_validation_before_not_found(
    client: httpx.AsyncClient, endpoint: str
) -> None:
    # reading the current version for several tags must not answer 404 before 400
    invalid = {"title": ""} if endpoint == "prompts" else {"name": ""}
    response = await patch(
        client, UNKNOWN[endpoint], invalid, token("alice"), **{"If-Match": '"1", "2"'}
    )
    assert response.status_code == 400, response.text


@pytest.mark.parametrize("tag", [b'"\xb2"', b'"1\xb2"', b'"\xd9\xa3"'])
async def test_if_match_with_other_digits_is_412_not_a_failure(
    client: httpx.AsyncClient, tag: bytes
) -> None:
    # str.isdigit() takes a superscript two (0xB2 read as Latin-1), which int() refuses
    headers = [
        (name.encode(), value.encode())
        for name, value in bearer(token("alice"), **{"Content-Type": "application/json"}).items()
    ]
    response = await client.patch(
        f"{PROMPTS}/{ALICES}", content=b'{"title": "x"}', headers=[*headers, (b"if-match", tag)]
    )
    assert response.status_code == 412, response.text


async def test_a_415_is_not_kept_under_its_idempotency_key(
    client: httpx.AsyncClient, db: Database
) -> None:
    # a request refused before it ran: its fixed retry with the same key runs
    path, _ = ENDPOINTS["prompts"]
    key = {"Idempotency-Key": "fix-my-content-type"}
    wrong = bearer(token("alice"), **{"Content-Type": "text/plain"}, **key)
    refused = await client.patch(path, content=b'{"title": "Fixed"}', headers=wrong)
    fixed = await patch(client, path, {"title": "Fixed"}, token("alice"), **key)
    assert (refused.status_code, fixed.status_code) == (415, 200)
    assert "idempotent-replayed" not in fixed.headers
    assert (await stored_prompt(db, ALICES))["title"] == "Fixed"


# --- merge-patch semantics ------------------------------------------------------------------


async def test_merge_patch_null_clears_and_absent_keeps(
    client: httpx.AsyncClient, db: Database
) -> None:
    headers = bearer(token("alice"), **{"Content-Type": "application/merge-patch+json"})
    response = await client.patch(
        f"{PROMPTS}/{ALICES}", content=b'{"title": null, "tags": null}', headers=headers
    )
    assert response.status_code == 200, response.text
    stored = await stored_prompt(db, ALICES)
    assert (stored["title"], stored["tags"], stored["name"]) == (None, [], "welcome")


@EACH
async def test_an_empty_object_writes_nothing(
    client: httpx.AsyncClient, db: Database, endpoint: str
) -> None:
    path, _ = ENDPOINTS[endpoint]
    before = await stored(db, endpoint)
    response = await patch(client, path, {}, token("alice"))
    assert response.status_code == 200
    assert await stored(db, endpoint) == before


# --- 503 ------------------------------------------------------------------------------------


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port  # closed again: nothing listens there


@EACH
async def test_an_unreachable_database_is_503_with_retry_after(endpoint: str) -> None:
    url = f"postgresql+asyncpg://postgres@127.0.0.1:{closed_port()}/patchbay"
    settings = settings_for(url, database_timeout_seconds=2.0)
    async with client_for(settings) as client:
        path, body = ENDPOINTS[endpoint]
        response = await patch(client, path, body, token("alice"))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert code(response.json()) == "SERVICE_UNAVAILABLE"


# --- 429: the rate limit, the same buckets as GraphQL's -------------------------------------


@EACH
async def test_a_client_over_its_rate_limit_is_429_and_nothing_is_written(
    database_url: str, db: Database, endpoint: str
) -> None:
    # 25 points: a PATCH costs 11 (a mutation and its object), as over GraphQL
    settings = settings_for(
        database_url,
        rate_limit=True,
        rate_limit_maximum=25,
        rate_limit_restore_rate=0.01,
        rate_limit_hold_seconds=0.2,  # held, as every 429: at most this long
    )
    path, body = ENDPOINTS[endpoint]
    async with client_for(settings) as client:
        first = await patch(client, path, body, token("alice"))
        second = await patch(client, path, body, token("alice"))
        before = await stored(db, endpoint)
        third = await patch(client, path, dict.fromkeys(body, "Third"), token("alice"))
        # the same client's GraphQL requests draw on the same bucket (3 points left)
        graphql = await client.post(
            "/graphql",
            json={"query": "{ viewer { ... on Viewer { organization { id } } } }"},
            headers=bearer(token("alice")),
        )
        # another client is not affected
        bob = await client.get(path, headers=bearer(token("bob")))
    assert first.status_code == second.status_code == 200
    assert first.headers["ratelimit-policy"] == '"cost";q=25;w=2500'
    assert third.status_code == 429
    assert code(third.json()) == "THROTTLED"
    assert int(third.headers["retry-after"]) > 0
    assert third.headers["x-request-id"]
    assert await stored(db, endpoint) == before
    assert graphql.status_code == 200  # 3 points: the read costs 2 (and a point to parse)
    assert bob.status_code in (200, 403)
