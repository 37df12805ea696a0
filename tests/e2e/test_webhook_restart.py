"""Webhook deliveries survive a server killed with SIGKILL, on SQLite and PostgreSQL.

Live servers (``stockline serve`` in its own process) on a database of their own, with
retries shortened to fractions of a second. A receiver fails the first requests; the
server is killed while it is retrying the first event, restarted on the same database,
killed again while deliveries stream, and restarted again. In the end every event the
log holds at the store reached the receiver, in id order, with a valid signature: a
delivery is a row, not a task in memory. Only a request whose answer the killed server
never recorded may arrive twice (receivers drop repeats by event id).
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import httpx
import pytest

from stockline.adapters.bus import EventFilter, EventRecord
from stockline.adapters.database import open_database
from stockline.adapters.queries.events import EventQueries
from stockline.domain.webhooks import verify_signature
from tests.conftest import ADMIN_KEY, Databases, LiveServer, start_server, stop_server
from tests.e2e.test_reconcile import drained
from tests.e2e.test_webhooks import WebhookReceiver, eventually
from tests.factories import create_product, create_store, create_webhook, deliveries

pytestmark = pytest.mark.slow

FAILS = 6  # the receiver answers 503 to its first requests
RETRIES = {
    "STOCKLINE_WEBHOOK_RETRY_BASE_SECONDS": "0.2",
    "STOCKLINE_WEBHOOK_RETRY_CAP_SECONDS": "0.4",
    "STOCKLINE_WEBHOOK_GIVE_UP_AFTER_HOURS": "1",
    "STOCKLINE_WEBHOOK_POLL_INTERVAL_SECONDS": "0.05",
    "STOCKLINE_WEBHOOK_IDLE_POLL_SECONDS": "0.2",
    "STOCKLINE_WEBHOOK_TIMEOUT_SECONDS": "2",
    # a killed server's relay lease (and with it the right to send) lapses in a second
    "STOCKLINE_RELAY_LEASE_SECONDS": "1",
    "STOCKLINE_WEBHOOK_ALLOW_PRIVATE": "true",  # the receiver is on 127.0.0.1
}


def api(server: LiveServer) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.base_url, headers={"X-API-Key": ADMIN_KEY},
                             timeout=10)


def kill(server: LiveServer) -> None:
    server.process.kill()  # SIGKILL: no shutdown, no cleanup
    server.process.wait()


async def receipts(client: httpx.AsyncClient, store: str, sku: str, count: int) -> int:
    """Receive one unit ``count`` times at once; the number answered 200 (a request may
    fail when the server is killed under it: whether it committed, the log tells)."""
    async def one() -> bool:
        with contextlib.suppress(httpx.TransportError):
            response = await client.post("/v1/inventory/update", json={
                "location_id": store, "sku": sku, "delta": 1, "reason": "receipt"})
            return response.status_code == 200
        return False

    return sum(await asyncio.gather(*(one() for _ in range(count))))


async def logged(url: str, store: str) -> list[EventRecord]:
    database = open_database(url)
    try:
        return await EventQueries(database.read).events_after(
            0, EventFilter(location_ids=frozenset({store})), 10_000)
    finally:
        await database.dispose()


async def test_deliveries_survive_kills_mid_retry_and_mid_stream(
        backend: str, databases: Databases, tmp_path: Path) -> None:
    url = await databases.new(backend)
    kills = 0
    with WebhookReceiver(fail_first=FAILS, delay=0.03) as receiver:
        server = start_server(url, tmp_path, extra_env=RETRIES)
        try:
            async with api(server) as client:
                store = (await create_store(client))["code"]
                sku = (await create_product(client))["sku"]
                made = await create_webhook(client, receiver.url, location_ids=[store])
                # the level first, alone (concurrent first receipts of a level that does
                # not exist yet can answer a spurious 409 on PostgreSQL: reported)
                assert await receipts(client, store, sku, 1) == 1
                assert await receipts(client, store, sku, 7) == 7
                await eventually(lambda: len(receiver.seen()) >= 2, what="retrying")
                writes = asyncio.ensure_future(receipts(client, store, sku, 4))
                await asyncio.sleep(0.05)
                # Mid-retry: the first event has failed and waits for its next attempt.
                assert receiver.delivered() == [] and len(receiver.seen()) < FAILS
                kill(server)
                kills += 1
                await writes
            tried_before_restart = len(receiver.seen())

            server = start_server(url, tmp_path, extra_env=RETRIES)
            async with api(server) as client:
                assert await receipts(client, store, sku, 8) == 8
                await eventually(lambda: len(receiver.delivered()) >= 5, what="flowing")
                assert len(receiver.seen()) > tried_before_restart
                writes = asyncio.ensure_future(receipts(client, store, sku, 4))
                await asyncio.sleep(0.02)
                kill(server)  # mid-stream: deliveries are going out one after another
                assert len(set(receiver.delivered_ids())) < 8 + 8
                kills += 1
                await writes

            server = start_server(url, tmp_path, extra_env=RETRIES)
            # rows the killed server committed to the outbox reach the log through this
            # server's relay: the log is complete only once the outbox is empty
            await drained(url, store)
            expected = await logged(url, store)
            assert len(expected) >= 8 + 8
            await eventually(lambda: len(set(receiver.delivered_ids())) >= len(expected),
                             within=60, what="every logged event delivered")
            async with api(server) as client:
                log: list[dict[str, Any]] = []

                async def recorded() -> bool:
                    log[:] = await deliveries(client, made["id"])
                    return all(d["status"] == "delivered" for d in log)

                await eventually(recorded, what="every delivery recorded")
        finally:
            stop_server(server)

        assert await logged(url, store) == expected  # nothing came after the last restart
        requests = receiver.seen()
        tried = [r.event_id for r in requests]
        assert tried == sorted(tried), f"a later event went before an earlier one: {tried}"
        delivered = receiver.delivered()
        unique = [r.event_id for r in delivered]
        unique = [e for n, e in enumerate(unique) if n == 0 or unique[n - 1] != e]
        assert unique == [e.id for e in expected]  # each once, in order, none missing
        assert len(delivered) - len(unique) <= kills  # a repeat only where a kill cut in
        by_id = {e.id: e for e in expected}
        for request in requests:
            assert request.body == by_id[request.event_id].to_json()
            assert verify_signature(made["secret"], request.headers["x-stockline-signature"],
                                    request.body, now=request.at)
        assert [d["event_id"] for d in log] == [e.id for e in expected]
        first = log[0]
        assert [a["status_code"] for a in first["attempt_log"]][-1] == 200
        assert FAILS + 1 - kills <= first["attempts"] <= FAILS + 1
        assert [a["attempt"] for a in first["attempt_log"]] == list(
            range(1, first["attempts"] + 1))
        # every attempt but one cut off by a kill is on record
        assert len(requests) - kills <= sum(d["attempts"] for d in log) <= len(requests)
