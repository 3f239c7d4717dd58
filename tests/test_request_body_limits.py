"""A request body over 1 MiB is refused with 413, whether its length is declared or streamed,
before it is read and with flat memory; a body of exactly 1 MiB is served."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.factories import token
from tests.http_edge import MIB, SEEDED_TITLE, send, title_of_welcome

UPDATE_TITLE = """
mutation Update($title: String) {
  updatePrompt(id: "prm_acme_welcome", input: {title: $title}) {
    __typename ... on UpdatePromptSuccess { prompt { title } } ... on Error { code message }
  }
}
"""


def padded_request(query: str, size: int, variables: dict[str, Any]) -> bytes:
    """A JSON GraphQL request of exactly `size` bytes (an unused extension carries padding)."""
    empty = json.dumps({"query": query, "variables": variables, "extensions": {"pad": ""}})
    padding = size - len(empty.encode())
    assert padding >= 0
    body = json.dumps(
        {"query": query, "variables": variables, "extensions": {"pad": "x" * padding}}
    ).encode()
    assert len(body) == size
    return body


@pytest.mark.parametrize("size", [MIB + 1, 10 * MIB], ids=["1MiB+1", "10MiB"])
async def test_body_over_one_mib_is_413(client: httpx.AsyncClient, size: int) -> None:
    # given: a well-formed GraphQL request padded to `size` bytes
    body = padded_request(UPDATE_TITLE, size, {"title": "Too large"})
    # when
    response = await send(
        client,
        "POST",
        "/graphql",
        content=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token()}"},
    )
    # then
    assert response.status_code == 413
    assert await title_of_welcome(client) == SEEDED_TITLE


async def test_streamed_body_over_one_mib_without_a_length_is_413(
    client: httpx.AsyncClient,
) -> None:
    # given: a chunked body that declares no Content-Length
    body = padded_request(UPDATE_TITLE, 2 * MIB, {"title": "Streamed"})

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    # when
    response = await send(
        client,
        "POST",
        "/graphql",
        content=chunks(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token()}"},
    )
    # then
    assert response.status_code == 413
    assert await title_of_welcome(client) == SEEDED_TITLE


async def test_declared_length_over_one_mib_is_413_before_the_body_is_read(
    client: httpx.AsyncClient,
) -> None:
    # given: a small, valid mutation that declares a body of 2 MiB
    body = json.dumps({"query": UPDATE_TITLE, "variables": {"title": "Declared too large"}})
    headers = {
        "Content-Type": "application/json",
        "Content-Length": str(2 * MIB),
        "Authorization": f"Bearer {token()}",
    }
    # when
    response = await send(client, "POST", "/graphql", content=body.encode(), headers=headers)
    # then
    assert response.status_code == 413
    assert await title_of_welcome(client) == SEEDED_TITLE


async def test_body_of_exactly_one_mib_is_served(client: httpx.AsyncClient) -> None:
    # given
    body = padded_request(UPDATE_TITLE, MIB, {"title": "Exactly one MiB"})
    # when
    response = await send(
        client,
        "POST",
        "/graphql",
        content=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token()}"},
    )
    # then
    assert response.status_code == 200
    assert response.json()["data"]["updatePrompt"]["__typename"] == "UpdatePromptSuccess"


async def test_a_ten_mib_streamed_body_is_refused_with_flat_memory(
    client: httpx.AsyncClient,
) -> None:
    # given: 10 MiB sent in 64 KiB chunks, with no Content-Length to refuse it up front
    chunk = b" " * (64 * 1024)
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(160):
            sent += len(chunk)
            yield chunk

    # when
    tracemalloc.start()
    try:
        response = await client.post(
            "/graphql", content=body(), headers={"Content-Type": "application/json"}
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # then: refused after the first MiB, and the whole process never held much more
    assert response.status_code == 413
    assert peak < 3 * MIB, f"peak {peak / MIB:.1f} MiB"
    assert sent <= 2 * MIB, f"read {sent / MIB:.1f} MiB of the body"
