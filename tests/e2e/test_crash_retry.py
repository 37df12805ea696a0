"""Sales retried through server crashes: SIGKILL at random moments, restart, same database.

A client sends N sales, each with its own Idempotency-Key, and sends each again with the
same key until it gets a definitive answer (201 or a 4xx), while the server process is
killed with SIGKILL at random moments and started again on the same database (SQLite and
PostgreSQL: a fresh database of the machine's server, created by the test). N is 60 with
3 kills by default (each kill is a server start again, seconds of CPU), 500 with 12
kills with STOCKLINE_SOAK=1 (make soak).
"""

from __future__ import annotations

import asyncio
import random
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from stockline.adapters.database import open_database
from stockline.adapters.tables import idempotency_keys
from tests.conftest import Databases, LiveServer, start_server, stop_server
from tests.e2e.outages import SOAK, Tally, api, report, sale_body
from tests.factories import assert_ledger_identity, sales_at, stocked, wait_for_log

pytestmark = pytest.mark.slow

SALES = 500 if SOAK else 60
WORKERS = 6
KILLS = 12 if SOAK else 3
ENV = {"STOCKLINE_RELAY_LEASE_SECONDS": "1"}  # a killed relay's lease lapses in a second


class Restarting:
    """The server, killed and started again by ``crash_loop``; clients follow its address."""

    def __init__(self, url: str, var_dir: Path) -> None:
        self.url, self.var_dir = url, var_dir
        self.server: LiveServer = start_server(url, var_dir, extra_env=ENV)
        self.kills = 0

    def kill_and_restart(self) -> None:
        self.server.process.kill()  # SIGKILL: no shutdown, no cleanup
        self.server.process.wait()
        self.kills += 1
        self.server = start_server(self.url, self.var_dir, extra_env=ENV)


async def _send(target: Restarting, client: httpx.AsyncClient, store: str, sku: str,
                ref: str, tally: Tally) -> int:
    """The sale with key ``ref`` until a definitive answer; its status."""
    while True:
        try:
            response = await client.post(
                f"{target.server.base_url}/v1/sales/record", json=sale_body(store, sku, ref),
                headers={"Idempotency-Key": ref})
        except httpx.TransportError as exc:
            tally.statuses[type(exc).__name__] += 1
        else:
            tally.note(ref, response, 0.0)
            if response.status_code < 500:
                return response.status_code
        await asyncio.sleep(0.05)


async def test_sales_retried_through_sigkills_apply_exactly_once(
        backend: str, databases: Databases, tmp_path: Path) -> None:
    """Proves: whatever moment the server dies at, a sale retried with its key is applied
    exactly once (N sales sent, N found, no duplicate), the ledger identity holds, no key is
    left "in progress" (a retry after the restart completes it), and every sale has its
    sale.recorded event in the log once the relay has caught up."""
    url = await databases.new(backend)
    target = Restarting(url, tmp_path)
    try:
        async with api(target.server.base_url) as setup:
            store, (sku,) = await stocked(setup, quantity=10 * SALES)
        refs = [f"crash-{uuid.uuid4().hex[:12]}" for _ in range(SALES)]
        queue: asyncio.Queue[str] = asyncio.Queue()
        for ref in refs:
            queue.put_nowait(ref)
        tally = Tally()
        answers: dict[str, int] = {}
        done = asyncio.Event()

        async def worker(client: httpx.AsyncClient) -> None:
            while not queue.empty():
                ref = queue.get_nowait()
                answers[ref] = await _send(target, client, store, sku, ref, tally)
                await asyncio.sleep(0.03)

        async def crash_loop(rng: random.Random) -> None:
            # Kills at random points of the run (by sales answered), each a random few
            # milliseconds later, so that some land in the middle of a request.
            for point in sorted(rng.sample(range(5, SALES - 5), KILLS)):
                while len(answers) < point and not done.is_set():  # noqa: ASYNC110
                    await asyncio.sleep(0.005)
                if done.is_set():
                    return
                await asyncio.sleep(rng.uniform(0, 0.02))
                await asyncio.to_thread(target.kill_and_restart)

        async with api(target.server.base_url) as client:
            killer = asyncio.create_task(crash_loop(random.Random()))
            await asyncio.gather(*(worker(client) for _ in range(WORKERS)))
            done.set()
            await killer

        async with api(target.server.base_url) as client:
            sales = await sales_at(client, store)
            found = [s["external_ref"] for s in sales]
            await assert_ledger_identity(client, store, sku)
            events = await wait_for_log(client, SALES, within=30, location_id=store,
                                        types="sale.recorded")
        unfinished = await _unfinished_keys(url, refs)
        event_sales = [e["data"]["sale_id"] for e in events]
        report(f"\ncrash/retry on {backend}: {SALES} sales sent, {target.kills} SIGKILLs, "
               f"answers {dict(tally.statuses)} ({tally.replayed} replayed); "
               f"found {len(sales)} sales "
               f"({len(found) - len(set(found))} duplicates), {len(events)} sale.recorded "
               f"events, {len(unfinished)} keys unfinished")
        assert target.kills >= KILLS // 2, target.kills
        assert set(answers.values()) == {201}, answers
        assert sorted(found) == sorted(refs)  # exactly N, each once
        assert {tally.created[r] for r in refs} == {s["id"] for s in sales}
        assert not unfinished, unfinished
        assert sorted(event_sales) == sorted(s["id"] for s in sales)  # each once, none lost
    finally:
        stop_server(target.server)


async def _unfinished_keys(url: str, refs: list[str]) -> list[str]:
    """Keys of ``refs`` whose row has no stored answer (left "in progress")."""
    database = open_database(url)
    try:
        async with database.read.connect() as conn:
            rows = (await conn.execute(select(idempotency_keys.c.key,
                                              idempotency_keys.c.outcome).where(
                idempotency_keys.c.key.in_(refs)))).all()
    finally:
        await database.dispose()
    stored = {row.key for row in rows if row.outcome is not None}
    return [r for r in refs if r not in stored]
