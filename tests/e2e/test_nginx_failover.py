"""Three nodes on PostgreSQL and NATS behind nginx (deploy/nginx/stockline.conf, as
shipped but for its site lines); the node that leads the relay is killed (SIGKILL) while
sales and event streams run through nginx.

Sale clients send each sale with its own Idempotency-Key and send it again, with the same
key, after a dropped connection, a 503 (what nginx answers when the node that had the
request died) or a 409 ``idempotency_key_in_use``. Stream clients follow the store's
``sale.recorded`` events and, when a stream is cut, reconnect through nginx with
Last-Event-ID. Then the killed node is replaced as an operator would (a new node, nginx
reloaded with its address) and more sales follow. Afterwards every key has exactly one
sale, the ledger holds them all, each stream client has seen every sale event once and in
order, the event log has no gap across the relay's change of leader, and reconciliation
finds no drift. The figures are printed (``pytest -s``).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import ssl
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_KEY, Databases, LiveServer, start_server, stop_server
from tests.e2e.test_tls import self_signed
from tests.factories import (
    BROKERS,
    assert_ledger_identity,
    bus_env,
    collect,
    event_log,
    forget_channel,
    line,
    require_broker,
    sse_messages,
    stocked,
    wait_for_log,
)
from tests.nginx_support import (
    UPSTREAM_HEADER,
    Nginx,
    Site,
    nginx_binary,
    reload_nginx,
    running_nginx,
    start_nodes,
)

pytestmark = pytest.mark.slow

NODES = 3
CLIENTS = 8
SALES_EACH = 30  # while a node is killed
LATER_EACH = 5  # once nginx has been reloaded with a node in place of the killed one
SALES = CLIENTS * (SALES_EACH + LATER_EACH)
READERS = 3  # more are opened (up to MAX_READERS) until one follows the node to kill
MAX_READERS = 9
PACE = 0.02  # seconds between two sales of one client: the run lasts long enough to cut
ATTEMPTS = 40  # per sale; a retry waits Retry-After or 0.25 s
WITHIN = 45.0  # bound on each wait (a loaded machine is slow, never stuck)


def _report(text: str) -> None:
    print(text)  # noqa: T201 - the figures are wanted in the output of `pytest -s`


@dataclass(frozen=True)
class Cluster:
    nodes: list[LiveServer]  # every node started, the killed one included
    nginx: Nginx
    certificate: Path
    start_node: Callable[[], LiveServer]  # another node like these

    def client(self, **kwargs: Any) -> httpx.AsyncClient:
        verify = ssl.create_default_context(cafile=self.certificate)
        return httpx.AsyncClient(base_url=self.nginx.base_url, verify=verify,
                                 headers={"X-API-Key": ADMIN_KEY}, **kwargs)


@pytest.fixture
async def cluster(databases: Databases, tmp_path_factory: pytest.TempPathFactory
                  ) -> AsyncIterator[Cluster]:
    nginx_binary()
    url = BROKERS["nats"]
    await require_broker(url)
    database = await databases.new("postgres")
    channel = f"t{uuid.uuid4().hex[:16]}"
    # A short relay lease: another node takes over from the killed leader within seconds.
    # One idempotency secret for all (each node would otherwise make its own, and a retry
    # reaching another node than its first attempt's would be refused as a reused key).
    env = {**bus_env(url, channel), "STOCKLINE_TRUSTED_PROXIES": "127.0.0.1",
           "STOCKLINE_RELAY_LEASE_SECONDS": "3",
           "STOCKLINE_IDEMPOTENCY_SECRET": secrets.token_urlsafe(32),
           "STOCKLINE_SESSION_SECRET": secrets.token_urlsafe(32)}

    def another() -> LiveServer:
        return start_server(database, tmp_path_factory.mktemp("node"), extra_env=env)

    nodes = await asyncio.to_thread(start_nodes, *[another] * NODES)
    directory = tmp_path_factory.mktemp("nginx-failover")
    cert, key = self_signed(directory)
    site = Site.on_free_ports([_address(node) for node in nodes], cert, key)
    try:
        with running_nginx(directory / "nginx", site) as nginx:
            yield Cluster(nodes, nginx, cert, another)
    finally:
        for node in nodes:
            stop_server(node)
        await forget_channel(url, channel)


def _address(node: LiveServer) -> str:
    return node.base_url.removeprefix("http://")


@dataclass
class Sales:
    """What the sale clients sent and were answered."""

    store: str
    sku: str
    answered: dict[str, str] = field(default_factory=dict)  # key -> sale id
    retries: Counter[str] = field(default_factory=Counter)  # why, how often
    replayed: int = 0
    third: asyncio.Event = field(default_factory=asyncio.Event)  # a third answered

    async def sell(self, client: httpx.AsyncClient, each: int, first: int = 0) -> None:
        """``each`` sales from each of the CLIENTS at once (keys numbered from ``first``)."""
        await asyncio.wait_for(asyncio.gather(*(
            self._sell(client, [f"{self.store}-{c}-{n}" for n in range(first, first + each)])
            for c in range(CLIENTS))), WITHIN * 2)

    async def _sell(self, client: httpx.AsyncClient, keys: list[str]) -> None:
        for key in keys:
            await self._one(client, key)
            await asyncio.sleep(PACE)

    async def _one(self, client: httpx.AsyncClient, key: str) -> None:
        body = {"location_id": self.store, "lines": [line(self.sku)], "external_ref": key}
        for _ in range(ATTEMPTS):
            try:
                response = await client.post("/v1/sales/record", json=body,
                                             headers={"Idempotency-Key": key})
            except httpx.TransportError as error:
                self.retries[type(error).__name__] += 1
                await asyncio.sleep(0.25)
                continue
            if response.status_code == 201:
                self.answered[key] = response.json()["id"]
                self.replayed += response.headers.get("idempotent-replayed") == "true"
                if len(self.answered) >= CLIENTS * SALES_EACH // 3:
                    self.third.set()
                return
            code = response.json().get("code")
            assert response.status_code == 503 or code == "idempotency_key_in_use", (
                key, response.status_code, response.text)
            self.retries[f"{response.status_code} {code}"] += 1
            await asyncio.sleep(float(response.headers.get("retry-after", 0.25)))
        raise AssertionError(f"sale {key}: not recorded after {ATTEMPTS} attempts")


@dataclass
class Reader:
    """One stream client of the store's sales: reconnects with Last-Event-ID until it
    has seen ``target``."""

    client: httpx.AsyncClient
    params: dict[str, str]
    ids: list[int] = field(default_factory=list)
    sale_ids: list[str] = field(default_factory=list)
    nodes: list[str] = field(default_factory=list)  # the node of each connection
    refused: Counter[int] = field(default_factory=Counter)
    control: Counter[str] = field(default_factory=Counter)  # reset / close events
    subscribed: asyncio.Event = field(default_factory=asyncio.Event)
    caught_up: asyncio.Event = field(default_factory=asyncio.Event)
    target: int | None = None

    @property
    def reconnects(self) -> int:
        return len(self.nodes) - 1

    def aim(self, target: int) -> None:
        self.target = target
        self.caught_up.clear()
        if self.ids and self.ids[-1] >= target:
            self.caught_up.set()

    async def run(self) -> None:
        while True:
            headers = {"Last-Event-ID": str(self.ids[-1])} if self.ids else {}
            with contextlib.suppress(httpx.HTTPError):
                await self._follow(headers)
            await asyncio.sleep(0.1)

    async def _follow(self, headers: dict[str, str]) -> None:
        async with self.client.stream("GET", "/v1/events/stream", params=self.params,
                                      headers=headers) as response:
            if response.status_code != 200:
                self.refused[response.status_code] += 1
                return
            self.nodes.append(response.headers[UPSTREAM_HEADER])
            async for message in sse_messages(response):
                if message.event == "comment":
                    if message.data.startswith("subscribed after"):
                        self.subscribed.set()
                    continue
                if not message.change:
                    self.control[message.event] += 1
                    return
                event = message.json()
                self.ids.append(int(event["id"]))
                self.sale_ids.append(event["data"]["sale_id"])
                if self.target is not None and self.ids[-1] >= self.target:
                    self.caught_up.set()


async def _open_reader(cluster: Cluster, params: dict[str, str],
                       tasks: list[asyncio.Task[Any]]) -> Reader:
    client = cluster.client(timeout=httpx.Timeout(10.0, read=60.0))
    reader = Reader(client, params)
    tasks.append(asyncio.create_task(reader.run()))
    await asyncio.wait_for(reader.subscribed.wait(), WITHIN)
    return reader


async def _leader(admin: httpx.AsyncClient, nodes: list[LiveServer]) -> LiveServer:
    """The node that holds the relay's lease (its name ends with its process id)."""
    deadline = time.monotonic() + WITHIN
    while time.monotonic() < deadline:
        status = (await admin.get("/v1/admin/status")).json()
        for node in status["nodes"]:
            if node["leads_relay"]:
                pid = int(node["name"].rsplit("-", 1)[1])
                return next(n for n in nodes if n.process.pid == pid)
        await asyncio.sleep(0.2)
    raise AssertionError("no node leads the relay")


