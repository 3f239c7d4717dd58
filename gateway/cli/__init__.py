"""The `patchbay` command line."""

from __future__ import annotations

import argparse
import logging
import socket
import sys
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import DBAPIError

from db.errors import DatabaseUnavailable
from gateway.cli import admin, history, sharing
from gateway.cli import serve as serve_command
from gateway.cli.arguments import ALL_SCOPES, positive_seconds, scopes
from gateway.cli.database_url import database_url_problem, describe
from gateway.cli.listening import CannotListen
from gateway.graphql.graphiql import GraphiQLAssetsError
from gateway.settings import Settings, describe_invalid

# What asyncpg raises, unwrapped, when it cannot connect (refused, unknown host, no answer)
DRIVER_CONNECTION_ERRORS = (ConnectionError, socket.gaierror, TimeoutError)

# What add_subparsers returns: its class is private to argparse, so it goes untyped here.
Commands = Any


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings()
    except ValueError as error:
        print(f"patchbay: invalid settings: {describe_invalid(error)}", file=sys.stderr)
        return 2
    problem = database_url_problem(settings.database_url) if args.uses_database else None
    if problem is not None:
        print(f"patchbay: invalid settings: PATCHBAY_DATABASE_URL: {problem}", file=sys.stderr)
        return 2
    try:
        result: int = args.run(settings, args)
    except CannotListen as error:
        print(f"patchbay: {error}", file=sys.stderr)
        return 2
    except GraphiQLAssetsError as error:
        print(f"patchbay: invalid settings: PATCHBAY_GRAPHIQL_ASSETS: {error}", file=sys.stderr)
        return 2
    except (DatabaseUnavailable, DBAPIError, *DRIVER_CONNECTION_ERRORS) as error:
        print(f"patchbay: {_database_failure(settings, error)}", file=sys.stderr)
        return 1
    return result


def _database_failure(settings: Settings, error: Exception) -> str:
    """One line instead of a driver's traceback."""
    cause = error.__cause__ or error
    detail = (str(cause).splitlines() or [""])[0]
    where = describe(settings.database_url)
    if "no such table" in detail or "UndefinedTable" in type(cause).__name__:
        return f"the database ({where}) has no Patchbay tables: run `patchbay db upgrade` first"
    return f"the database ({where}) failed: {type(cause).__name__}: {detail}".rstrip(": ")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="patchbay", description=__doc__)
    parser.set_defaults(uses_database=True)
    commands = parser.add_subparsers(required=True, metavar="command")
    _serving_commands(commands)
    database = commands.add_parser("db", help="database maintenance")
    db_commands = database.add_subparsers(required=True, metavar="action")
    db_commands.add_parser("upgrade", help="apply migrations").set_defaults(run=admin.db_upgrade)
    db_commands.add_parser("prune", help="remove expired idempotency records").set_defaults(
        run=admin.db_prune
    )
    commands.add_parser("seed", help="load the demo data (idempotent)").set_defaults(
        run=admin.load_demo_data
    )
    commands.add_parser("schema", help="print the GraphQL schema (SDL)").set_defaults(
        run=admin.print_schema, uses_database=False
    )
    _credential_commands(commands)
    sharing.add_commands(commands)
    history.add_commands(commands)
    return parser


def _serving_commands(commands: Commands) -> None:
    serve = commands.add_parser("serve", help="serve the gateway with uvicorn")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.set_defaults(run=serve_command.serve)
    demo = commands.add_parser("demo", help="migrate, seed, print a token for alice, serve")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.set_defaults(run=serve_command.demo)


def _credential_commands(commands: Commands) -> None:
    token = commands.add_parser("token", help="print a JWT signed with the HS256 secret")
    token.add_argument("--sub", required=True, help="the user id")
    token.add_argument("--org", required=True, help="organization slug or id")
    token.add_argument(
        "--scope", type=scopes, default=ALL_SCOPES, help=f"space-separated (default: {ALL_SCOPES})"
    )
    token.add_argument("--name", help="display name")
    token.add_argument(
        "--ttl",
        type=positive_seconds,
        default=3600,
        help="lifetime in seconds (default: 3600, one hour; the demo's token lasts 86400)",
    )
    token.set_defaults(run=admin.print_token)
    apikey = commands.add_parser("apikey", help="organization API keys")
    key_commands = apikey.add_subparsers(required=True, metavar="action")
    create = key_commands.add_parser("create", help="create a key and print its secret once")
    create.add_argument("--org", required=True, help="organization slug or id")
    create.add_argument("--scope", type=scopes, required=True, help=f"of: {ALL_SCOPES}")
    create.add_argument("--name", required=True)
    create.set_defaults(run=admin.create_api_key)
    listing = key_commands.add_parser("list", help="list keys: prefix, name, scopes, state")
    listing.add_argument("--org", help="organization slug or id (default: every organization)")
    listing.set_defaults(run=admin.list_api_keys)
    revoke = key_commands.add_parser("revoke", help="revoke a key by its prefix or whole key")
    revoke.add_argument("key", help="the prefix (am_live_ + 8 characters) or the whole key")
    revoke.set_defaults(run=admin.revoke_api_key)
