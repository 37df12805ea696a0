"""Positions (the tokens of read-your-writes) and where the read router sends a read."""

from __future__ import annotations

import asyncio
import contextvars
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from stockline.adapters.database import open_replica, replica_name
from stockline.adapters.positions import (
    BadPosition,
    CommitPositions,
    format_position,
    parse_position,
)
from stockline.adapters.replicas import (
    ReadRouter,
    Replica,
    ReplicaRead,
    Seen,
    current_read,
    lag_of,
    mark_replica_read,
    replica_reads,
)
from stockline.config import Settings
from tests.conftest import free_port

NOWHERE = "postgresql+asyncpg://postgres@127.0.0.1:{port}/none"


# -- tokens ------------------------------------------------------------------------------

@pytest.mark.parametrize(("token", "lsn"), [
    ("0/0", 0), ("0/16B3748", 0x16B3748), ("16/B374D848", 0x16 << 32 | 0xB374D848),
    ("FFFFFFFF/FFFFFFFF", 2**64 - 1), ("a/b", 0xA << 32 | 0xB)])
def test_a_token_is_the_lsn_and_orders_as_the_wal_does(token: str, lsn: int) -> None:
    assert parse_position(token) == lsn
    assert parse_position(format_position(lsn)) == lsn


def test_positions_compare_by_their_place_in_the_wal_not_as_text() -> None:
    assert parse_position("0/FFFFFFFF") < parse_position("1/0")
    assert parse_position("9/0") < parse_position("10/0")  # "10/0" < "9/0" as text


@pytest.mark.parametrize("token", [
    "", "/", "0/", "/0", "0", "0/0/0", "G/0", "0/-1", "100000000/0", "0/100000000",
    "0x1/0", "1 /0", "0/1\x00", "yesterday", "１/0"])
def test_anything_else_is_not_a_position(token: str) -> None:
    with pytest.raises(BadPosition):
        parse_position(token)


# -- the position of writes --------------------------------------------------------------

class Wal:
    """A primary whose position moves on with every read, each read taking a while."""

    def __init__(self) -> None:
        self.reads, self.at = 0, 0

    async def read(self) -> int:
        self.reads += 1
        sent = self.at = self.at + 10  # what the query sees when it reaches the server
        await asyncio.sleep(0.01)
        return sent


async def test_writes_answered_together_share_one_read_of_the_position() -> None:
    wal = Wal()
    positions = CommitPositions(wal.read)
    answers = await asyncio.gather(*(positions.now() for _ in range(50)))
    assert wal.reads == 1 and set(answers) == {10}


async def test_a_write_that_finished_during_a_read_waits_for_the_next_one() -> None:
    wal = Wal()
    positions = CommitPositions(wal.read)
    first = asyncio.create_task(positions.now())
    await asyncio.sleep(0.001)  # the first read is on its way
    committed_at = wal.at
    late = await asyncio.gather(*(positions.now() for _ in range(20)))
    assert await first == 10
    assert wal.reads == 2 and all(p > committed_at for p in late)


async def test_a_failed_read_fails_its_callers_and_the_next_read_is_tried_anew() -> None:
    calls = 0

    async def flaky() -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("primary gone")
        return 42

    positions = CommitPositions(flaky)
    with pytest.raises(OSError, match="gone"):
        await positions.now()
    assert await positions.now() == 42


# -- choosing ----------------------------------------------------------------------------

def replica(port: int, *, up: bool = True, replayed: int = 100, lag: float = 0.0) -> Replica:
    made = Replica(f"r{port}", open_replica(NOWHERE.format(port=port), pool_size=1))
    made.up, made.replayed, made.lag = up, replayed, lag
    return made


def router(*replicas: Replica, max_lag: float = 5.0) -> ReadRouter:
    primary = create_async_engine(NOWHERE.format(port=1))
    return ReadRouter(primary, replicas, max_lag=max_lag)


def test_an_unmarked_read_goes_to_the_primary() -> None:
    assert router(replica(1)).choose(None) is None


def test_a_marked_read_goes_to_a_replica_within_the_lag_bound() -> None:
    fit = replica(1, lag=4.9)
    assert router(fit).choose(ReplicaRead()) is fit
    assert router(replica(2, lag=5.1)).choose(ReplicaRead()) is None
    assert router(replica(3, lag=float("inf"))).choose(ReplicaRead()) is None


def test_a_replica_down_is_skipped() -> None:
    assert router(replica(1, up=False)).choose(ReplicaRead()) is None


def test_a_token_is_served_only_by_a_replica_that_replayed_that_far() -> None:
    behind, level = replica(1, replayed=99), replica(2, replayed=100)
    assert router(behind).choose(ReplicaRead(after=100)) is None
    assert router(behind, level).choose(ReplicaRead(after=100)) is level
    assert router(level).choose(ReplicaRead(after=101)) is None


