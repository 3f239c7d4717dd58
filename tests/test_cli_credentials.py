"""An operator makes credentials with the command line: `patchbay token` signs a token the
gateway accepts, `patchbay apikey create / revoke` manage API keys."""

from __future__ import annotations

import asyncio
import shlex

import httpx
import pytest

from db.database import Database
from gateway.cli import main
from gateway.identity.api_keys import prefix_of
from tests.credentials import ACME_ORG, GLOBEX_ORG, REFUSED, dump_database, viewer_with
from tests.factories import ALL_SCOPES, ORGS, TEST_SECRET

pytestmark = pytest.mark.usefixtures("no_patchbay_environment")


async def run_cli(capsys: pytest.CaptureFixture[str], command: str) -> tuple[int, str, str]:
    """`patchbay COMMAND` in a thread (it runs its own event loop): exit code, stdout, stderr."""
    capsys.readouterr()
    code = await asyncio.to_thread(main, shlex.split(command))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def cli_environment(
    no_patchbay_environment: None, monkeypatch: pytest.MonkeyPatch, database_url: str, db: Database
) -> None:
    """The CLI's settings: this database and the test secret, set after a developer's
    PATCHBAY_* variables are hidden."""
    monkeypatch.setenv("PATCHBAY_DATABASE_URL", database_url)
    monkeypatch.setenv("PATCHBAY_JWT_SECRET", TEST_SECRET)


@pytest.mark.usefixtures("cli_environment")
async def test_a_cli_token_is_accepted_for_its_user_and_organization(
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
        # every scope, graphql:freeform included: the CLI's tokens are for people
        "scopes": sorted([*ALL_SCOPES.split(), "graphql:freeform"]),
        "organization": ACME_ORG,
    }


@pytest.mark.usefixtures("cli_environment")
async def test_a_cli_token_carries_the_org_id_scope_and_name_given(
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
async def test_the_cli_refuses_a_negative_ttl_instead_of_signing_an_expired_token(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # when
    with pytest.raises(SystemExit) as refused:
        await run_cli(capsys, "token --sub alice --org acme --ttl -60")
    # then
    assert refused.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "--ttl: -60 is not a positive number of seconds" in captured.err


@pytest.mark.usefixtures("cli_environment")
async def test_the_cli_makes_no_token_for_an_unknown_organization(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # when
    code, out, err = await run_cli(capsys, "token --sub alice --org initech")
    # then
    assert (code, out) == (1, "")
    assert "no organization 'initech'" in err


@pytest.mark.usefixtures("cli_environment")
async def test_a_cli_made_api_key_works_until_the_cli_revokes_it(
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
