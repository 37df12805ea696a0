"""Outages of what the server depends on: the database restarts, SQLite is locked or full,
the bus goes away, the server itself is asked to stop.

Each test runs real ``stockline serve`` processes against services of its own (a throwaway
PostgreSQL cluster, a throwaway NATS server or RabbitMQ node: the machine's are shared and
never stopped).
Fast by default; STOCKLINE_SOAK=1 makes the outages and the load longer.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from stockline.adapters.bus import EventBus, EventRecord
from stockline.adapters.bus.nats import BusUnavailable, NatsBus
from stockline.adapters.bus.rabbitmq import RabbitBus
from tests.conftest import ADMIN_KEY, Databases, start_server, stop_server
from tests.e2e.outages import (
    SOAK,
    Tally,
    ThrowawayNats,
    ThrowawayRabbitMQ,
    api,
    report,
    retried_then_read,
    sell_once,
    sell_until_answered,
    throwaway_nats,
    throwaway_postgres,
    throwaway_rabbitmq,
)
from tests.factories import (
    assert_ledger_identity,
    bus_env,
    migrate,
    open_event_stream,
    sales_at,
    stocked,
    wait_for_log,
)

pytestmark = pytest.mark.slow

PG_OUTAGE_SECONDS = 10.0 if SOAK else 3.0
CLIENTS = 8


async def test_postgres_restart_under_load_answers_503_then_recovers_without_restart(
        tmp_path: Path) -> None:
    """Proves: while PostgreSQL is down, sales get 503 problem+json with Retry-After (never
    a 500, never a hang), /readyz says 503; once it is back the same server process serves
    again within seconds; every sale answered 201 exists exactly once, retries with the
    same key never duplicate, and the ledger identity holds."""
    with throwaway_postgres() as pg:
        await migrate(pg.url)
        server = start_server(pg.url, tmp_path)
        try:
            async with api(server.base_url, timeout=15) as client:
                store, (sku,) = await stocked(client, quantity=100_000)
                tally = Tally()
                refs: list[str] = []
                stop = asyncio.Event()
                readyz: list[int] = []
                reads: list[int] = []

                async def seller() -> None:
                    while not stop.is_set():
                        ref = f"pg-{uuid.uuid4().hex[:12]}"
                        refs.append(ref)
                        await sell_once(client, store, sku, ref, tally)
                        await asyncio.sleep(0.01)

                sellers = [asyncio.create_task(seller()) for _ in range(CLIENTS)]
                await asyncio.sleep(1.0)
                before = tally.statuses[201]
                assert before > 0, tally.statuses
                await asyncio.to_thread(pg.stop, "fast")
                down_at = time.monotonic()
                while time.monotonic() - down_at < PG_OUTAGE_SECONDS:
                    readyz.append((await client.get("/readyz")).status_code)
                    for path in (f"/v1/inventory/{store}/{sku}", "/v1/sales"):  # reads too
                        reads.append((await client.get(path)).status_code)
                    await asyncio.sleep(0.2)
                in_outage = dict(tally.statuses)
                await asyncio.to_thread(pg.start)
                up_at = time.monotonic()
                # Recovery: the first 201 for a sale sent after PostgreSQL is back.
                recovered = None
                while time.monotonic() - up_at < 20:
                    ref = f"pg-probe-{uuid.uuid4().hex[:8]}"
                    refs.append(ref)
                    response = await sell_once(client, store, sku, ref, tally)
                    if response is not None and response.status_code == 201:
                        recovered = time.monotonic() - up_at
                        break
                    await asyncio.sleep(0.1)
                await asyncio.sleep(1.0)
                stop.set()
                await asyncio.gather(*sellers)

                # Retries with the same key: every sale never answered 201 is sent again
                # until answered; each answered one is sent again and must be replayed.
                for ref in refs:
                    if ref not in tally.created:
                        assert await sell_until_answered(client, store, sku, ref, tally) == 201
                replays = 0
                for ref in list(tally.created)[:50]:
                    response = await sell_once(client, store, sku, ref, Tally())
                    assert response is not None and response.status_code == 201
                    assert response.headers.get("Idempotent-Replayed") == "true"
                    assert response.json()["id"] == tally.created[ref]
                    replays += 1

                sales = await sales_at(client, store)
                by_ref = [s.get("external_ref") for s in sales]
                current = await assert_ledger_identity(client, store, sku)
                report(f"\npg restart: sent {len(refs)} sales, statuses {dict(tally.statuses)}; "
                      f"during outage {in_outage}; readyz {sorted(set(readyz))} "
                      f"({readyz.count(503)} x 503); recovered {recovered} s after start; "
                      f"slowest answer {tally.slowest:.2f} s; found {len(sales)} sales, "
                      f"{len(by_ref) - len(set(by_ref))} duplicates")
                assert 500 not in tally.statuses, tally.statuses
                assert 503 in reads and 500 not in reads, reads
                assert tally.statuses[503] > 0, tally.statuses
                assert not tally.bad_503, tally.bad_503[:3]
                assert tally.slowest < 12, tally.slowest
                assert 503 in readyz and 200 not in readyz[2:], readyz
                assert recovered is not None and recovered < 10, recovered
                assert sorted(by_ref) == sorted(refs)  # each sale once, none lost, none doubled
                assert set(tally.created.values()) <= {s["id"] for s in sales}
                assert current["on_hand"] == 100_000 - len(refs)
                assert replays > 0
                assert server.process.poll() is None  # the same process throughout
        finally:
            stop_server(server)


BUS_OUTAGE_SECONDS = 10.0 if SOAK else 4.0

# The brokers a test can stop and start again, and the bus for each.
Broker = ThrowawayNats | ThrowawayRabbitMQ
THROWAWAY_BROKERS: dict[str, tuple[Callable[[], contextlib.AbstractContextManager[Broker]],
                                   Callable[..., EventBus]]] = {
    "nats": (throwaway_nats, NatsBus), "rabbitmq": (throwaway_rabbitmq, RabbitBus)}


@pytest.mark.parametrize("broker", sorted(THROWAWAY_BROKERS))
async def test_bus_outage_blocks_no_write_and_loses_no_event(
        broker: str, databases: Databases, tmp_path: Path) -> None:
    """Proves: with the broker (NATS JetStream, RabbitMQ) down (a throwaway server, stopped
    for a while) sales on node A still commit promptly, and once it is back, a subscriber
    on node B's stream (which hears A's events only through the bus: its poll of the log is
    slowed to 30 s) gets every event, ids contiguous, none lost, none twice, with no new
    sale needed to push them out."""
    url = await databases.new("postgres")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    throwaway, _ = THROWAWAY_BROKERS[broker]
    with throwaway() as server:
        env = bus_env(server.url, f"t{uuid.uuid4().hex[:16]}")
        node_a = start_server(url, tmp_path / "a", extra_env=env)
        try:
            node_b = start_server(url, tmp_path / "b", extra_env=env)
            try:
                async with api(node_a.base_url) as writer, api(node_b.base_url) as reader:
                    store, (sku,) = await stocked(writer, quantity=100_000)
                    await asyncio.sleep(0.5)
                    async with open_event_stream(reader) as stream:
                        tally = Tally()
                        refs: list[str] = []

                        async def sell_for(seconds: float) -> None:
                            until = time.monotonic() + seconds
                            while time.monotonic() < until:
                                ref = f"bus-{uuid.uuid4().hex[:12]}"
                                refs.append(ref)
                                await sell_once(writer, store, sku, ref, tally)
                                await asyncio.sleep(0.02)

                        await sell_for(0.5)
                        await asyncio.to_thread(server.stop)
                        await sell_for(BUS_OUTAGE_SECONDS)
                        # The relay kept moving committed events into the log meanwhile.
                        in_log = len(await wait_for_log(writer, len(refs), within=2,
                                                        types="sale.recorded"))
                        await asyncio.to_thread(server.start)
                        back = time.monotonic()
                        newest = max(e["id"] for e in await wait_for_log(writer, 0))
                        got: list[int] = []
                        while (not got or got[-1] < newest) and time.monotonic() - back < 20:
                            message = await stream.next(20)
                            assert message is not None and message.change, message
                            got.append(int(message.json()["id"]))
                        caught_up = time.monotonic() - back
                report(f"\nbus outage ({BUS_OUTAGE_SECONDS} s): {len(refs)} sales "
                       f"{dict(tally.statuses)}, slowest {tally.slowest:.2f} s; node B's "
                       f"stream got {len(got)} events ({stream.after + 1}..{newest}), "
                       f"caught up {caught_up:.1f} s after {broker} returned; {in_log} sales "
                       f"logged while it was down")
                assert tally.statuses == {201: len(refs)}, tally.statuses
                assert tally.slowest < 2.0, tally.slowest
                assert got == list(range(stream.after + 1, newest + 1))  # contiguous, whole
                assert in_log == len(refs)
                assert caught_up < 10, caught_up
            finally:
                stop_server(node_b)
        finally:
            stop_server(node_a)


async def test_sigterm_finishes_in_flight_sales_closes_streams_and_exits_zero(
        databases: Databases, tmp_path: Path) -> None:
    """Proves: SIGTERM while sales are in flight (a burst that group commit batches) and an
    SSE stream is open: every sale the server accepted gets its answer (201), none is
    half-applied, the stream ends with a ``close`` event (``server_shutdown``, with the last
    id sent, to resume from elsewhere), and the process exits 0 within a bounded time."""
    url = await databases.new("sqlite")
    server = start_server(url, tmp_path)
    try:
        async with api(server.base_url) as client:
            store, (sku,) = await stocked(client, quantity=10_000)
            async with open_event_stream(client) as stream:
                tally = Tally()
                refs = [f"term-{uuid.uuid4().hex[:12]}" for _ in range(64)]
                # A connection of its own per sale: none waits idle to be closed under it.
                fresh = httpx.Limits(max_keepalive_connections=0)
                async with httpx.AsyncClient(base_url=server.base_url, limits=fresh,
                                             headers={"X-API-Key": ADMIN_KEY},
                                             timeout=20) as burst:
                    sending = [asyncio.create_task(sell_once(burst, store, sku, ref, tally))
                               for ref in refs]
                    # The signal lands mid-burst: once the first answer is back (on a
                    # loaded machine, 50 ms could pass before any request was read).
                    await asyncio.wait(sending, timeout=20,
                                       return_when=asyncio.FIRST_COMPLETED)
                    server.process.send_signal(signal.SIGTERM)
                    term_at = time.monotonic()
                    await asyncio.gather(*sending)
                tail = await stream.quiet(15)
                ended = time.monotonic() - term_at
            code = await asyncio.to_thread(server.process.wait, 20)
            exited = time.monotonic() - term_at
        # A connection the server had not read a request from yet is closed when it stops
        # (a transport error at the client): that sale was never taken, as the check
        # after the restart proves (the sales on record are exactly the 201s). Any other
        # answer than 201 to a request it took would be a sale dropped.
        unanswered = {k: v for k, v in tally.statuses.items() if isinstance(k, int) and k != 201}
        closing = [m for m in tail if m.event in ("reset", "close")]
        report(f"\nSIGTERM: burst {dict(tally.statuses)}; stream ended {ended:.2f} s after "
               f"SIGTERM ({[m.event for m in closing]}); exit {code} after {exited:.2f} s")
        assert code == 0
        assert exited < 15, exited
        assert tally.statuses[201] > 0, tally.statuses
        assert not unanswered, tally.statuses  # accepted and then dropped: none
        assert [m.event for m in closing] == ["close"], closing
        farewell = json.loads(closing[0].data)
        assert farewell["code"] == "server_shutdown", farewell
        assert ended < 5, ended  # within the grace period, not uvicorn's 10 s timeout
        restarted = start_server(url, tmp_path)
        try:
            async with api(restarted.base_url) as client:
                sales = await sales_at(client, store)
                current = await assert_ledger_identity(client, store, sku)
            assert {s["external_ref"] for s in sales} == set(tally.created)
            assert current["on_hand"] == 10_000 - len(tally.created)
        finally:
            stop_server(restarted)
    finally:
        if server.process.poll() is None:
            server.process.kill()
            server.process.wait()


@pytest.mark.parametrize("broker", sorted(THROWAWAY_BROKERS))
async def test_publish_fails_fast_while_the_broker_is_down(broker: str) -> None:
    """Proves (regression): while the broker is down, publishing raises BusUnavailable at
    once instead of waiting out an acknowledgement timeout (JetStream's: 5 s), which held
    up every relay round and with it the event log; once it is back, publishing works
    again."""
    throwaway, bus_for = THROWAWAY_BROKERS[broker]
    with throwaway() as server:
        bus = bus_for(server.url, channel=f"t{uuid.uuid4().hex[:16]}")
        await bus.start()
        try:
            record = EventRecord(id=1, type="product.changed", occurred_at=datetime.now(UTC),
                                 location_id=None, sku="X", data={})
            await bus.publish([record])
            await asyncio.to_thread(server.stop)
            await asyncio.sleep(0.2)
            started = time.monotonic()
            with pytest.raises(BusUnavailable):
                await bus.publish([record])
            assert time.monotonic() - started < 1.0
            await asyncio.to_thread(server.start)
            deadline = time.monotonic() + 10
            while True:
                try:
                    await bus.publish([record])
                    break
                except BusUnavailable:
                    assert time.monotonic() < deadline
                    await asyncio.sleep(0.1)
        finally:
            await bus.close()


async def test_sqlite_locked_by_another_process_answers_503_then_applies_once(
        databases: Databases, tmp_path: Path) -> None:
    """Proves: another process holding SQLite's write lock longer than busy_timeout makes
    sales answer 503 problem+json with Retry-After (no 500), nothing half-applied; once the
    lock is gone the same keys are applied exactly once, and the ledger identity holds."""
    url = await databases.new("sqlite")
    server = start_server(url, tmp_path, extra_env={"STOCKLINE_SQLITE_BUSY_TIMEOUT_MS": "300"})
    try:
        async with api(server.base_url) as client:
            store, (sku,) = await stocked(client, quantity=1_000)
            blocker = sqlite3.connect(make_url(url).database or "", isolation_level=None)
            try:
                blocker.execute("BEGIN IMMEDIATE")  # the write lock, held for a while
                tally = Tally()
                refs = [f"busy-{uuid.uuid4().hex[:12]}" for _ in range(8)]
                await asyncio.gather(*(sell_once(client, store, sku, r, tally) for r in refs))
                readyz = (await client.get("/readyz")).status_code
            finally:
                blocker.execute("ROLLBACK")
                blocker.close()
            sales, current = await retried_then_read(client, store, sku, refs)
        report(f"\nsqlite locked: {dict(tally.statuses)}, slowest {tally.slowest:.2f} s, "
               f"readyz {readyz}; then {len(sales)} sales for {len(refs)} keys")
        assert tally.statuses == {503: len(refs)}, tally.statuses
        assert not tally.bad_503, tally.bad_503[:2]
        assert sorted(s["external_ref"] for s in sales) == sorted(refs)
        assert current["on_hand"] == 1_000 - len(refs)
    finally:
        stop_server(server)


@contextlib.contextmanager
def tiny_disk(where: Path, megabytes: int) -> Iterator[Path]:
    """A tmpfs of its own (root only): a disk that can really fill up."""
    where.mkdir()
    if os.geteuid() != 0 or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(where)],
            capture_output=True, check=False).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


async def test_sqlite_disk_full_answers_503_and_recovers_when_space_returns(
        tmp_path: Path) -> None:
    """Proves: with the disk full (a small tmpfs, filled up), sales answer 503 with
    Retry-After (never 500), nothing is half-applied, and once space returns the same
    server process applies the retried keys exactly once."""
    with tiny_disk(tmp_path / "disk", 8) as disk:
        url = f"sqlite+aiosqlite:///{disk / 'stockline.db'}"
        await migrate(url)
        server = start_server(url, tmp_path)
        try:
            async with api(server.base_url) as client:
                store, (sku,) = await stocked(client, quantity=100_000)
                filler = disk / "filler"
                # Unbuffered: the write that finds the disk full raises, and nothing is
                # left to flush (and fail) on close.
                with contextlib.suppress(OSError), filler.open("wb", buffering=0) as out:
                    while True:
                        out.write(b"\0" * 65536)
                tally = Tally()
                refs = []
                for _ in range(40):  # until the database has to grow and cannot
                    ref = f"full-{uuid.uuid4().hex[:12]}"
                    refs.append(ref)
                    response = await sell_once(client, store, sku, ref, tally)
                    if response is not None and response.status_code == 503:
                        break
                full_503 = tally.statuses[503]
                filler.unlink()
                sales, current = await retried_then_read(client, store, sku, refs)
            report(f"\nsqlite disk full: {dict(tally.statuses)}; after space returned "
                   f"{len(sales)} sales for {len(refs)} keys")
            assert full_503 > 0 and 500 not in tally.statuses, tally.statuses
            assert not tally.bad_503, tally.bad_503[:2]
            assert sorted(s["external_ref"] for s in sales) == sorted(refs)
            assert current["on_hand"] == 100_000 - len(refs)
            assert server.process.poll() is None
        finally:
            stop_server(server)
