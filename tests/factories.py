"""Random codes instead of cleanup, and helpers that set up state through the API."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import httpx
import nats
import pytest
from aio_pika.exceptions import CONNECTION_EXCEPTIONS as AMQP_ERRORS
from nats.errors import Error as NatsError
from nats.js.errors import NotFoundError
from redis import asyncio as aioredis
from redis.exceptions import RedisError
from typer.testing import CliRunner

from stockline.adapters.bus.nats import NatsBus
from stockline.adapters.bus.rabbitmq import RabbitBus
from stockline.adapters.bus.redis import RedisBus
from stockline.adapters.database import open_database
from stockline.adapters.migrate import upgrade
from stockline.entrypoints.cli import app as cli_app
from stockline.entrypoints.http.app import create_app


async def migrate(url: str) -> None:
    """Bring the database at ``url`` to the newest schema."""
    database = open_database(url)
    try:
        await upgrade(database.write)
    finally:
        await database.dispose()


def random_code(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10].upper()}"


def random_sku() -> str:
    return random_code("SKU")


def random_location() -> str:
    return random_code("LOC")


def price(amount: str = "10.00", currency: str = "USD") -> dict[str, str]:
    return {"amount": amount, "currency": currency}


def line(sku: str, quantity: int = 1, amount: str = "10.00") -> dict[str, Any]:
    return {"sku": sku, "quantity": quantity, "unit_price": price(amount)}


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code < 300, response.text
    body: dict[str, Any] = response.json()
    return body


async def create_product(client: httpx.AsyncClient, sku: str | None = None,
                         **fields: Any) -> dict[str, Any]:
    body = {"sku": sku or random_sku(), "name": "Test product", "category": "test",
            "price": price(), **fields}
    return _ok(await client.post("/v1/products", json=body))


async def create_store(client: httpx.AsyncClient, code: str | None = None,
                       **fields: Any) -> dict[str, Any]:
    body = {"code": code or random_location(), "name": "Test store", "region": "test",
            **fields}
    return _ok(await client.post("/v1/retail-locations", json=body))


async def create_warehouse(client: httpx.AsyncClient, code: str | None = None,
                           **fields: Any) -> dict[str, Any]:
    body = {"code": code or random_code("WH"), "name": "Test warehouse", **fields}
    return _ok(await client.post("/v1/warehouses", json=body))


async def receive(client: httpx.AsyncClient, location_id: str, sku: str,
                  quantity: int) -> dict[str, Any]:
    return _ok(await client.post("/v1/inventory/update", json={
        "location_id": location_id, "sku": sku, "delta": quantity, "reason": "receipt"}))


async def stocked(client: httpx.AsyncClient, quantity: int = 10,
                  skus: int = 1) -> tuple[str, list[str]]:
    """A new store holding ``quantity`` units of each of ``skus`` new products (many of
    them: through a products file and one batch of receipts)."""
    store = (await create_store(client))["code"]
    if skus > 10:
        return store, await _stocked_in_bulk(client, store, quantity, skus)
    codes = []
    for _ in range(skus):
        sku = (await create_product(client))["sku"]
        await receive(client, store, sku, quantity)
        codes.append(sku)
    return store, codes


async def _stocked_in_bulk(client: httpx.AsyncClient, store: str, quantity: int,
                          skus: int) -> list[str]:
    codes = [random_sku() for _ in range(skus)]
    rows = "".join(f"{sku},Test product,test,10.00,USD\n" for sku in codes)
    _ok(await client.post("/v1/imports/products", headers={"Content-Type": "text/csv"},
                          content="sku,name,category,price_amount,price_currency\n" + rows))
    for start in range(0, skus, 500):
        items = [{"location_id": store, "sku": sku, "delta": quantity, "reason": "receipt"}
                 for sku in codes[start:start + 500]]
        results = _ok(await client.post("/v1/inventory/batch", json={"items": items}))
        assert {r["status"] for r in results["results"]} == {200}, results
    return codes


async def level(client: httpx.AsyncClient, location_id: str, sku: str) -> dict[str, Any]:
    """The level as writes answer it (the lots that GET lists are left out: see ``lots``)."""
    body = _ok(await client.get(f"/v1/inventory/{location_id}/{sku}"))
    body.pop("lots", None)
    return body


async def lots(client: httpx.AsyncClient, location_id: str, sku: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = _ok(
        await client.get(f"/v1/inventory/{location_id}/{sku}"))["lots"]
    return found


async def ledger(client: httpx.AsyncClient, location_id: str, sku: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"location_id": location_id, "sku": sku, "limit": 500}
        if cursor:
            params["cursor"] = cursor
        page = _ok(await client.get("/v1/stock-movements", params=params))
        entries.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return entries


async def assert_ledger_identity(client: httpx.AsyncClient, location_id: str,
                                 sku: str) -> dict[str, Any]:
    """on_hand equals the sum of the ledger's deltas, and each balance_after adds up."""
    current = await level(client, location_id, sku)
    entries = await ledger(client, location_id, sku)
    running = 0
    for entry in entries:
        running += entry["delta"]
        assert entry["balance_after"] == running, entry
    assert current["on_hand"] == running, (current, running)
    assert current["available"] >= 0
    return current


