"""A newcomer's first commands: each mistake is one line that says what to write, never a
traceback; the demo binds its port before it prints anything."""

from __future__ import annotations

import asyncio
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from db.database import Database
from gateway.cli import main
from tests.credentials import REFUSED, viewer_with
from tests.factories import TEST_SECRET
from tests.live_server import PATCHBAY, REPO

pytestmark = pytest.mark.usefixtures("no_patchbay_environment")


def run(capsys: pytest.CaptureFixture[str], command: str) -> tuple[int, str, str]:
    """`patchbay COMMAND` in this process: exit code (argparse's too), stdout, stderr."""
    capsys.readouterr()
    try:
        code = main(shlex.split(command))
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def run_async(capsys: pytest.CaptureFixture[str], command: str) -> tuple[int, str, str]:
    return await asyncio.to_thread(run, capsys, command)


# --- the demo's port -----------------------------------------------------------------------


def test_a_taken_port_is_the_demos_only_message_and_nothing_is_done(tmp_path: Path) -> None:
    # given: something already listens on the port
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        # when
        demo = subprocess.run(
            [PATCHBAY, "demo", "--port", str(port)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        )
    # then: one line, before the banner, the token or any migration
    assert demo.returncode == 2
    assert demo.stdout == ""
    assert demo.stderr.strip().splitlines() == [
        f"patchbay: cannot listen on 127.0.0.1:{port}: address already in use; "
        "pick a free one with --port"
    ]
    assert not (tmp_path / "patchbay.db").exists()


# --- the database URL ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql://patchbay:pw@db/patchbay", "write postgresql+asyncpg://…, not postgresql://"),
        ("postgres://patchbay@db/patchbay", "write postgresql+asyncpg://…, not postgres://"),
        ("postgresql+psycopg://u@db/p", "write postgresql+asyncpg://…, not postgresql+psycopg://"),
        ("sqlite:///patchbay.db", "write sqlite+aiosqlite:///…, not sqlite:///"),
        ("mysql://u@db/p", "mysql is not supported; write postgresql+asyncpg://"),
        ("patchbay.db", "not a database URL; write postgresql+asyncpg://"),
    ],
)
@pytest.mark.parametrize("command", ["db upgrade", "seed", "token --sub a --org acme", "serve"])
def test_a_wrong_database_url_is_one_line_saying_what_to_write(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    url: str,
    says: str,
    command: str,
) -> None:
    monkeypatch.setenv("PATCHBAY_DATABASE_URL", url)
    code, out, err = run(capsys, command)
    assert (code, out) == (2, "")
    assert err.startswith("patchbay: invalid settings: PATCHBAY_DATABASE_URL: ")
    assert says in err
    assert len(err.strip().splitlines()) == 1
    assert "pw" not in err  # never the password