def test_a_token_does_not_excuse_a_lag_past_the_bound() -> None:
    assert router(replica(1, replayed=500, lag=9)).choose(ReplicaRead(after=1)) is None


def test_replicas_that_qualify_take_turns() -> None:
    a, b = replica(1), replica(2)
    reads = router(a, b)
    assert [reads.choose(ReplicaRead()) for _ in range(4)].count(a) == 2


def test_without_replicas_every_read_is_the_primarys() -> None:
    assert router().choose(ReplicaRead(after=1)) is None


# -- lag ---------------------------------------------------------------------------------

def test_a_replica_that_replayed_all_the_primary_wrote_is_not_lagging() -> None:
    r = replica(1)
    seen = Seen(in_recovery=True, replayed=100, last_commit_age=3600.0)  # idle primary
    assert lag_of(seen, r, primary_at=100, polled_at=50.0) == 0
    assert r.caught_up_at == 50.0


def test_a_replica_behind_lags_by_the_least_of_its_two_bounds() -> None:
    r = replica(1)
    r.caught_up_at = 40.0
    behind = Seen(in_recovery=True, replayed=90, last_commit_age=3.0)
    assert lag_of(behind, r, primary_at=100, polled_at=50.0) == 3.0  # newest commit replayed
    old_commit = Seen(in_recovery=True, replayed=90, last_commit_age=600.0)
    assert lag_of(old_commit, r, primary_at=100, polled_at=50.0) == 10.0  # last caught up


def test_a_lag_that_cannot_be_told_is_infinite() -> None:
    r = replica(1)
    unknown = Seen(in_recovery=True, replayed=90, last_commit_age=None)
    assert lag_of(unknown, r, primary_at=None, polled_at=1.0) == float("inf")


# -- running -----------------------------------------------------------------------------

async def test_a_read_that_fails_on_a_dead_replica_is_served_by_the_primary(
        tmp_path: Path) -> None:
    primary = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'primary.db'}")
    dead = replica(free_port())  # nothing listens there: the connection is refused
    served: list[str] = []
    reads = ReadRouter(primary, [dead], on_read=served.append)

    async def one(conn: AsyncConnection) -> int:
        return int((await conn.execute(text("SELECT 7"))).scalar_one())

    try:
        with replica_reads(after=None):
            assert await reads.run(one) == 7
        assert served == ["primary"] and not dead.up
        assert await reads.run(one) == 7  # unmarked: not counted
        assert served == ["primary"]
    finally:
        await primary.dispose()
        await reads.dispose()


async def test_a_read_that_fails_for_another_reason_is_not_retried(tmp_path: Path) -> None:
    primary = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'primary.db'}")
    reads = ReadRouter(primary)

    async def wrong(conn: AsyncConnection) -> None:
        raise ZeroDivisionError

    try:
        with replica_reads(after=None), pytest.raises(ZeroDivisionError):
            await reads.run(wrong)
    finally:
        await primary.dispose()


async def test_a_poll_marks_an_unreachable_replica_down(tmp_path: Path) -> None:
    primary = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'primary.db'}")
    dead = replica(free_port())
    polled: list[bool] = []
    reads = ReadRouter(primary, [dead], on_polled=lambda r: polled.append(r.up))
    try:
        assert await reads.poll() == 0
        assert polled == [False] and not dead.up
    finally:
        await primary.dispose()
        await reads.dispose()


def test_the_mark_ends_with_its_block_and_stays_in_its_own_context() -> None:
    reads = router(replica(1, replayed=7))
    with replica_reads(after=7):
        assert reads.choose(current_read()) is not None
    assert current_read() is None
    context = contextvars.copy_context()
    context.run(mark_replica_read, 7)
    assert context.run(current_read) == ReplicaRead(after=7)
    assert current_read() is None


# -- settings ----------------------------------------------------------------------------

def test_replicas_are_refused_on_sqlite() -> None:
    with pytest.raises(ValidationError, match="needs a PostgreSQL primary"):
        Settings(database_url="sqlite:///./var/x.db",
                 database_replica_urls="postgresql://a@h:5433/db")


def test_replica_urls_are_comma_separated_postgresql_urls() -> None:
    given = Settings(database_url="postgresql://a@h/db",
                     database_replica_urls=" postgresql://a@r1:5433/db, postgres://a@r2/db ,")
    assert given.database_replica_urls == ("postgresql+asyncpg://a@r1:5433/db",
                                           "postgresql+asyncpg://a@r2/db")
    with pytest.raises(ValidationError, match="streaming replica"):
        Settings(database_url="postgresql://a@h/db", database_replica_urls="mysql://a@r/db")


def test_a_replica_is_named_by_host_and_port_never_its_password() -> None:
    assert replica_name("postgresql+asyncpg://u:secret@db2.internal:5433/x") == "db2.internal:5433"
    assert replica_name("postgresql+asyncpg://u@db3/x") == "db3:5432"