# -- helpers for the e2e suites ---------------------------------------------------------

PROBLEM_JSON = "application/problem+json"


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """An RFC 9457 problem with this status and stable ``code``; returns its body."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["status"] == status, body
    assert isinstance(body["title"], str) and body["title"], body
    assert isinstance(body["detail"], str) and body["detail"], body
    assert isinstance(body["type"], str) and body["type"], body
    return body


def error_fields(problem: dict[str, Any]) -> list[str]:
    """The ``field`` of every entry of a validation problem's ``errors`` list."""
    errors = problem.get("errors")
    assert isinstance(errors, list) and errors, problem
    return [str(e["field"]) for e in errors]


async def collect(client: httpx.AsyncClient, path: str, params: dict[str, Any] | None = None,
                  *, limit: int = 500) -> list[dict[str, Any]]:
    """Every item of a list, following ``next_cursor`` to the end."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query: dict[str, Any] = {**(params or {}), "limit": limit}
        if cursor:
            query["cursor"] = cursor
        page = _ok(await client.get(path, params=query))
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def sales_at(client: httpx.AsyncClient, location_id: str) -> list[dict[str, Any]]:
    return await collect(client, "/v1/sales", {"location_id": location_id})


async def record_sale(client: httpx.AsyncClient, location_id: str, lines: list[dict[str, Any]],
                      **fields: Any) -> dict[str, Any]:
    return _ok(await client.post("/v1/sales/record",
                                 json={"location_id": location_id, "lines": lines, **fields}))


async def without_credentials(client: httpx.AsyncClient, method: str, url: str,
                              headers: dict[str, str] | None = None,
                              **kwargs: Any) -> httpx.Response:
    """Send through ``client`` without its default API key (plus ``headers``, if given)."""
    request = client.build_request(method, url, **kwargs)
    del request.headers["X-API-Key"]
    request.headers.update(headers or {})
    return await client.send(request)


@contextlib.asynccontextmanager
async def admin_client(settings: Any, container: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the app on ``container``, in process (ASGI transport, no socket), with
    the app's lifespan and the admin key of ``settings``."""
    app = create_app(settings, container=container)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://stockline.test",
            headers={"X-API-Key": settings.admin_key.get_secret_value()}) as client:
        yield client


def app_of(client: httpx.AsyncClient) -> Any:
    """The ASGI app behind an in-process client."""
    return client._transport.app  # type: ignore[attr-defined]


