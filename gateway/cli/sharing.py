"""`patchbay documents manifest` and `patchbay ratelimit`: what sharing one gateway needs."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import math
import sys
from pathlib import Path
from typing import Any

from db.rate_limits import clear_rate_limit, rate_limit_of, set_rate_limit
from gateway.cli.admin import org_id_of, transaction
from gateway.graphql.trusted_documents import MANIFEST_FORMAT, ManifestError, load_manifests
from gateway.settings import Settings
from schema.schema import build_schema
from schema.trusted import check_document

Commands = Any  # argparse's subparsers action: its class is private


def add_commands(commands: Commands) -> None:
    documents = commands.add_parser("documents", help="trusted documents")
    document_commands = documents.add_subparsers(required=True, metavar="action")
    manifest = document_commands.add_parser(
        "manifest",
        help="print an Apollo persisted-query manifest of the operations in .graphql files",
    )
    manifest.add_argument("files", nargs="+", type=Path)
    manifest.set_defaults(run=print_manifest)
    limit = commands.add_parser("ratelimit", help="an organization's own rate limit")
    limit_commands = limit.add_subparsers(required=True, metavar="action")
    set_limit = limit_commands.add_parser("set", help="set an organization's bucket")
    set_limit.add_argument("org", help="organization slug or id")
    set_limit.add_argument("--maximum", type=float, required=True, help="points when full")
    set_limit.add_argument("--restore-rate", type=float, required=True, help="points per second")
    set_limit.set_defaults(run=set_organization_limit)
    show = limit_commands.add_parser("show", help="print an organization's limit")
    show.add_argument("org")
    show.set_defaults(run=show_organization_limit)
    clear = limit_commands.add_parser("clear", help="back to the gateway's default")
    clear.add_argument("org")
    clear.set_defaults(run=clear_organization_limit)


def print_manifest(settings: Settings, args: argparse.Namespace) -> int:
    """One operation per manifest entry; each file's document is checked against the
    schema first, and a file with several operations gives one entry per operation."""
    schema = build_schema()
    operations = []
    for path in args.files:
        try:
            body = path.read_text()
        except OSError as error:
            print(f"patchbay: {path}: {error.strerror}", file=sys.stderr)
            return 1
        checked = check_document(schema, body, max_tokens=settings.max_tokens)
        if checked.errors:
            print(f"patchbay: {path}: {checked.errors[0]}", file=sys.stderr)
            return 1
        digest = hashlib.sha256(body.encode()).hexdigest()
        for name, kind in checked.operations:
            operations.append({"id": digest, "name": name, "type": kind, "body": body})
    print(json.dumps({"format": MANIFEST_FORMAT, "version": 1, "operations": operations}, indent=2))
    return 0


def manifest_refusal(settings: Settings) -> str | None:
    """Why the configured manifests cannot be trusted (checked before serving), or None."""
    if not settings.trusted_document_paths:
        return None
    try:
        load_manifests(
            settings.trusted_document_paths,
            policy=settings.trusted_documents_policy,
            schema=build_schema(),
            planned=None,
            max_tokens=settings.max_tokens,
        )
    except ManifestError as error:
        return str(error)
    return None


def set_organization_limit(settings: Settings, args: argparse.Namespace) -> int:
    if not (_positive(args.maximum) and _positive(args.restore_rate)):
        print("patchbay: --maximum and --restore-rate must be positive numbers", file=sys.stderr)
        return 2

    async def store() -> None:
        org_id = await org_id_of(settings, args.org)
        async with transaction(settings) as conn:
            await set_rate_limit(
                conn, org_id=org_id, maximum=args.maximum, restore_rate=args.restore_rate
            )

    return _run(store(), f"{args.org}: {args.maximum:g} points, {args.restore_rate:g} per second")


def show_organization_limit(settings: Settings, args: argparse.Namespace) -> int:
    async def read() -> str:
        org_id = await org_id_of(settings, args.org)
        async with transaction(settings) as conn:
            found = await rate_limit_of(conn, org_id=org_id)
        if found is None:
            return (
                f"{args.org}: the default ({settings.rate_limit_maximum:g} points, "
                f"{settings.rate_limit_restore_rate:g} per second)"
            )
        return f"{args.org}: {found[0]:g} points, {found[1]:g} per second"

    try:
        print(asyncio.run(read()))
    except LookupError as error:
        print(f"patchbay: {error}", file=sys.stderr)
        return 1
    return 0


def clear_organization_limit(settings: Settings, args: argparse.Namespace) -> int:
    async def clear() -> None:
        org_id = await org_id_of(settings, args.org)
        async with transaction(settings) as conn:
            await clear_rate_limit(conn, org_id=org_id)

    return _run(clear(), f"{args.org}: the default limit applies")


def _run(work: Any, done: str) -> int:
    try:
        asyncio.run(work)
    except LookupError as error:
        print(f"patchbay: {error}", file=sys.stderr)
        return 1
    print(done)
    return 0


def _positive(value: float) -> bool:
    return math.isfinite(value) and value > 0
