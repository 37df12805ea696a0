"""Outages of what the server depends on: the database restarts, SQLite is locked or full,
the bus goes away, the server itself is asked to stop.

Each test runs real ``stockline serve`` processes against services of its own (a throwaway
PostgreSQL cluster, a throwaway NATS server: the machine's are shared and never stopped).
Fast by default; STOCKLINE_SOAK=1 makes the outages and the load longer.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import start_server, stop_server
from tests.e2e.outages import (
    SOAK,
    Tally,
    api,
    report,
    sell_once,
    sell_until_answered,
    throwaway_postgres,
)
from tests.factories import assert_ledger_identity, migrate, sales_at, stocked

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
