"""The dashboard's sessions kept in the database, on SQLite and PostgreSQL: a session lasts
while its row does; signing out deletes its row and no other; an expired session is
refused and its row deleted; revoking a key deletes the rows of every session it signed
in, in the revoking transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from stockline.adapters.database import Database, open_database
from stockline.adapters.sessions import Sessions, SessionSigner, SessionStore
from stockline.adapters.tables import dashboard_sessions
from stockline.adapters.uow import SqlUnitOfWorkFactory
from stockline.domain.security import Principal, Role
from tests.factories import insert_api_key

TTL = timedelta(hours=1)


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


def _sessions(database: Database, clock: Clock) -> Sessions:
    return Sessions(SessionSigner(b"k" * 32, ttl=TTL, clock=clock),
                    SessionStore(database.read, database.write, clock=clock))


async def _rows(database: Database, principal_id: str) -> int:
    async with database.read.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(dashboard_sessions)
                                       .where(dashboard_sessions.c.principal_id
                                              == principal_id))).scalar_one())


def _principal(key_id: str = "key_s") -> Principal:
    return Principal(id=key_id, name="till", role=Role.STORE_STAFF,
                     locations=frozenset({"ST-1"}))


async def test_signing_out_ends_the_session_and_no_other(database: Database) -> None:
    clock = Clock()
    sessions = _sessions(database, clock)
    principal = _principal(f"key_{clock.now.timestamp()}")
    (one, first), (two, _) = (await sessions.begin(principal),
                              await sessions.begin(principal))
    assert await sessions.open(one) == first
    await sessions.end(first)
    assert await sessions.open(one) is None  # the same cookie, signature and all
    assert await sessions.open(two) is not None
    assert await _rows(database, principal.id) == 1


async def test_an_expired_session_is_refused_and_its_row_deleted(database: Database) -> None:
    clock = Clock()
    sessions = _sessions(database, clock)
    principal = _principal(f"key_{clock.now.timestamp()}")
    _, session = await sessions.begin(principal)
    clock.now += TTL
    assert not await sessions.store.alive(session)
    assert await _rows(database, principal.id) == 0
    _, later = await sessions.begin(principal)
    clock.now += TTL
    assert await sessions.store.purge() >= 1
    assert await _rows(database, principal.id) == 0
    clock.now -= TTL
    await sessions.begin(_principal("key_other"))  # signing in forgets the expired rows
    assert not await sessions.store.alive(later)


async def test_revoking_a_key_deletes_the_sessions_it_signed_in(
        database: Database, database_url: str) -> None:
    clock = Clock()
    sessions = _sessions(database, clock)
    key, other = (await insert_api_key(database_url, "manager"),
                  await insert_api_key(database_url, "manager"))
    cookies = [(await sessions.begin(_principal(key.id)))[0] for _ in range(2)]
    kept, _ = await sessions.begin(_principal(other.id))
    async with SqlUnitOfWorkFactory(database.write)() as uow:
        await uow.api_keys.revoke(key.id, clock.now)
        await uow.commit()
    assert [await sessions.open(c) for c in cookies] == [None, None]
    assert await _rows(database, key.id) == 0
    assert await sessions.open(kept) is not None
