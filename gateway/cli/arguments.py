"""Command-line values checked where they are read: a mistake is one line, not a bad token."""

from __future__ import annotations

import argparse

from resolvers.access import (
    ADMIN_READ,
    ADMIN_WRITE,
    GRAPHQL_FREEFORM,
    PROMPTS_READ,
    PROMPTS_WRITE,
)

# graphql:freeform last, and in the defaults: the CLI's tokens are for people and operators
KNOWN_SCOPES = (PROMPTS_READ, PROMPTS_WRITE, ADMIN_READ, ADMIN_WRITE, GRAPHQL_FREEFORM)
ALL_SCOPES = " ".join(KNOWN_SCOPES)


def scopes(value: str) -> str:
    """Space-separated known scopes, as tokens carry them."""
    if "," in value:
        spaced = " ".join(s for s in value.replace(",", " ").split())
        raise argparse.ArgumentTypeError(
            f"scopes are separated by spaces, not commas: --scope {spaced!r}"
        )
    given = value.split()
    if not given:
        raise argparse.ArgumentTypeError(f"give at least one scope of: {ALL_SCOPES}")
    unknown = [s for s in given if s not in KNOWN_SCOPES]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown scope {' '.join(unknown)!r}; known scopes: {ALL_SCOPES}"
        )
    return " ".join(dict.fromkeys(given))


def positive_seconds(value: str) -> int:
    try:
        seconds = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number of seconds") from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number of seconds")
    return seconds
