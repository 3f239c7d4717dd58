"""Credentials in, a Principal out: JWTs (secret, public key, JWKS) and API keys."""
