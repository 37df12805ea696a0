"""From a credential to a Principal: the admin key, an API key, or a bearer access token."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime

from stockline.adapters.credentials import (
    ExternalTokens,
    TokenError,
    TokenIssuer,
    secret_matches,
    split_api_key,
)
from stockline.adapters.keys import KeyRecord, KeyStore
from stockline.domain.security import PRINCIPAL_TEXT_MAX_LENGTH, Principal, Role

ADMIN = Principal(id="admin", name="admin", role=Role.ADMIN)
EXTERNAL_PREFIX = "ext:"
# An external subject is the principal's name and, prefixed, its id: both must fit.
SUBJECT_MAX_LENGTH = PRINCIPAL_TEXT_MAX_LENGTH - len(EXTERNAL_PREFIX)


class AuthenticationFailed(Exception):
    """No valid credential: the caller gets a 401 and learns nothing more."""


def principal_of(key: KeyRecord, expires_at: datetime | None = None) -> Principal:
    """The key's principal; its credential (the key, or a token of it) stops being
    accepted at the earlier of the key's expiry and ``expires_at``. Keys named before
    names were held to 100 characters act under the first 100."""
    ends = [at for at in (key.expires_at, expires_at) if at is not None]
    return Principal(id=key.id, name=key.name[:PRINCIPAL_TEXT_MAX_LENGTH], role=Role(key.role),
                     locations=frozenset(key.location_ids) if key.location_ids else None,
                     expires_at=min(ends, default=None))


class Authenticator:
    def __init__(self, *, admin_key: str | None, keys: KeyStore,
                 tokens: TokenIssuer | None, external: ExternalTokens | None,
                 clock: Callable[[], datetime], role_claim: str = "role",
                 locations_claim: str = "locations") -> None:
        self._admin = admin_key.encode() if admin_key else None
        self.keys, self.tokens, self._external, self._clock = keys, tokens, external, clock
        self._role_claim, self._locations_claim = role_claim, locations_claim

    async def authenticate(self, credential: str, *, max_age: float | None = None
                           ) -> Principal:
        """The principal of ``credential``; AuthenticationFailed when it is not accepted.
        ``max_age``: use no key record cached longer than that (an open stream checking
        its credential again), else the key cache's own time."""
        if self._admin is not None and hmac.compare_digest(self._admin, credential.encode()):
            return ADMIN
        parts = split_api_key(credential)
        if parts is not None:
            return await self._api_key(*parts, max_age=max_age)
        if credential.count(".") == 2:
            return await self._token(credential, max_age)
        raise AuthenticationFailed("the credential is not valid")

    async def confirm(self, principal: Principal, *, max_age: float | None = None
                      ) -> Principal:
        """``principal`` (of a stream ticket) while what it came from is still accepted:
        the admin key while one is set, an API key (or a token of it) while the key is
        usable; and any of them, external tokens included, until its own expiry (an
        external token is not kept, and cannot be revoked here). AuthenticationFailed
        otherwise."""
        now = self._clock()
        if principal.expires_at is not None and principal.expires_at <= now:
            raise AuthenticationFailed("the credential the ticket was issued to has expired")
        if principal.id == ADMIN.id and principal.role == ADMIN.role:
            if self._admin is None:
                raise AuthenticationFailed("the admin key is no longer accepted")
            return principal
        if principal.id.startswith(EXTERNAL_PREFIX):
            return principal
        key = await self.keys.by_id(principal.id, max_age=max_age)
        if key is None or not key.usable(now):
            raise AuthenticationFailed("the key the ticket was issued to was revoked or "
                                       "has expired")
        return principal

    def now(self) -> datetime:
        return self._clock()

    async def _api_key(self, prefix: str, secret: str, *, max_age: float | None) -> Principal:
        key = await self.keys.by_prefix(prefix, max_age=max_age)
        now = self._clock()
        if key is None or not secret_matches(secret, key.secret_hash) or not key.usable(now):
            raise AuthenticationFailed("the API key is not valid (unknown, revoked or expired)")
        await self.keys.touch(key, now)
        return principal_of(key)

    async def _token(self, token: str, max_age: float | None) -> Principal:
        errors = []
        if self.tokens is not None:
            try:
                claims = self.tokens.verify(token)
            except TokenError as exc:
                errors.append(str(exc))
            else:  # our own token: the key it was issued to must still be usable
                key = await self.keys.by_id(claims.subject, max_age=max_age)
                if key is None or not key.usable(self._clock()):
                    raise AuthenticationFailed("the token's key was revoked or has expired")
                return principal_of(key, claims.expires_at)
        if self._external is not None:
            try:
                claims = self._external.verify(token)
            except TokenError as exc:
                errors.append(str(exc))
            else:
                return self._external_principal(claims.subject, claims.raw,
                                                claims.expires_at)
        raise AuthenticationFailed("the token is not valid: " + ("; ".join(errors) or
                                                                 "tokens are not enabled"))

    def _external_principal(self, subject: str, claims: dict[str, object],
                            expires_at: datetime) -> Principal:
        if not 0 < len(subject) <= SUBJECT_MAX_LENGTH or not subject.isprintable():
            raise AuthenticationFailed(f"the token's subject must be 1-{SUBJECT_MAX_LENGTH} "
                                       "printable characters")
        try:
            role = Role(str(claims.get(self._role_claim)))
        except ValueError as exc:
            raise AuthenticationFailed("the token names no Stockline role") from exc
        locations = claims.get(self._locations_claim)
        scope = (frozenset(str(x) for x in locations) if isinstance(locations, list)
                 else None)
        return Principal(id=f"{EXTERNAL_PREFIX}{subject}", name=subject, role=role,
                         locations=scope, expires_at=expires_at)
