"""What an open stream checks while it lasts: its caller's credential, and its caller's
rate limit for what the stream asks of the server.

A request is authenticated once; a stream lasts for hours. So a stream keeps the key or
token it was opened with (for a stream opened with a ticket: the principal, whose own key
is checked) and checks it again through the one Authenticator, as a request would be
checked: every half key-cache time against key records no older than that (a
key revoked on any node ends the stream within ``key_cache_seconds``, as it ends that
node's requests), and exactly when the credential expires; a stream opened with the
dashboard's session also checks that the session has not ended (signed out). A WebSocket
also checks it on every message it receives. Every such message, and every page of a
replay past the first, takes a token from the caller's bucket, as a request does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from stockline.adapters.authentication import AuthenticationFailed, Authenticator
from stockline.adapters.ratelimit import Decision, RateLimiter
from stockline.domain.security import Principal

log = structlog.get_logger("stockline.events")

CREDENTIAL_REVOKED = ("credential_revoked: this stream's key or token is no longer accepted "
                      "(revoked); open a new stream with a valid one")
CREDENTIAL_EXPIRED = ("credential_expired: this stream's key or token has expired; open a "
                      "new stream with a new one to resume")
SESSION_ENDED = ("credential_revoked: this stream's session has ended (signed out, or its key "
                 "revoked); sign in again to resume")
CREDENTIAL_UNCHECKED = ("unavailable: this stream's credential cannot be checked now; "
                        "reconnect to resume")
MIN_RECHECK_SECONDS = 0.5  # with no key cache at all, a stream still does not spin


class StreamGuard:
    """The credential and the bucket of one open stream's caller."""

    def __init__(self, authenticator: Authenticator, limiter: RateLimiter,
                 credential: str | None, principal: Principal, *,
                 key_cache_seconds: float,
                 session_alive: Callable[[], Awaitable[bool]] | None = None) -> None:
        """``credential``: the key or token to check again; None for a stream opened with
        a ticket or a session (the principal's source is checked instead);
        ``session_alive``: whether the session it was opened with still lasts."""
        self._authenticator, self._limiter = authenticator, limiter
        self._session_alive = session_alive
        self._credential, self.principal = credential, principal
        self._every = max(key_cache_seconds / 2, MIN_RECHECK_SECONDS)

    async def recheck(self, *, max_age: float | None = None) -> str | None:
        """None while the credential is accepted, as a request's would be; else the
        reason the stream ends (``credential_revoked``, ``credential_expired``)."""
        if self._seconds_left() == 0:
            return CREDENTIAL_EXPIRED
        try:
            if self._session_alive is not None and not await self._session_alive():
                return SESSION_ENDED
            if self._credential is None:
                await self._authenticator.confirm(self.principal, max_age=max_age)
            else:
                await self._authenticator.authenticate(self._credential, max_age=max_age)
        except AuthenticationFailed:
            return CREDENTIAL_EXPIRED if self._seconds_left() == 0 else CREDENTIAL_REVOKED
        except Exception:  # the key store is unreachable: fail closed, as a request does
            log.warning("stream_credential_unchecked", principal=self.principal.id,
                        exc_info=True)
            return CREDENTIAL_UNCHECKED
        return None

    async def lapsed(self) -> str:
        """Wait until the credential stops being accepted; the reason the stream ends.

        Checked every half key-cache time with key records no older than that, so a
        revocation anywhere is seen within the cache time; and at the expiry exactly.
        """
        while True:
            left = self._seconds_left()
            await asyncio.sleep(self._every if left is None else min(self._every, left))
            reason = await self.recheck(max_age=self._every)
            if reason is not None:
                return reason

    async def charge(self) -> Decision | None:
        """One token from the caller's bucket, as a request takes (None: not limited)."""
        return await self._limiter.check(self.principal.id, self.principal.role.value)

    def _seconds_left(self) -> float | None:
        expires_at = self.principal.expires_at
        if expires_at is None:
            return None
        return max(0.0, (expires_at - self._authenticator.now()).total_seconds())