async def _kill_when(sales: Sales, node: LiveServer) -> float:
    """SIGKILL ``node`` once a third of the first sales are answered; when it happened."""
    await sales.third.wait()
    node.process.kill()
    await asyncio.to_thread(node.process.wait, 15)
    return time.monotonic()


async def _resend(client: httpx.AsyncClient, sales: Sales, keys: list[str]
                  ) -> list[httpx.Response]:
    """The same sales sent again with their keys, whichever node each lands on."""
    return [await client.post("/v1/sales/record", headers={"Idempotency-Key": key}, json={
        "location_id": sales.store, "lines": [line(sales.sku)], "external_ref": key})
        for key in keys]


async def _catch_up(admin: httpx.AsyncClient, readers: list[Reader], sales: Sales,
                    params: dict[str, str]) -> list[dict[str, Any]]:
    """The log of the store's sale events once it holds every sale answered, and once
    every stream client has reached its end."""
    logged = await wait_for_log(admin, len(sales.answered), within=WITHIN, **params)
    for reader in readers:
        reader.aim(logged[-1]["id"])
    await asyncio.wait_for(asyncio.gather(*(r.caught_up.wait() for r in readers)), WITHIN)
    return logged


async def _until_served_by(client: httpx.AsyncClient, node: LiveServer) -> int:
    """Requests through nginx until ``node`` answers one; how many it took."""
    for n in range(1, 61):
        response = await client.get("/readyz")
        if response.headers.get(UPSTREAM_HEADER) == _address(node):
            return n
        await asyncio.sleep(0.25)
    raise AssertionError(f"nginx sent nothing to {_address(node)}")


