"""The `patchbay` command line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Any

from gateway.cli import admin
from gateway.cli import serve as serve_command
from gateway.cli.admin import ALL_SCOPES
from gateway.settings import Settings, describe_invalid

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
    result: int = args.run(settings, args)
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="patchbay", description=__doc__)
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
        run=admin.print_schema
    )
    _credential_commands(commands)
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
    token.add_argument("--sub", required=True)
    token.add_argument("--org", required=True, help="organization slug or id")
    token.add_argument("--scope", default=ALL_SCOPES)
    token.add_argument("--name")
    token.add_argument("--ttl", type=int, default=3600, help="seconds")
    token.set_defaults(run=admin.print_token)
    apikey = commands.add_parser("apikey", help="organization API keys")
    key_commands = apikey.add_subparsers(required=True, metavar="action")
    create = key_commands.add_parser("create", help="create a key and print its secret once")
    create.add_argument("--org", required=True)
    create.add_argument("--scope", required=True)
    create.add_argument("--name", required=True)
    create.set_defaults(run=admin.create_api_key)
    revoke = key_commands.add_parser("revoke", help="revoke a key by its prefix")
    revoke.add_argument("prefix")
    revoke.set_defaults(run=admin.revoke_api_key)