async def send_raw(app: Any, method: str, path: str, headers: list[tuple[bytes, bytes]],
                   client: tuple[str, int] = ("127.0.0.1", 1234)
                   ) -> tuple[int, dict[bytes, bytes]]:
    """Call ``app`` with ``path`` exactly as a server hands it over (httpx resolves dot
    segments and refuses long URLs before sending): the answer's status and headers."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "headers": headers, "client": client,
             "server": ("stockline.test", 80)}
    answer: dict[str, Any] = {}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer.update(message)

    await app(scope, receive, send)
    return int(answer["status"]), dict(answer["headers"])


# -- transfers ----------------------------------------------------------------------------

def moves(*lines: tuple[str, int]) -> list[dict[str, Any]]:
    """Transfer or receipt lines: (sku, quantity) pairs as the API takes them."""
    return [{"sku": sku, "quantity": quantity} for sku, quantity in lines]


async def ship_transfer(client: httpx.AsyncClient, from_location_id: str, to_location_id: str,
                        *lines: tuple[str, int], **fields: Any) -> dict[str, Any]:
    return _ok(await client.post("/v1/stock-movements/transfer", json={
        "from_location_id": from_location_id, "to_location_id": to_location_id,
        "lines": moves(*lines), **fields}))


async def receive_transfer(client: httpx.AsyncClient, transfer_id: str,
                           *lines: tuple[str, int]) -> dict[str, Any]:
    """Receive ``lines``, or everything still in transit when none are given."""
    body = {"lines": moves(*lines)} if lines else {}
    return _ok(await client.post(f"/v1/stock-movements/transfers/{transfer_id}/receive",
                                 json=body))


async def cancel_transfer(client: httpx.AsyncClient, transfer_id: str,
                          **fields: Any) -> dict[str, Any]:
    return _ok(await client.post(f"/v1/stock-movements/transfers/{transfer_id}/cancel",
                                 json=fields))


async def get_transfer(client: httpx.AsyncClient, transfer_id: str) -> dict[str, Any]:
    return _ok(await client.get(f"/v1/stock-movements/transfers/{transfer_id}"))


# -- purchasing ---------------------------------------------------------------------------

async def create_supplier(client: httpx.AsyncClient, code: str | None = None, *,
                          products: dict[str, str] | None = None,
                          lead_time_days: int | None = 7, **fields: Any) -> dict[str, Any]:
    """A supplier selling ``products`` ({sku: cost in USD})."""
    body = {"code": code or random_code("SUP"), "name": "Test supplier",
            "lead_time_days": lead_time_days,
            "products": [{"sku": sku, "cost": price(amount)}
                         for sku, amount in (products or {}).items()], **fields}
    return _ok(await client.post("/v1/suppliers", json=body))


async def create_purchase_order(client: httpx.AsyncClient, supplier_id: str, location_id: str,
                                quantities: dict[str, int], **fields: Any) -> dict[str, Any]:
    body = {"supplier_id": supplier_id, "location_id": location_id,
            "lines": [{"sku": sku, "quantity": q} for sku, q in quantities.items()], **fields}
    return _ok(await client.post("/v1/purchase-orders", json=body))


async def set_reorder(client: httpx.AsyncClient, location_id: str, sku: str,
                      reorder_point: int | None, **settings: int | None) -> dict[str, Any]:
    return _ok(await client.put(f"/v1/inventory/{location_id}/{sku}/settings",
                                json={"reorder_point": reorder_point, **settings}))


# -- reservations and returns ---------------------------------------------------------------

def hold_line(sku: str, quantity: int = 1, amount: str | None = None) -> dict[str, Any]:
    """A reservation line; without ``amount`` the sale takes the product's price."""
    found: dict[str, Any] = {"sku": sku, "quantity": quantity}
    if amount is not None:
        found["unit_price"] = price(amount)
    return found


async def reserve(client: httpx.AsyncClient, location_id: str, lines: list[dict[str, Any]],
                  **fields: Any) -> dict[str, Any]:
    return _ok(await client.post("/v1/reservations",
                                 json={"location_id": location_id, "lines": lines, **fields}))


async def return_items(client: httpx.AsyncClient, sale_id: str, lines: list[dict[str, Any]],
                       *, restock: bool = True, reason: str = "wrong_size",
                       **fields: Any) -> dict[str, Any]:
    """Return ``lines`` (``{"sku", "quantity"}``) of a sale; the 201 answer."""
    return _ok(await client.post(f"/v1/sales/{sale_id}/returns", json={
        "lines": lines, "restock": restock, "reason": reason, **fields}))


# -- webhooks -------------------------------------------------------------------------------

