"""Turns an Authorization header into a Principal, or None for any failure."""

from __future__ import annotations

import logging
from typing import Any

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from db.api_keys import find_active_key
from db.database import Database
from gateway.identity import api_keys
from gateway.identity.claims import principal_from_claims
from gateway.identity.jwks import JwksCache
from gateway.identity.token_cache import TokenCache
from gateway.settings import ASYMMETRIC_ALGORITHMS, SYMMETRIC_ALGORITHMS, Settings
from resolvers.principal import Principal, PrincipalKind

log = logging.getLogger("patchbay.auth")
MAX_CREDENTIAL_LENGTH = 8192


class Authenticator:
    """Built once from settings; keys are parsed here, not per request."""

    def __init__(self, settings: Settings, db: Database) -> None:
        self.db = db
        self.org_claim = settings.jwt_org_claim
        self.issuer = settings.jwt_issuer
        self.audience = settings.jwt_audience
        self.leeway = settings.jwt_leeway_seconds
        self.algorithms = settings.algorithms
        self.verified = TokenCache()
        self.secret = settings.hmac_secret
        self.public_key = (
            load_pem_public_key(settings.jwt_public_key.encode())
            if settings.jwt_public_key
            else None
        )
        self.jwks = (
            JwksCache(
                settings.jwks_url,
                refresh=settings.jwks_refresh_seconds,
                min_refetch=settings.jwks_min_refetch_seconds,
                timeout=settings.jwks_timeout_seconds,
                algorithms=ASYMMETRIC_ALGORITHMS.intersection(settings.algorithms),
            )
            if settings.jwks_url
            else None
        )

    async def authenticate(self, authorization: str | None) -> Principal | None:
        credential = _bearer(authorization)
        if credential is None:
            return None
        if credential.startswith(api_keys.KEY_MARK):
            return await self._api_key(credential)
        return await self._jwt(credential)

    async def _api_key(self, credential: str) -> Principal | None:
        if not api_keys.looks_like_key(credential):
            return None
        async with self.db.read() as conn:
            row = await find_active_key(conn, prefix=api_keys.prefix_of(credential))
        if row is None or not api_keys.matches(credential, row.secret_hash):
            return None
        return Principal(
            subject=row.prefix,
            org_id=row.org_id,
            scopes=frozenset(row.scopes),
            name=row.name,
            kind=PrincipalKind.API_KEY,
        )

    async def _jwt(self, token: str) -> Principal | None:
        cached = self.verified.get(token)
        if cached is not None:
            return cached
        try:
            header = jwt.get_unverified_header(token)
            algorithm = header.get("alg")
            if not isinstance(algorithm, str) or algorithm not in self.algorithms:
                return None  # never "none", never an algorithm that is not configured
            keys = await self._keys_for(algorithm, header.get("kid"))
            if not keys:
                return None
            claims = self._verified_claims(token, algorithm, keys)
            principal = principal_from_claims(claims, self.org_claim)
            if principal is not None:
                self.verified.put(token, principal, float(claims["exp"]) + self.leeway)
            return principal
        except (jwt.PyJWTError, ValueError, TypeError, OverflowError) as error:
            log.debug("token refused: %s", type(error).__name__)
            return None

    def _verified_claims(self, token: str, algorithm: str, keys: tuple[Any, ...]) -> Any:
        """The claims, verified with the first key whose signature matches (a JWKS may
        offer several keys for a token without a `kid`); raises as jwt.decode does."""
        for key in keys[:-1]:
            try:
                return self._decode(token, algorithm, key)
            except jwt.InvalidSignatureError:
                continue
        return self._decode(token, algorithm, keys[-1])

    def _decode(self, token: str, algorithm: str, key: Any) -> Any:
        return jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            issuer=self.issuer,
            audience=self.audience,
            leeway=self.leeway,
            options={
                "require": ["exp", "sub", self.org_claim],
                "verify_aud": self.audience is not None,
            },
        )

    async def _keys_for(self, algorithm: str, kid: Any) -> tuple[Any, ...]:
        if algorithm in SYMMETRIC_ALGORITHMS:
            return (self.secret,) if self.secret is not None else ()
        if self.public_key is not None:
            return (self.public_key,)
        if self.jwks is not None and (kid is None or isinstance(kid, str)):
            return await self.jwks.keys(kid, algorithm)  # a kid that is no string: refused
        return ()


def _bearer(authorization: str | None) -> str | None:
    if not authorization or len(authorization) > MAX_CREDENTIAL_LENGTH:
        return None
    scheme, _, credential = authorization.partition(" ")
    credential = credential.strip()
    return credential if scheme.lower() == "bearer" and credential else None