def test_a_sqlite_file_in_a_missing_directory_is_named(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATCHBAY_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/nowhere/x.db")
    code, _, err = run(capsys, "db upgrade")
    assert code == 2
    assert f"the SQLite file's directory {tmp_path / 'nowhere'} does not exist" in err


def test_a_relative_sqlite_path_is_printed_absolute(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # given: the default kind of URL, relative to the working directory
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATCHBAY_DATABASE_URL", "sqlite+aiosqlite:///./relative.db")
    # when
    code, _, err = run(capsys, "db upgrade")
    # then
    assert code == 0
    assert f"patchbay: migrating SQLite file {tmp_path / 'relative.db'}" in err
    assert (tmp_path / "relative.db").exists()


def test_an_unreachable_database_is_one_line_without_the_password(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # nothing listens on port 9 (discard)
    monkeypatch.setenv("PATCHBAY_DATABASE_URL", "postgresql+asyncpg://u:hunter2@127.0.0.1:9/p")
    code, out, err = run(capsys, "db upgrade")
    assert (code, out) == (1, "")
    lines = err.strip().splitlines()
    assert lines[-1].startswith(
        "patchbay: the database (postgresql+asyncpg://u:***@127.0.0.1:9/p) failed: "
    )
    assert "Traceback" not in err
    assert "hunter2" not in err


def test_a_database_without_tables_says_to_migrate(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATCHBAY_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/empty.db")
    code, _, err = run(capsys, "token --sub alice --org acme")
    assert code == 1
    assert "has no Patchbay tables: run `patchbay db upgrade` first" in err
    assert "Traceback" not in err


# --- tokens and API keys -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (
            "token --sub a --org acme --scope prompts:read,prompts:write",
            "scopes are separated by spaces, not commas: --scope 'prompts:read prompts:write'",
        ),
        (
            "token --sub a --org acme --scope 'prompts:reed'",
            "unknown scope 'prompts:reed'; known scopes: prompts:read prompts:write "
            "org:admin:read org:admin:write",
        ),
        ("token --sub a --org acme --scope ''", "give at least one scope"),
        ("token --sub a --org acme --ttl -60", "--ttl: -60 is not a positive number of seconds"),
        ("token --sub a --org acme --ttl 0", "--ttl: 0 is not a positive number of seconds"),
        ("token --sub a --org acme --ttl 1h", "--ttl: '1h' is not a whole number of seconds"),
        (
            "apikey create --org acme --name ci --scope prompts:read,prompts:write",
            "scopes are separated by spaces, not commas",
        ),
        ("apikey create --org acme --name ci --scope admin", "unknown scope 'admin'"),
    ],
)
def test_bad_credential_arguments_are_refused_before_anything_is_made(
    capsys: pytest.CaptureFixture[str], arguments: str, says: str
) -> None:
    code, out, err = run(capsys, arguments)
    assert (code, out) == (2, "")
    assert says in err


def test_token_help_shows_the_defaults_and_the_demos_different_ttl(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys, "token --help")
    assert code == 0
    flat = " ".join(out.split())
    assert (
        "(default: prompts:read prompts:write org:admin:read org:admin:write graphql:freeform)"
        in flat
    )
    assert "(default: 3600, one hour; the demo's token lasts 86400)" in flat


@pytest.fixture
def cli_database(
    no_patchbay_environment: None, monkeypatch: pytest.MonkeyPatch, database_url: str, db: Database
) -> None:
    """The CLI on the test database (migrated and seeded by `db`)."""
    monkeypatch.setenv("PATCHBAY_DATABASE_URL", database_url)
    monkeypatch.setenv("PATCHBAY_JWT_SECRET", TEST_SECRET)


@pytest.mark.usefixtures("cli_database")
async def test_apikey_list_shows_each_key_without_its_secret(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # given
    _, acme_key, _ = await run_async(
        capsys, "apikey create --org acme --scope prompts:read --name ci"
    )
    _, globex_key, _ = await run_async(
        capsys, "apikey create --org globex --scope 'org:admin:read' --name billing"
    )
    await run_async(capsys, f"apikey revoke {globex_key.strip()}")
    # when
    code, everything, err = await run_async(capsys, "apikey list")
    assert code == 0, err
    _, acme_only, _ = await run_async(capsys, "apikey list --org acme")
    # then
    assert code == 0
    rows = {line.split("\t")[0]: line.split("\t") for line in everything.splitlines()[1:]}
    acme_prefix, globex_prefix = acme_key.strip()[:16], globex_key.strip()[:16]
    assert rows[acme_prefix][2:4] == ["ci", "prompts:read"]
    assert rows[acme_prefix][5] == "active"
    assert rows[globex_prefix][2:4] == ["billing", "org:admin:read"]
    assert rows[globex_prefix][5].startswith("revoked ")
    assert acme_prefix in acme_only and globex_prefix not in acme_only
    assert acme_key.strip() not in everything  # the secret is never shown again


@pytest.mark.usefixtures("cli_database")
async def test_apikey_revoke_accepts_the_whole_key(
    client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    # given: a key that works
    _, key, _ = await run_async(capsys, "apikey create --org acme --scope prompts:read --name ci")
    key = key.strip()
    assert (await viewer_with(client, key))["__typename"] == "Viewer"
    # when: the operator pastes the whole key
    code, _, err = await run_async(capsys, f"apikey revoke {key}")
    # then
    assert code == 0
    assert f"revoked {key[:16]}" in err
    assert key not in err
    assert await viewer_with(client, key) == REFUSED


# --- dev.py --------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["--help", "-h", "help"])
def test_dev_py_help_exits_zero(flag: str) -> None:
    shown = subprocess.run(
        [sys.executable, "dev.py", flag], cwd=REPO, capture_output=True, text=True, timeout=30
    )
    assert shown.returncode == 0
    assert "python3 dev.py demo" in shown.stdout


def test_dev_py_refuses_an_unknown_action_with_its_usage() -> None:
    shown = subprocess.run(
        [sys.executable, "dev.py", "deploy"], cwd=REPO, capture_output=True, text=True, timeout=30
    )
    assert shown.returncode == 2
    assert "python3 dev.py demo" in shown.stderr


def test_a_graphiql_assets_directory_that_is_not_there_is_one_line(tmp_path: Path) -> None:
    # when
    demo = subprocess.run(
        [PATCHBAY, "demo", "--port", "0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "PATCHBAY_GRAPHIQL_ASSETS": str(tmp_path / "missing"),
        },
    )
    # then: refused before the banner, in one line naming the setting
    assert demo.returncode == 2
    assert "Authorization" not in demo.stdout
    assert "Traceback" not in demo.stderr
    last = demo.stderr.strip().splitlines()[-1]
    assert last == (
        f"patchbay: invalid settings: PATCHBAY_GRAPHIQL_ASSETS: {tmp_path / 'missing'} is not "
        "a directory: run `npm ci` in clients/graphiql and point PATCHBAY_GRAPHIQL_ASSETS at "
        "its node_modules"
    )
