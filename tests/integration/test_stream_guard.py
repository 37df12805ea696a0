"""A stream's guard checks its credential as a request would, on SQLite and PostgreSQL:
through the one Authenticator, with key records no older than it asks for, and ending at
the moment the credential stops being accepted (a token: its ``exp`` plus the leeway)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import update

from stockline.adapters.authentication import Authenticator
from stockline.adapters.credentials import TokenIssuer
from stockline.adapters.database import Database, open_database
from stockline.adapters.keys import KeyStore
from stockline.adapters.ratelimit import RateLimiter
from stockline.adapters.tables import api_keys
from stockline.domain.security import Principal
from stockline.entrypoints.http.streams.guard import (
    CREDENTIAL_EXPIRED,
    CREDENTIAL_REVOKED,
    StreamGuard,
)
from tests.factories import insert_api_key

SECRET = "hs256-signing-secret-for-tests-0123456789abcdef"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    database = open_database(database_url)
    try:
        yield database
    finally:
        await database.dispose()


def _guard(authenticator: Authenticator, credential: str,
           principal: Principal) -> StreamGuard:
    limiter = RateLimiter(per_role={}, burst_seconds=1.0, own_limit=lambda _: None)
    return StreamGuard(authenticator, limiter, credential, principal, key_cache_seconds=300)


async def test_a_token_stream_ends_when_the_token_stops_being_accepted(
        database: Database, database_url: str) -> None:
    clock = Clock()
    leeway = timedelta(seconds=7)  # the configured one, not a default
    tokens = TokenIssuer(issuer="stockline", audience="stockline-api",
                         ttl=timedelta(minutes=5), secret=SECRET, leeway=leeway)
    authenticator = Authenticator(admin_key=None, keys=KeyStore(database.read, database.write,
                                                                ttl=300),
                                  tokens=tokens, external=None, clock=clock)
    key = await insert_api_key(database_url, "partner")
    token, lifetime = tokens.issue(subject=key.id, role="partner", locations=None,
                                   now=clock.now)
    principal = await authenticator.authenticate(token)
    ends = principal.expires_at
    assert ends is not None
    assert abs(ends - (clock.now + timedelta(seconds=lifetime) + leeway)) < timedelta(seconds=1)
    guard = _guard(authenticator, token, principal)
    assert await guard.recheck() is None
    clock.now = ends - timedelta(seconds=1)
    assert await guard.recheck() is None
    clock.now = ends
    assert await guard.recheck() == CREDENTIAL_EXPIRED


async def test_a_recheck_with_a_max_age_reads_the_key_again(
        database: Database, database_url: str) -> None:
    """A key cache of five minutes: a request would trust the cached key that long; the
    guard asks for a record no older than its own interval and sees the revocation."""
    authenticator = Authenticator(admin_key=None, keys=KeyStore(database.read, database.write,
                                                                ttl=300),
                                  tokens=None, external=None, clock=Clock())
    key = await insert_api_key(database_url, "manager")
    guard = _guard(authenticator, key.key, await authenticator.authenticate(key.key))
    async with database.write.begin() as conn:  # revoked by another node
        await conn.execute(update(api_keys).where(api_keys.c.id == key.id)
                           .values(revoked_at=datetime.now(UTC)))
    assert await guard.recheck() is None  # the cached record, as a request would see it
    assert await guard.recheck(max_age=0.0) == CREDENTIAL_REVOKED
    assert await guard.recheck() == CREDENTIAL_REVOKED  # the cache holds the news now
