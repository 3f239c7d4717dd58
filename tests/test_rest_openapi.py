"""The OpenAPI document: generated from the code, committed, served, and true of the live
server (schemathesis, from the committed file, with a valid token and without)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway.rest.openapi import document, dumps
from tests.factories import TEST_SECRET, token
from tests.live_server import Demo, running_demo

ST = str(Path(sys.executable).parent / "st")
# Bounded for CI (~25 s for both runs); deterministic, so every run sends the same cases.
EXAMPLES_PER_OPERATION = 100
# Every check but one: a schema-valid body may still break a rule the document describes
# in words only (trimmed lengths, control characters, unique names), and that is a 400.
EXCLUDED_CHECKS = "positive_data_acceptance"
OPERATIONS = 6  # GET and PATCH on each of the three paths


def test_committed_openapi_matches_the_code(repo_root: Path) -> None:
    committed = (repo_root / "openapi.json").read_text()
    assert committed == dumps(), (
        "openapi.json drifted: run `python -m gateway.rest.openapi > openapi.json`"
    )


async def test_the_document_is_served_at_openapi_json(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == document()


def test_every_operation_documents_its_statuses_and_error_bodies() -> None:
    paths = document()["paths"]
    assert set(paths) == {"/prompts/{id}", "/v1/prompts/{id}", "/v1/guardrails/pools/{id}"}
    for path in paths.values():
        patch = path["patch"]["responses"]
        documented = {"200", "400", "401", "403", "404", "409", "412", "413", "415", "422", "429"}
        documented.add("503")
        assert set(patch) == documented
        assert set(path["get"]["responses"]) == {"200", "304", "401", "403", "404", "429", "503"}
        for status, response in patch.items():
            assert "X-Request-ID" in response["headers"], status
            if status != "200":
                assert "$ref" in response["content"]["application/json"]["schema"]


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    with running_demo(
        tmp_path_factory.mktemp("rest-live"), PATCHBAY_JWT_SECRET=TEST_SECRET
    ) as demo:
        yield demo


@pytest.mark.parametrize("credential", ["valid-token", "none"])
def test_schemathesis_finds_nothing_against_the_live_server(
    live: Demo, repo_root: Path, tmp_path: Path, credential: str
) -> None:
    # given: the committed document, the demo's server, alice's token (or none)
    headers = ["-H", f"Authorization: Bearer {token(ttl=3600)}"] if credential != "none" else []
    # when
    run = subprocess.run(
        [
            ST,
            "run",
            str(repo_root / "openapi.json"),
            "--url",
            live.url,
            *headers,
            "--checks",
            "all",
            "--exclude-checks",
            EXCLUDED_CHECKS,
            "--phases",
            "examples,coverage,fuzzing",  # stateless
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
            "--generation-deterministic",
            "--workers",
            "1",
            "--no-color",
            "--request-timeout",
            "30",
        ],
        cwd=tmp_path,  # its caches and reports stay out of the repository
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    # then: every operation tested, every case passed, and no failure of ours in the log
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    assert f"Tested: {OPERATIONS}" in output, output[-3000:]
    passed = re.search(r"(\d+) generated, (\d+) passed", output)
    assert passed is not None and passed[1] == passed[2] and int(passed[1]) > 300, output[-3000:]
    log = live.log.read_text(errors="replace")
    assert "Traceback" not in log and "unhandled error" not in log, log[-4000:]
