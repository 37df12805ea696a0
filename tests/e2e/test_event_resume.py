"""Resume without a gap or a duplicate, through a real server on SQLite and PostgreSQL.

Sales and receipts flow all the time; a reader is cut off at 40 random points (300 with
STOCKLINE_SOAK=1: after a random number of events, or a random short time, often in the
middle of a replay or of a chunk) and reconnects each time with the last id it saw, by
``Last-Event-ID`` or by ``?after=``. Every id it received, duplicates included (it drops
nothing), is compared with the event log: the same ids, in the same order.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest

from tests.conftest import LiveServer
from tests.e2e.outages import SOAK
from tests.factories import line, receive, record_sale, sse_messages, stocked, wait_for_log

pytestmark = pytest.mark.slow

DISCONNECTS = 300 if SOAK else 40
WRITERS = 4  # at once: events come close together, as they do in a busy store


def _report(text: str) -> None:
    print(text)  # noqa: T201 - the figures are wanted in the output of `pytest -s`


@dataclass
class Reader:
    """Everything one reader received, over all its connections, in arrival order."""

    store: str
    rng: random.Random
    received: list[int] = field(default_factory=list)
    last: int = 0  # the last id seen: where the next connection resumes
    cuts: Counter[str] = field(default_factory=Counter)

    async def connect_once(self, client: httpx.AsyncClient, *, until: int | None = None) -> None:
        """One connection, cut at a random point (or once ``until`` has arrived)."""
        params: dict[str, str | int] = {"location_id": self.store}
        headers = {}
        if self.rng.random() < 0.5:
            headers["Last-Event-ID"] = str(self.last)
            self.cuts["by Last-Event-ID"] += 1
        else:
            params["after"] = self.last
            self.cuts["by ?after="] += 1
        wanted, seconds = self.rng.randint(0, 60), self.rng.uniform(0.0, 0.3)
        if until is not None:
            wanted, seconds = 1_000_000, 30.0
        elif self.rng.random() < 0.5:
            self.cuts["after some events"] += 1
            seconds = 30.0
        else:
            self.cuts["after some time"] += 1
            wanted = 1_000_000
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds), client.stream(
                    "GET", "/v1/events/stream", params=params, headers=headers) as response:
                assert response.status_code == 200, await response.aread()
                await self._read(response, wanted, until)

    async def _read(self, response: httpx.Response, wanted: int, until: int | None) -> None:
        count = 0
        async with contextlib.aclosing(sse_messages(response)) as messages:
            async for message in messages:
                if message.event == "comment":
                    continue
                assert message.change, message  # no reset, no close
                self.received.append(int(message.id or "0"))
                self.last = self.received[-1]
                count += 1
                if count >= wanted or (until is not None and self.last >= until):
                    return


async def _write(client: httpx.AsyncClient, store: str, skus: list[str], stop: asyncio.Event,
                 rng: random.Random) -> int:
    """Sales and receipts until ``stop``; returns how many events they logged at ``store``."""
    made = 0
    while not stop.is_set():
        sku = rng.choice(skus)
        if rng.random() < 0.75:
            await record_sale(client, store, [line(sku, rng.randint(1, 3))])
            made += 2  # the level's change and the sale
        else:
            await receive(client, store, sku, rng.randint(1, 10))
            made += 1
        await asyncio.sleep(rng.uniform(0.0, 0.01))
    return made


async def test_a_reader_cut_off_at_random_points_misses_and_repeats_nothing(
        live_server: LiveServer, backend: str) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    async with httpx.AsyncClient(base_url=live_server.base_url,
                                 headers={"X-API-Key": live_server.admin_key},
                                 timeout=httpx.Timeout(30.0)) as client:
        store, skus = await stocked(client, quantity=1_000_000, skus=3)
        reader = Reader(store, rng)
        stop = asyncio.Event()
        started = time.monotonic()
        writers = [asyncio.create_task(_write(client, store, skus, stop, random.Random(seed + n)))
                   for n in range(1, 1 + WRITERS)]
        try:
            for _ in range(DISCONNECTS):
                await reader.connect_once(client)
        finally:
            stop.set()
            made = sum(await asyncio.gather(*writers))
        logged = [e["id"] for e in await wait_for_log(client, 3 + made, location_id=store)]
        await reader.connect_once(client, until=logged[-1])  # and the rest, to the end
        elapsed = time.monotonic() - started
    repeated = sum(n - 1 for n in Counter(reader.received).values() if n > 1)
    missing = sorted(set(logged) - set(reader.received))
    _report(f"resume [{backend}] seed {seed}: {DISCONNECTS} cuts + 1 final connection, "
            f"{len(reader.received)} ids received, {len(logged)} logged, {repeated} repeated, "
            f"{len(missing)} missing, in {elapsed:.1f} s; {dict(reader.cuts)}")
    assert not missing and not repeated, (missing[:10], seed)
    assert reader.received == logged, seed
    assert len(logged) > 4 * DISCONNECTS  # changes flowed all along
