"""The business and operations metrics: each changes when what it counts happens.

Stock-outs, low levels, refusals and streams on the session's app; the outbox, the relay,
the webhook backlog and reconciliation on an app over a database of its own whose relay
and dispatcher do not run by themselves (the test moves the outbox when it means to), so
that its numbers are exact."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from stockline.adapters.auth_failures import FailureBudget
from stockline.adapters.reconcile_schedule import ScheduledReconcile
from stockline.adapters.tables import inventory_levels, relay_state, webhooks
from stockline.bootstrap import Container, bootstrap
from stockline.config import Settings
from stockline.domain.reconcile import Check
from stockline.services.executor import utcnow
from tests.conftest import ADMIN_KEY, Databases
from tests.factories import (
    admin_client,
    as_key,
    create_api_key,
    create_webhook,
    execute_sql,
    hold_line,
    line,
    random_code,
    receive,
    record_sale,
    reserve,
    run_cli,
    set_reorder,
    stocked,
)
from tests.graphql_support import gql
from tests.metrics_support import eventually, sample, samples, scrape, value

STOCKOUTS = "stockline_stockouts_total"
GQL_SALE = """mutation ($input: RecordSaleInput!) {
  recordSale(input: $input) { sale { id } userErrors { code } } }"""


@pytest.fixture
async def metered(settings: Settings, container: Container) -> AsyncIterator[httpx.AsyncClient]:
    """An admin client of an app on the session's container that reads the database at
    every scrape; the container's hooks now feed this app's metrics."""
    mine = settings.model_copy(update={"metrics_cache_seconds": 0.0})
    async with admin_client(mine, container) as client:
        yield client


@dataclass
class Quiet:
    client: httpx.AsyncClient
    container: Container
    url: str


@pytest.fixture(scope="module")
async def quiet(databases: Databases, backend: str,
                tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Quiet]:
    """An app over a fresh database whose relay, dispatcher and jobs do not run."""
    url = await databases.new(backend)
    mine = Settings(database_url=url, admin_key=ADMIN_KEY, env="test", log_level="warning",
                    var_dir=tmp_path_factory.mktemp("quiet"), webhook_allow_private=True,
                    auth_failure_limit=100_000, metrics_cache_seconds=0.0,
                    reconcile_interval_seconds=3600)
    container = bootstrap(mine)
    await container.start(events=False, jobs=False)
    try:
        async with admin_client(mine, container) as client:
            yield Quiet(client, container, url)
    finally:
        await container.close()


# -- counted as it happens -----------------------------------------------------------------

async def test_a_change_that_leaves_nothing_available_is_one_stock_out(
        metered: httpx.AsyncClient) -> None:
    store, (sku,) = await stocked(metered, quantity=3)
    before = value(await scrape(metered), STOCKOUTS)
    await record_sale(metered, store, [line(sku, 2)])
    assert value(await scrape(metered), STOCKOUTS) == before  # one left
    short = await metered.post("/v1/sales/record",
                               json={"location_id": store, "lines": [line(sku, 5)]})
    assert short.status_code == 409
    assert value(await scrape(metered), STOCKOUTS) == before  # refused: nothing changed
    await record_sale(metered, store, [line(sku, 1)])
    assert value(await scrape(metered), STOCKOUTS) == before + 1
    # Back in stock, then held whole: a hold that takes the last units is one too.
    await receive(metered, store, sku, 2)
    await reserve(metered, store, [hold_line(sku, 2)])
    assert value(await scrape(metered), STOCKOUTS) == before + 2


async def test_each_committed_sale_is_counted_once_whichever_protocol_asked(
        metered: httpx.AsyncClient) -> None:
    """Sales and units sold (their rates are sales and units per second): counted at the
    commit, so a REST sale, a GraphQL one, a committed hold and a replay count as the
    sales they are, and a refusal not at all."""
    store, (sku,) = await stocked(metered, quantity=20)
    text = await scrape(metered)
    pos, online = (value(text, "stockline_sales_total", channel=c) for c in ("pos", "ecommerce"))
    units = value(text, "stockline_units_sold_total")
    key = {"Idempotency-Key": random_code("COUNT")}
    for _ in range(2):  # the second is a replay: not a sale
        answer = await metered.post("/v1/sales/record", headers=key,
                                    json={"location_id": store, "lines": [line(sku, 2)]})
        assert answer.status_code == 201
    assert (await metered.post("/v1/sales/record", json={
        "location_id": store, "lines": [line(sku, 99)]})).status_code == 409
    sold = await gql(metered, GQL_SALE, {"input": {"locationId": store, "lines": [
        {"sku": sku, "quantity": 3, "unitPrice": {"amount": "4.00", "currency": "USD"}}]}})
    assert sold["recordSale"]["userErrors"] == []
    hold = await reserve(metered, store, [hold_line(sku, 4, "5.00")])
    committed = await metered.post(f"/v1/reservations/{hold['id']}/commit")
    assert committed.status_code == 201, committed.text
    text = await scrape(metered)
    assert value(text, "stockline_sales_total", channel="pos") == pos + 2
    assert value(text, "stockline_sales_total", channel="ecommerce") == online + 1  # the hold's
    assert value(text, "stockline_units_sold_total") == units + 2 + 3 + 4


async def test_levels_at_or_under_their_reorder_point_are_counted(
        metered: httpx.AsyncClient) -> None:
    name = "stockline_levels_below_reorder_point"
    store, (sku,) = await stocked(metered, quantity=5)
    before = value(await scrape(metered), name)
    await set_reorder(metered, store, sku, 5)  # available 5: at the point
    assert value(await scrape(metered), name) == before + 1
    await receive(metered, store, sku, 1)  # 6: above it
    assert value(await scrape(metered), name) == before


async def test_requests_refused_for_a_rate_limit_are_counted_by_role(
        metered: httpx.AsyncClient) -> None:
    labels = {"limit": "principal", "role": "store_staff"}
    key = (await create_api_key(metered, "store_staff", rate_limit=0.5))["key"]
    before = value(await scrape(metered), "stockline_rate_limit_refusals_total", **labels)
    answers = [await as_key(metered, key, "GET", "/v1/products") for _ in range(4)]
    refused = sum(a.status_code == 429 for a in answers)
    assert refused >= 2, [a.status_code for a in answers]  # a bucket of one request
    after = value(await scrape(metered), "stockline_rate_limit_refusals_total", **labels)
    assert after == before + refused


async def test_an_address_out_of_failed_credentials_is_counted(
        metered: httpx.AsyncClient, container: Container) -> None:
    labels = {"limit": "failed_credentials", "role": "none"}
    budget = FailureBudget(container.limiter, limit=1, per_minute=1)
    address = f"198.51.100.{time.monotonic_ns() % 250 + 1}"
    before = value(await scrape(metered), "stockline_rate_limit_refusals_total", **labels)
    assert budget.admit(address) is None  # its one attempt: refused, and spent
    await budget.spend(address)
    budget.release(address)
    assert budget.admit(address) is not None
    after = value(await scrape(metered), "stockline_rate_limit_refusals_total", **labels)
    assert after == before + 1


async def test_open_streams_are_counted_by_protocol(metered: httpx.AsyncClient,
                                                    container: Container) -> None:
    name = "stockline_stream_clients"
    before = value(await scrape(metered), name, protocol="websocket")
    slots = [container.hub.open_stream("metrics-test", 5, "websocket") for _ in range(2)]
    assert value(await scrape(metered), name, protocol="websocket") == before + 2
    for slot in slots:
        slot.release()
        slot.release()  # a second release changes nothing
    assert value(await scrape(metered), name, protocol="websocket") == before


async def test_the_leading_relay_reports_its_rounds(metered: httpx.AsyncClient) -> None:
    started = time.time()

    async def reported() -> bool:
        text = await scrape(metered)
        return (value(text, "stockline_relay_leading") == 1 and value(
            text, "stockline_relay_last_round_timestamp_seconds") >= started)

    await eventually(reported, what="a round of the session's relay, as leader")


# -- read from the database at scrape time ---------------------------------------------------

async def test_the_outbox_backlog_its_age_and_the_unpublished_events(quiet: Quiet) -> None:
    client, relay = quiet.client, quiet.container.relay
    while await relay.step():  # what earlier tests left
        pass
    text = await scrape(client)
    assert value(text, "stockline_outbox_pending") == 0
    assert value(text, "stockline_outbox_oldest_pending_age_seconds") == 0
    await stocked(client, quantity=2)
    await asyncio.sleep(0.01)
    text = await scrape(client)
    assert value(text, "stockline_outbox_pending") >= 2  # the product, the receipt, ...
    assert value(text, "stockline_outbox_oldest_pending_age_seconds") > 0
    assert await relay.step()  # moved into the log and published
    text = await scrape(client)
    assert value(text, "stockline_outbox_pending") == 0
    assert value(text, "stockline_outbox_oldest_pending_age_seconds") == 0
    assert value(text, "stockline_events_unpublished") == 0
    assert value(text, "stockline_relay_lease_expires_timestamp_seconds") > time.time()
    # Events logged but not on the bus yet: the relay publishes them from the log.
    await execute_sql(quiet.url, update(relay_state).values(
        published_through=relay_state.c.last_event_id - 2))
    assert value(await scrape(client), "stockline_events_unpublished") == 2
    assert await relay.step()
    assert value(await scrape(client), "stockline_events_unpublished") == 0


async def test_paused_webhooks_and_the_deliveries_waiting(quiet: Quiet) -> None:
    client, relay = quiet.client, quiet.container.relay
    hook = await create_webhook(client, "http://127.0.0.1:9/hook", ["inventory.changed"])
    while await relay.step():
        pass
    text = await scrape(client)
    paused, pending = (value(text, "stockline_webhooks_paused"),
                       value(text, "stockline_webhook_deliveries_pending"))
    await execute_sql(quiet.url, update(webhooks).where(webhooks.c.id == hook["id"])
                      .values(status="paused", paused_reason="the receiver failed too long"))
    assert value(await scrape(client), "stockline_webhooks_paused") == paused + 1
    store, (sku,) = await stocked(client, quantity=1)
    await receive(client, store, sku, 1)
    while await relay.step():  # logged: a delivery queued for each inventory.changed
        pass
    assert value(await scrape(client), "stockline_webhook_deliveries_pending") == pending + 2
    assert (await client.delete(f"/v1/webhooks/{hook['id']}")).status_code == 200
    assert value(await scrape(client), "stockline_webhooks_paused") == paused


# -- reconciliation --------------------------------------------------------------------------

async def test_the_scheduled_reconcile_exports_its_drift_by_check(quiet: Quiet) -> None:
    client, container = quiet.client, quiet.container
    assert container.reconcile is not None  # STOCKLINE_RECONCILE_INTERVAL_SECONDS is set
    store, (sku,) = await stocked(client, quantity=4)
    while await container.relay.step():  # leads the relay: the one process that reconciles
        pass
    started = time.time()
    assert await container.reconcile() == 0
    assert await container.reconcile() is None  # the next run is an interval away
    text = await scrape(client)
    assert {labels["check"] for name, labels, _ in samples(text)
            if name == "stockline_reconcile_drift"} == {c.value for c in Check}
    assert sum(v for name, _, v in samples(text) if name == "stockline_reconcile_drift") == 0
    assert value(text, "stockline_reconcile_last_run_timestamp_seconds") >= started - 1
    assert value(text, "stockline_reconcile_levels_checked") >= 1

    level = ((inventory_levels.c.location_id == store) & (inventory_levels.c.sku == sku))
    await execute_sql(quiet.url, update(inventory_levels).where(level)
                      .values(on_hand=inventory_levels.c.on_hand + 3))
    try:
        due_now = ScheduledReconcile(container.database.read, interval=timedelta(hours=1),
                                     leading=lambda: True, clock=utcnow)
        due_now.on_report = container.reconcile.on_report  # as the app's lifespan wired it
        assert await due_now() == 2
        text = await scrape(client)
        assert sample(text, "stockline_reconcile_drift", check="on_hand_ledger") == 1
        assert sample(text, "stockline_reconcile_drift", check="ledger_balance") == 1
        assert sample(text, "stockline_reconcile_drift", check="reserved_reservations") == 0
    finally:
        await execute_sql(quiet.url, update(inventory_levels).where(level)
                          .values(on_hand=inventory_levels.c.on_hand - 3))


async def test_a_process_that_does_not_lead_the_relay_does_not_reconcile(
        quiet: Quiet) -> None:
    job = ScheduledReconcile(quiet.container.database.read, interval=timedelta(seconds=1),
                             leading=lambda: False, clock=utcnow)
    reports: list[object] = []
    job.on_report = lambda report, at: reports.append(report)
    assert await job() is None and reports == []


async def test_reconcile_writes_its_result_for_the_node_exporter(quiet: Quiet,
                                                                 tmp_path: Path) -> None:
    path = tmp_path / "stockline.prom"
    store, (sku,) = await stocked(quiet.client, quantity=2)
    started = time.time()
    code, out, err = await asyncio.to_thread(run_cli, quiet.url, "reconcile",
                                             "--textfile", str(path))
    assert code == 0, (out, err)
    text = path.read_text()
    assert {labels["check"] for name, labels, v in samples(text)
            if name == "stockline_reconcile_drift" and v == 0} == {c.value for c in Check}
    assert value(text, "stockline_reconcile_last_run_timestamp_seconds") >= started - 1
    assert value(text, "stockline_reconcile_levels_checked") >= 1
    assert not any(name.startswith(("stockline_stream", "stockline_relay"))
                   for name, _, _ in samples(text))

    level = ((inventory_levels.c.location_id == store) & (inventory_levels.c.sku == sku))
    await execute_sql(quiet.url, update(inventory_levels).where(level)
                      .values(on_hand=inventory_levels.c.on_hand - 1))
    try:
        code, out, err = await asyncio.to_thread(run_cli, quiet.url, "reconcile",
                                                 "--textfile", str(path))
        assert code == 1, (out, err)  # drift: the exit status says so, as before
        assert sample(path.read_text(), "stockline_reconcile_drift",
                      check="on_hand_ledger") == 1
    finally:
        await execute_sql(quiet.url, update(inventory_levels).where(level)
                          .values(on_hand=inventory_levels.c.on_hand + 1))
    code, out, err = await asyncio.to_thread(run_cli, quiet.url, "reconcile", "--textfile",
                                             str(tmp_path / "missing" / "x.prom"))
    assert code == 2 and "cannot write" in out + err
    code, out, err = await asyncio.to_thread(run_cli, quiet.url, "reconcile", "--textfile",
                                             str(path), "--location-id", store)
    assert code == 2 and "--location-id" in out + err