async def create_webhook(client: httpx.AsyncClient, url: str, event_types: list[str] | None = None,
                         **fields: Any) -> dict[str, Any]:
    """A webhook (the 201 answer, with its secret) for ``event_types`` (default: all)."""
    return _ok(await client.post("/v1/webhooks", json={
        "url": url, "event_types": event_types or ["*"], **fields}))


async def deliveries(client: httpx.AsyncClient, webhook_id: str,
                     **params: Any) -> list[dict[str, Any]]:
    """A webhook's whole delivery log, oldest event first."""
    found = await collect(client, f"/v1/webhooks/{webhook_id}/deliveries", params)
    return sorted(found, key=lambda d: int(d["event_id"]))


# -- event streams ------------------------------------------------------------------------

EVENT_KEYS = {"id", "type", "occurred_at", "location_id", "sku", "data"}


# What a stream sends beside change events (each named by its type, e.g. sale.recorded).
SSE_CONTROL = frozenset({"comment", "reset", "close"})


@dataclass(frozen=True)
class SseMessage:
    """One Server-Sent Event as a client sees it; ``event`` is "comment" for a comment."""

    event: str
    data: str
    id: str | None = None
    at: float = field(default_factory=time.monotonic, compare=False)  # when it arrived

    def json(self) -> Any:
        return json.loads(self.data)

    @property
    def change(self) -> bool:
        """A change event (named by its type), not a comment or a control event."""
        return self.event not in SSE_CONTROL


async def sse_messages(response: httpx.Response) -> AsyncIterator[SseMessage]:
    """The events (and comments) of a text/event-stream response, as they arrive."""
    event, event_id, data = "message", None, []
    async for line in response.aiter_lines():
        if not line:
            if data or event != "message" or event_id is not None:
                yield SseMessage(event, "\n".join(data), event_id)
            event, event_id, data = "message", None, []
        elif line.startswith(":"):
            yield SseMessage("comment", line[1:].strip())
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                data.append(value)
            elif name == "event":
                event = value
            elif name == "id":
                event_id = value


async def event_log(client: httpx.AsyncClient, after: int | None = None,
                    **filters: Any) -> list[dict[str, Any]]:
    """Every event of GET /v1/events after ``after`` matching ``filters``, oldest first."""
    items: list[dict[str, Any]] = []
    while True:
        params = {**filters, "limit": 500, **({"after": after} if after is not None else {})}
        page = _ok(await client.get("/v1/events", params=params))
        items.extend(page["items"])
        if page["next_cursor"] is None:
            return items
        after = int(page["next_cursor"])


async def wait_for_log(client: httpx.AsyncClient, count: int, *, within: float = 10.0,
                       **filters: Any) -> list[dict[str, Any]]:
    """The log matching ``filters`` once it holds at least ``count`` events (the relay moves
    committed changes a moment after they commit)."""
    deadline = time.monotonic() + within
    while True:
        found = await event_log(client, **filters)
        if len(found) >= count or time.monotonic() > deadline:
            assert len(found) >= count, (len(found), count, filters)
            return found
        await asyncio.sleep(0.05)


