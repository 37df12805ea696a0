"""Browser sessions of the dashboard: a signed cookie that stands in for the API key.

Signing in trades a credential for a session cookie. The cookie carries the principal the
credential authenticated as (role, locations, the credential's own expiry), the session's
expiry and a random nonce, signed with HMAC-SHA256 under a server secret; nothing of the
credential itself. The session also has a row in the database (the SHA-256 of its nonce,
its key's id, its expiry), so that it can end before its time: signing out deletes the
row, and revoking a key deletes the rows of its sessions in the revoking transaction.

Each request with the cookie checks the signature and the expiry (no database read for a
cookie that is not ours), then looks the row up by its primary key (one indexed read, not
cached: a deletion on any node ends the session on every node at the next request), then
asks ``Authenticator.confirm`` (as a stream ticket does) whether what the principal came
from is still accepted. An expired row met on the way is deleted; signing in deletes
every expired row, and a periodic job does too.

The CSRF token is derived from the nonce with the same secret, so the server keeps no
state for it; a write made with the cookie must send it back in a header, which a page of
another origin cannot read or set.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from stockline.adapters.tables import dashboard_sessions
from stockline.domain.security import Principal, Role

MAX_COOKIE_LENGTH = 4096  # longer is no cookie of ours, and is not verified


@dataclass(frozen=True, slots=True)
class Session:
    principal: Principal
    expires_at: datetime
    csrf_token: str
    digest: str  # the key of its row: the SHA-256 of its nonce


class SessionSigner:
    def __init__(self, secret: bytes, *, ttl: timedelta,
                 clock: Callable[[], datetime]) -> None:
        self._secret, self.ttl, self._clock = secret, ttl, clock

    def issue(self, principal: Principal) -> tuple[str, Session]:
        """A new session of ``principal``: the cookie's value, and what it stands for. It
        ends at the earlier of the session's time and the credential's own expiry."""
        ends = self._clock() + self.ttl
        if principal.expires_at is not None:
            ends = min(ends, principal.expires_at)
        nonce = secrets.token_urlsafe(16)
        payload = {"p": principal.id, "n": principal.name, "r": principal.role.value,
                   "l": sorted(principal.locations) if principal.locations is not None
                   else None,
                   "c": principal.expires_at.isoformat() if principal.expires_at else None,
                   "e": ends.isoformat(), "x": nonce}
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        value = f"{body}.{_b64(self._mac(b'session.' + body.encode()))}"
        return value, Session(principal, ends, self._csrf(nonce), _digest(nonce))

    def open(self, value: str) -> Session | None:
        """The session of a cookie's value: None when it is not ours, altered or expired."""
        body, _, mac = value.partition(".")
        if len(value) > MAX_COOKIE_LENGTH or not body or not mac:
            return None
        expected = _b64(self._mac(b"session." + body.encode()))
        if not hmac.compare_digest(expected, mac):
            return None
        try:
            payload = json.loads(_unb64(body))
            ends = datetime.fromisoformat(payload["e"])
            principal = Principal(
                id=payload["p"], name=payload["n"], role=Role(payload["r"]),
                locations=frozenset(payload["l"]) if payload["l"] is not None else None,
                expires_at=datetime.fromisoformat(payload["c"]) if payload["c"] else None)
        except (ValueError, KeyError, TypeError):
            return None
        if ends <= self._clock():
            return None
        return Session(principal, ends, self._csrf(payload["x"]), _digest(payload["x"]))

    def _csrf(self, nonce: str) -> str:
        return _b64(self._mac(b"csrf." + nonce.encode()))

    def _mac(self, message: bytes) -> bytes:
        return hmac.new(self._secret, message, hashlib.sha256).digest()


class SessionStore:
    """The rows of the sessions that last (read one by its key, write through ``write``)."""

    def __init__(self, read: AsyncEngine, write: AsyncEngine, *,
                 clock: Callable[[], datetime]) -> None:
        self._read, self._write, self._clock = read, write, clock

    async def keep(self, session: Session) -> None:
        """Keep a new session's row (and forget the expired ones meanwhile)."""
        now = self._clock()
        async with self._write.begin() as conn:
            await conn.execute(delete(dashboard_sessions)
                               .where(dashboard_sessions.c.expires_at <= now))
            await conn.execute(insert(dashboard_sessions).values(
                digest=session.digest, principal_id=session.principal.id,
                expires_at=session.expires_at, created_at=now))

    async def alive(self, session: Session) -> bool:
        """Whether the session's row is there and has not expired (an expired one is
        deleted)."""
        async with self._read.connect() as conn:
            ends = (await conn.execute(select(dashboard_sessions.c.expires_at).where(
                dashboard_sessions.c.digest == session.digest))).scalar()
        if ends is None:
            return False
        if ends <= self._clock():
            await self.end(session)
            return False
        return True

    async def end(self, session: Session) -> None:
        async with self._write.begin() as conn:
            await conn.execute(delete(dashboard_sessions)
                               .where(dashboard_sessions.c.digest == session.digest))

    async def purge(self) -> int:
        """Delete the expired rows; how many there were."""
        async with self._write.begin() as conn:
            done = await conn.execute(delete(dashboard_sessions)
                                      .where(dashboard_sessions.c.expires_at <= self._clock()))
        return int(done.rowcount or 0)


class Sessions:
    """Signed cookies checked against their rows: what the entrypoints use."""

    def __init__(self, signer: SessionSigner, store: SessionStore) -> None:
        self.signer, self.store = signer, store

    async def begin(self, principal: Principal) -> tuple[str, Session]:
        """A new session of ``principal``, kept: the cookie's value and the session."""
        value, session = self.signer.issue(principal)
        await self.store.keep(session)
        return value, session

    async def open(self, value: str) -> Session | None:
        """The session of a cookie's value: None when it is not ours, altered, expired,
        signed out or ended with its key."""
        session = self.signer.open(value)
        if session is None or not await self.store.alive(session):
            return None
        return session

    async def end(self, session: Session) -> None:
        await self.store.end(session)


def csrf_matches(session: Session, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(session.csrf_token.encode(),
                                                     given.encode())


def _digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
