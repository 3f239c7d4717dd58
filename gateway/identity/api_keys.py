"""Organization API keys: `am_live_` + a random secret, stored as prefix + SHA-256."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

KEY_MARK = "am_live_"
PREFIX_CHARS = 8  # of the secret, shown in listings and used to find the key
_SECRET_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass(frozen=True)
class NewKey:
    secret: str  # shown once, never stored
    prefix: str
    secret_hash: str


def generate_key() -> NewKey:
    secret = KEY_MARK + secrets.token_urlsafe(32)
    return NewKey(secret=secret, prefix=prefix_of(secret), secret_hash=hash_key(secret))


def looks_like_key(credential: str) -> bool:
    body = credential[len(KEY_MARK) :]
    return (
        credential.startswith(KEY_MARK)
        and PREFIX_CHARS < len(body) <= 128
        and _SECRET_ALPHABET.issuperset(body)
    )


def prefix_of(key: str) -> str:
    return key[: len(KEY_MARK) + PREFIX_CHARS]


def hash_key(key: str) -> str:
    # A 256-bit random secret needs no slow hash: SHA-256 cannot be brute-forced back.
    return hashlib.sha256(key.encode()).hexdigest()


def matches(key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_key(key), stored_hash)
