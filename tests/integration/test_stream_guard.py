"""A stream's guard checks its credential as a request would, on SQLite and PostgreSQL:
through the one Authenticator, with key records no older than it asks for, and ending at
the moment the credential stops being accepted (a token: its ``exp`` plus the leeway).

Stream tickets: each redeemed once however many redeem it at the same time, none after
its expiry, each with its principal whole; a ticket's stream checks the key it came from."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from stockline.adapters.authentication import ADMIN, Authenticator
from stockline.adapters.credentials import TokenIssuer
from stockline.adapters.database import Database, open_database
from stockline.adapters.keys import KeyStore
from stockline.adapters.ratelimit import RateLimiter
from stockline.adapters.tables import api_keys, stream_tickets
from stockline.adapters.tickets import TicketStore
from stockline.domain.security import Principal, Role
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


def _guard(authenticator: Authenticator, credential: str | None,
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
    await _revoke(database, key.id)  # by another node
    assert await guard.recheck() is None  # the cached record, as a request would see it
    assert await guard.recheck(max_age=0.0) == CREDENTIAL_REVOKED
    assert await guard.recheck() == CREDENTIAL_REVOKED  # the cache holds the news now


# -- stream tickets ----------------------------------------------------------------------

SCOPED = Principal(id="key_scoped", name="till 4", role=Role.STORE_STAFF,
                   locations=frozenset({"S1", "S2"}),
                   expires_at=datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC))


async def test_a_ticket_is_redeemed_once_whoever_races_for_it(database: Database) -> None:
    tickets = TicketStore(database.write, clock=Clock())
    issued = await tickets.issue(SCOPED)
    assert issued.expires_in == 60 and issued.ticket.startswith("tk_")
    found = await asyncio.gather(*(tickets.redeem(issued.ticket) for _ in range(8)))
    winners = [p for p in found if p is not None]
    assert winners == [SCOPED]  # role and locations carried
    assert winners[0].expires_at == SCOPED.expires_at
    assert await tickets.redeem(issued.ticket) is None


async def test_a_ticket_is_refused_after_its_expiry_and_then_forgotten(
        database: Database) -> None:
    clock = Clock()
    tickets = TicketStore(database.write, clock=clock)
    late, kept = await tickets.issue(SCOPED), await tickets.issue(ADMIN)
    clock.now += timedelta(seconds=59)
    assert await tickets.redeem(kept.ticket) == ADMIN
    clock.now += timedelta(seconds=1)
    assert await tickets.redeem(late.ticket) is None  # exactly at its expiry
    stale = await tickets.issue(SCOPED)
    clock.now += timedelta(seconds=61)
    await tickets.issue(SCOPED)  # a new ticket sweeps out the expired ones
    async with database.read.connect() as conn:
        left = await conn.scalar(select(func.count()).select_from(stream_tickets).where(
            stream_tickets.c.expires_at <= clock.now))
    assert left == 0
    assert await tickets.redeem(stale.ticket) is None


async def test_a_ticket_stream_checks_the_key_it_came_from(database: Database,
                                                           database_url: str) -> None:
    clock = Clock()
    keys = KeyStore(database.read, database.write, ttl=300)
    authenticator = Authenticator(admin_key=None, keys=keys, tokens=None, external=None,
                                  clock=clock)
    key = await insert_api_key(database_url, "manager")
    guard = _guard(authenticator, None, await authenticator.authenticate(key.key))
    assert await guard.recheck() is None
    await _revoke(database, key.id)
    assert await guard.recheck(max_age=0.0) == CREDENTIAL_REVOKED
    # The admin key (none is set here), and an external token's principal at its expiry.
    assert await _guard(authenticator, None, ADMIN).recheck() == CREDENTIAL_REVOKED
    external = Principal(id="ext:someone", name="someone", role=Role.PARTNER,
                         expires_at=clock.now + timedelta(seconds=30))
    assert await _guard(authenticator, None, external).recheck() is None
    clock.now += timedelta(seconds=30)
    assert await _guard(authenticator, None, external).recheck() == CREDENTIAL_EXPIRED


async def _revoke(database: Database, key_id: str) -> None:
    async with database.write.begin() as conn:
        await conn.execute(update(api_keys).where(api_keys.c.id == key_id)
                           .values(revoked_at=datetime.now(UTC)))