async def test_killing_a_node_behind_nginx_loses_doubles_and_skips_nothing(
        cluster: Cluster) -> None:
    tasks: list[asyncio.Task[Any]] = []  # cancelled at the end, whatever happened
    readers: list[Reader] = []
    nginx = cluster.nginx
    async with cluster.client(timeout=30.0) as admin:
        store, (sku,) = await stocked(admin, quantity=SALES * 2)
        params = {"location_id": store, "types": "sale.recorded"}
        victim = await _leader(admin, cluster.nodes)
        sales = Sales(store, sku)
        try:
            while len(readers) < READERS or (
                    _address(victim) not in {r.nodes[0] for r in readers}
                    and len(readers) < MAX_READERS):
                readers.append(await _open_reader(cluster, params, tasks))
            async with cluster.client(timeout=30.0,
                                      limits=httpx.Limits(max_connections=CLIENTS)) as seller:
                began = time.monotonic()
                killing = asyncio.create_task(_kill_when(sales, victim))
                tasks.append(killing)
                await sales.sell(seller, SALES_EACH)
                killed_at = await asyncio.wait_for(killing, WITHIN)
                ended = time.monotonic()
                await _catch_up(admin, readers, sales, params)
                # the killed node replaced, as an operator would: a new node, nginx reloaded
                cluster.nodes.append(await asyncio.to_thread(cluster.start_node))
                nginx = await asyncio.to_thread(reload_nginx, nginx, [
                    _address(node) for node in cluster.nodes if node is not victim])
                tries = await _until_served_by(admin, cluster.nodes[-1])
                await sales.sell(seller, LATER_EACH, first=SALES_EACH)
            logged = await _catch_up(admin, readers, sales, params)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for reader in readers:
                await reader.client.aclose()
        again = await _resend(admin, sales, sorted(sales.answered)[::10])
        found = await collect(admin, "/v1/sales", {"location_id": store})
        level = await assert_ledger_identity(admin, store, sku)
        everything = await event_log(admin)  # this test's database: its events alone
        reconcile = (await admin.get("/v1/admin/reconcile")).json()

    per_key = Counter(sale["external_ref"] for sale in found)
    doubled = sorted(key for key, times in per_key.items() if times > 1)
    missing = sorted(set(sales.answered) - set(per_key))
    passed_on = [entry for entry in nginx.log_lines() if len(entry.upstreams) > 1]
    _report(f"nginx failover: {NODES} nodes, the relay's leader killed after "
            f"{killed_at - began:.1f} s of {ended - began:.1f} s of sales, then replaced "
            f"(nginx reloaded; the new node answered request {tries} after); sales sent "
            f"{SALES}, answered {len(sales.answered)}, found {len(found)}, doubled "
            f"{len(doubled)}, missing {len(missing)}; client retries "
            f"{sum(sales.retries.values())} {dict(sales.retries)}, answers replayed "
            f"{sales.replayed}; requests nginx passed on to another node {len(passed_on)}")
    for n, reader in enumerate(readers):
        seen = Counter(reader.ids)
        _report(f"  stream client {n}: {len(reader.ids)} events, missed "
                f"{len({e['id'] for e in logged} - set(seen))}, repeated "
                f"{sum(times - 1 for times in seen.values())}, reconnects "
                f"{reader.reconnects} (nodes {' -> '.join(reader.nodes)}), refused "
                f"{dict(reader.refused)}, control events {dict(reader.control)}")

    assert len(sales.answered) == SALES and not doubled and not missing
    assert len(found) == SALES and all(per_key[key] == 1 for key in sales.answered)
    assert [(r.status_code, r.headers.get("idempotent-replayed"), r.json().get("id", r.text))
            for r in again] == [(201, "true", sales.answered[key])
                                for key in sorted(sales.answered)[::10]]
    assert {sale["external_ref"]: sale["id"] for sale in found} == sales.answered
    assert level["on_hand"] == SALES  # SALES * 2 received, SALES sold
    # one event per sale, none for a sale that was not made
    assert sorted(e["data"]["sale_id"] for e in logged) == sorted(sales.answered.values())
    for reader in readers:
        assert reader.ids == [e["id"] for e in logged], reader.nodes
        assert reader.sale_ids == [e["data"]["sale_id"] for e in logged]
        assert not reader.control, reader.control  # no reset: every resume was in reach
    assert any(reader.reconnects for reader in readers)  # a stream was cut, and resumed
    ids = [e["id"] for e in everything]
    assert ids == list(range(ids[0], ids[0] + len(ids)))  # no gap across leaders
    assert reconcile["drift"] == [], reconcile
