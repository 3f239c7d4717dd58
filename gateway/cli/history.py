"""`patchbay history prune`: retention of the history, for those who want one (unbounded
by default)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from db import history
from db.database import Database
from gateway.settings import Settings

Commands = Any  # argparse's subparsers action: its class is private


def add_commands(commands: Commands) -> None:
    entries = commands.add_parser("history", help="version history of prompts and pools")
    actions = entries.add_subparsers(required=True, metavar="action")
    prune = actions.add_parser("prune", help="remove history entries older than some days")
    prune.add_argument(
        "--older-than", type=_days, required=True, metavar="DAYS", help="age in days (> 0)"
    )
    prune.set_defaults(run=prune_history)


def _days(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days: {text!r}") from None
    if not days > 0 or days == float("inf"):
        raise argparse.ArgumentTypeError("DAYS must be a positive number")
    return days


def prune_history(settings: Settings, args: argparse.Namespace) -> int:
    async def prune() -> int:
        db = Database(settings.database_url)
        try:
            before = datetime.now(UTC) - timedelta(days=args.older_than)
            return await history.prune(db, before=before)
        finally:
            await db.dispose()

    print(f"{asyncio.run(prune())} history entries removed", file=sys.stderr)
    return 0