def percentile(values: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` fall (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


class EventStream:
    """An open GET /v1/events/stream: its messages are read in the background, so waiting
    for one with a timeout never breaks the stream."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.after = -1  # "subscribed after N": where the stream starts
        self._queue: asyncio.Queue[SseMessage | None] = asyncio.Queue()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for message in sse_messages(self.response):
                await self._queue.put(message)
        except httpx.HTTPError:
            pass
        finally:
            self._queue.put_nowait(None)

    async def next(self, within: float = 10.0, *, comments: bool = False) -> SseMessage | None:
        """The next message (comments skipped unless asked for); None once the stream ended."""
        while True:
            message = await asyncio.wait_for(self._queue.get(), within)
            if message is None:
                self._queue.put_nowait(None)
                return None
            if comments or message.event != "comment":
                return message

    async def events(self, count: int, within: float = 10.0) -> list[dict[str, Any]]:
        """The next ``count`` change events (each checked: SSE id equals the event's id)."""
        found = []
        for _ in range(count):
            message = await self.next(within)
            assert message is not None and message.change, message
            event = message.json()
            assert message.id == str(event["id"]) and set(event) == EVENT_KEYS, message
            assert message.event == event["type"], message
            found.append(event)
        return found

    async def quiet(self, seconds: float) -> list[SseMessage]:
        """Whatever (but comments) arrives within ``seconds``."""
        found: list[SseMessage] = []
        deadline = time.monotonic() + seconds
        with contextlib.suppress(TimeoutError):
            while (left := deadline - time.monotonic()) > 0:
                message = await self.next(left)
                if message is None:
                    break
                found.append(message)
        return found

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


@contextlib.asynccontextmanager
async def open_event_stream(client: httpx.AsyncClient, params: Any = None,
                            headers: dict[str, str] | None = None
                            ) -> AsyncIterator[EventStream]:
    """GET /v1/events/stream, once the server has subscribed (its first comment)."""
    async with client.stream("GET", "/v1/events/stream", params=params, headers=headers,
                             timeout=httpx.Timeout(10.0, read=None)) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = EventStream(response)
        try:
            first = await stream.next(comments=True)
            assert first is not None and first.data.startswith("subscribed after "), first
            stream.after = int(first.data.rsplit(" ", 1)[1])
            yield stream
        finally:
            await stream.close()


async def sale_to_streams(writer: httpx.AsyncClient, store: str, sku: str,
                          streams: list[EventStream]) -> list[float]:
    """One sale through ``writer``; for each stream (filtered to the store's sales), the
    seconds from the sale's 201 to its ``sale.recorded`` there (0 when it came first)."""
    sale = await record_sale(writer, store, [line(sku)])
    answered = time.monotonic()
    delays = []
    for stream in streams:
        message = await stream.next(5.0)
        assert message is not None and message.event == "sale.recorded", message
        event = message.json()
        assert (event["type"], event["data"]["sale_id"]) == ("sale.recorded", sale["id"]), event
        delays.append(max(0.0, message.at - answered))
    return delays


# -- event buses ------------------------------------------------------------------------------

BROKERS = {"nats": os.environ.get("STOCKLINE_TEST_NATS_URL", "nats://127.0.0.1:4222"),
           "redis": os.environ.get("STOCKLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
           "rabbitmq": os.environ.get("STOCKLINE_TEST_RABBITMQ_URL",
                                      "amqp://guest:guest@127.0.0.1:5672/")}


async def _unreachable(url: str) -> str | None:
    """Why the broker at ``url`` cannot serve as the bus, or None when it can."""
    try:
        if url.startswith("nats"):
            # nats.connect retries a refused first connection for ever: bound it.
            client = await asyncio.wait_for(nats.connect(url, connect_timeout=2,
                                                         allow_reconnect=False), 5)
            try:
                await client.jetstream(timeout=2).account_info()  # JetStream enabled
            finally:
                await client.close()
        elif url.startswith("amqp"):
            connection = await asyncio.wait_for(aio_pika.connect(url, timeout=2), 5)
            await connection.close()
        else:
            redis = aioredis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
            try:
                await redis.ping()
            finally:
                await redis.aclose()
    except TimeoutError:
        return "no answer within 5 s"
    except (OSError, NatsError, RedisError, *AMQP_ERRORS) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


async def require_broker(url: str) -> None:
    problem = await _unreachable(url)
    if problem is not None:
        message = f"no event bus at {url}: {problem}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (required under CI)")
        pytest.skip(message)


async def forget_channel(url: str, channel: str) -> None:
    """Remove what a test's channel left in the broker (the NATS stream, the Redis key,
    the RabbitMQ stream queue)."""
    if url.startswith("nats"):
        client = await asyncio.wait_for(nats.connect(url, connect_timeout=2,
                                                     allow_reconnect=False), 5)
        try:
            await client.jetstream(timeout=2).delete_stream(NatsBus(url, channel=channel).stream)
        except NotFoundError:
            pass
        finally:
            await client.close()
    elif url.startswith("amqp"):
        connection = await asyncio.wait_for(aio_pika.connect(url, timeout=2), 5)
        try:
            amqp = await connection.channel()
            # Not only when unused or empty: a test's stream has both readers and events.
            await amqp.queue_delete(RabbitBus(url, channel=channel).queue, if_unused=False,
                                    if_empty=False)
        finally:
            await connection.close()
    else:
        redis = aioredis.from_url(url)
        try:
            await redis.delete(RedisBus(url, channel=channel).key)
        finally:
            await redis.aclose()


def bus_env(url: str, channel: str) -> dict[str, str]:
    """A server's settings for a bus; its hub's fallback poll of the log slowed to 30 s,
    so that events reach it in time only through the bus."""
    return {"STOCKLINE_BUS_URL": url, "STOCKLINE_BUS_CHANNEL": channel,
            "STOCKLINE_HUB_POLL_INTERVAL_SECONDS": "30"}


# -- API keys and access tokens -----------------------------------------------------------

async def create_api_key(client: httpx.AsyncClient, role: str = "store_staff",
                         name: str | None = None, **fields: Any) -> dict[str, Any]:
    """An API key (the 201 answer, with the key itself as ``key``)."""
    return _ok(await client.post("/v1/api-keys", json={
        "name": name or random_code("KEY"), "role": role, **fields}))


async def as_key(client: httpx.AsyncClient, key: str, method: str, url: str, *,
                 bearer: bool = False, **kwargs: Any) -> httpx.Response:
    """Send through ``client`` with ``key`` (an API key or a token) instead of the admin key:
    as X-API-Key, or as ``Authorization: Bearer``."""
    header = {"Authorization": f"Bearer {key}"} if bearer else {"X-API-Key": key}
    return await without_credentials(client, method, url, header, **kwargs)


async def execute_sql(database_url: str, *statements: Any) -> None:
    """Statements run straight on the database, in one transaction (to plant what the API
    would never write: drift, data stored by older versions)."""
    database = open_database(database_url)
    try:
        async with database.write.begin() as conn:
            for stmt in statements:
                await conn.execute(stmt)
    finally:
        await database.dispose()


# -- API keys (made straight in the database, as `POST /v1/api-keys` would) ---------------

@dataclass(frozen=True)
class MadeKey:
    id: str
    key: str  # the secret to send as X-API-Key
    role: str


async def insert_api_key(database_url: str, role: str, *, rate_limit: float | None = None,
                         location_ids: list[str] | None = None,
                         name: str | None = None) -> MadeKey:
    """An API key of ``role`` (with its own rate limit, in requests a second, if given)."""
    from datetime import UTC, datetime

    from stockline.adapters.credentials import new_api_key
    from stockline.adapters.tables import api_keys
    from stockline.domain.ids import new_id

    issued, key_id = new_api_key(), new_id("key")
    database = open_database(database_url)
    try:
        async with database.write.begin() as conn:
            await conn.execute(api_keys.insert().values(
                id=key_id, prefix=issued.prefix, secret_hash=issued.secret_hash,
                name=name or f"test {role} key", role=role, location_ids=location_ids,
                rate_limit=rate_limit, created_by="tests", created_at=datetime.now(UTC)))
    finally:
        await database.dispose()
    return MadeKey(key_id, issued.key, role)


# -- requests as another key ------------------------------------------------------------

async def send_as(client: httpx.AsyncClient, key: str | None, method: str, url: str,
                  **kwargs: Any) -> httpx.Response:
    """One request through ``client`` with ``key`` instead of its own (None: no credential).

    A 429 (the caller's rate limit) is waited out and sent again: the suites that use this
    are about who may do what, not about how often.
    """
    for _ in range(20):
        request = client.build_request(method, url, **kwargs)
        del request.headers["X-API-Key"]
        if key is not None:
            request.headers["X-API-Key"] = key
        response = await client.send(request)
        if response.status_code != 429:
            return response
        await asyncio.sleep(min(2.0, float(response.headers.get("Retry-After", "0.2"))))
    return response


def run_cli(url: str, *args: str) -> tuple[int, str, str]:
    """``stockline <args> --database-url <url>``: exit code, stdout and stderr. The
    command reads its settings from the environment too; CliRunner puts back what it
    changed."""
    result = CliRunner().invoke(cli_app, [*args, "--database-url", url],
                                env={"STOCKLINE_DATABASE_URL": url})
    return result.exit_code, result.stdout, result.stderr
