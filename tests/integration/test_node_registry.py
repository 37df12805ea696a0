"""The registry of serving processes on SQLite and PostgreSQL: a process is listed from
its first heartbeat until three are missed; the next heartbeat of any process deletes a
stale row; a process that leaves deletes its own row; a restart under the same name keeps
one row with its new start."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from stockline.adapters.database import Database, open_database
from stockline.adapters.nodes import NodeRegistry
from tests.factories import random_code


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


def _node(database: Database, clock: Clock, name: str) -> NodeRegistry:
    return NodeRegistry(database.read, database.write, name=name, clock=clock, every=5)


async def _names(registry: NodeRegistry, *wanted: str) -> list[str]:
    return [n.name for n in await registry.live() if n.name in wanted]


async def test_a_node_is_listed_until_it_misses_its_heartbeats(database: Database) -> None:
    clock = Clock()
    one, two = (_node(database, clock, random_code("N1")),
                _node(database, clock, random_code("N2")))
    names = sorted((one.name, two.name))
    assert await _names(one, *names) == []
    await one.beat()
    await two.beat()
    assert await _names(one, *names) == names
    clock.now += timedelta(seconds=14)
    await one.beat()
    assert await _names(one, *names) == names  # two beats missed: still listed
    clock.now += timedelta(seconds=2)
    assert await _names(one, *names) == [one.name]
    assert await one.beat() >= 1  # the stale row is deleted
    await two.beat()  # back (the database answered again)
    assert await _names(one, *names) == names


async def test_a_node_that_leaves_is_gone_and_a_restart_keeps_one_row(
        database: Database) -> None:
    clock = Clock()
    name = random_code("N")
    first = _node(database, clock, name)
    await first.beat()
    await first.leave()
    assert await _names(first, name) == []
    clock.now += timedelta(seconds=1)
    again = _node(database, clock, name)
    await first.beat()
    await again.beat()
    (row,) = [n for n in await again.live() if n.name == name]
    assert row.started_at == again.started_at and row.last_seen == clock.now
