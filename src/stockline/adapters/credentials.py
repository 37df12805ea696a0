"""API key secrets and OAuth2 access tokens (JWT): made, stored as hashes, verified.

A key looks like ``sk_<prefix>_<secret>``: the prefix (public, indexed) finds the key, the
secret (256 random bits) is checked against its SHA-256 in constant time. Random secrets of
that length need no slow hash: there is nothing to brute-force.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

KEY_PREFIX = "sk"


@dataclass(frozen=True, slots=True)
class IssuedKey:
    prefix: str
    secret_hash: str
    key: str  # shown once, never stored


def new_api_key() -> IssuedKey:
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    return IssuedKey(prefix=prefix, secret_hash=hash_secret(secret),
                     key=f"{KEY_PREFIX}_{prefix}_{secret}")


def split_api_key(key: str) -> tuple[str, str] | None:
    """(prefix, secret) of a key in our format, or None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def secret_matches(secret: str, secret_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), secret_hash)


class TokenError(Exception):
    """A bearer token that is not valid here: expired, forged, for someone else, ..."""


@dataclass(frozen=True, slots=True)
class TokenClaims:
    subject: str
    role: str | None
    locations: list[str] | None
    issuer: str
    raw: dict[str, Any]
    expires_at: datetime  # when the token stops being accepted: exp, plus the leeway


# How far exp and nbf may be off: the clocks of the issuer and of this server may differ.
DEFAULT_LEEWAY = timedelta(seconds=30)


class TokenIssuer:
    """Signs and checks Stockline's own access tokens: HS256 with a secret, or RS256."""

    def __init__(self, *, issuer: str, audience: str, ttl: timedelta,
                 secret: str | None = None, private_key_pem: bytes | None = None,
                 leeway: timedelta = DEFAULT_LEEWAY) -> None:
        if (secret is None) == (private_key_pem is None):
            raise ValueError("give exactly one of a shared secret (HS256) or an RSA key (RS256)")
        self.issuer, self.audience, self.ttl, self.leeway = issuer, audience, ttl, leeway
        self._secret = secret
        self._private: RSAPrivateKey | None = None
        if private_key_pem is not None:
            loaded = serialization.load_pem_private_key(private_key_pem, password=None)
            if not isinstance(loaded, RSAPrivateKey):
                raise ValueError("the token signing key must be an RSA private key")
            self._private = loaded
        self.algorithm = "RS256" if self._private else "HS256"
        self.key_id = _key_id(self._private.public_key()) if self._private else None

    def issue(self, *, subject: str, role: str, locations: Sequence[str] | None,
              now: datetime) -> tuple[str, int]:
        """A signed token and its lifetime in seconds."""
        claims: dict[str, Any] = {
            "iss": self.issuer, "aud": self.audience, "sub": subject, "role": role,
            "iat": int(now.timestamp()), "nbf": int(now.timestamp()),
            "exp": int((now + self.ttl).timestamp()), "jti": secrets.token_hex(8)}
        if locations is not None:
            claims["locations"] = list(locations)
        key: Any = self._private if self._private is not None else self._secret
        headers = {"kid": self.key_id} if self.key_id else None
        token = jwt.encode(claims, key, algorithm=self.algorithm, headers=headers)
        return token, int(self.ttl.total_seconds())

    def verify(self, token: str) -> TokenClaims:
        key: Any = self._private.public_key() if self._private is not None else self._secret
        return _decode(token, key, [self.algorithm], self.issuer, self.audience, self.leeway)

    def jwks(self) -> dict[str, Any]:
        """The public key set (RS256 only; HS256 has no public key to publish)."""
        if self._private is None:
            return {"keys": []}
        public = self._private.public_key().public_numbers()
        return {"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.key_id,
                          "n": _b64(public.n), "e": _b64(public.e)}]}


class ExternalTokens:
    """Tokens of an external identity provider, checked with the keys its JWKS URL lists."""

    def __init__(self, *, jwks_url: str, issuer: str, audience: str,
                 leeway: timedelta = DEFAULT_LEEWAY) -> None:
        self.issuer, self.audience, self.leeway = issuer, audience, leeway
        self._keys = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300, timeout=5)

    def verify(self, token: str) -> TokenClaims:
        try:
            key = self._keys.get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientError as exc:
            raise TokenError(f"no signing key for this token: {exc}") from exc
        except jwt.InvalidTokenError as exc:
            raise TokenError(str(exc)) from exc
        return _decode(token, key, ["RS256", "ES256", "PS256"], self.issuer, self.audience,
                       self.leeway)


def _decode(token: str, key: Any, algorithms: list[str], issuer: str,
            audience: str, leeway: timedelta) -> TokenClaims:
    # The algorithms are ours to choose, never the token's: "none" and algorithm
    # confusion (an RS key used as an HS secret) are refused here.
    try:
        claims = jwt.decode(token, key, algorithms=algorithms, issuer=issuer,
                            audience=audience, options={"require": ["exp", "iss", "aud", "sub"]},
                            leeway=leeway)
    except jwt.InvalidTokenError as exc:
        raise TokenError(str(exc)) from exc
    locations = claims.get("locations")
    return TokenClaims(subject=str(claims["sub"]), role=claims.get("role"),
                       locations=list(locations) if isinstance(locations, list) else None,
                       issuer=str(claims["iss"]), raw=claims,
                       expires_at=datetime.fromtimestamp(claims["exp"], UTC) + leeway)


def new_rsa_key_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _key_id(public: RSAPublicKey) -> str:
    der = public.public_bytes(serialization.Encoding.DER,
                              serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()[:16]


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
