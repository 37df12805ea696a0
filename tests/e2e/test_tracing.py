"""Traces, with the SDK's in-memory exporter handed to ``setup_tracing``: a sale's HTTP
span, its SQL statements and its group commit; GraphQL and gRPC; the relay, the bus, an
event stream and a webhook delivery carrying the sale's trace; and nothing at all when
tracing is off."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
import websockets
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import ProxyTracerProvider, SpanKind

from stockline.adapters.tracing import setup_tracing
from stockline.bootstrap import Container, bootstrap
from stockline.config import Settings
from stockline.entrypoints.grpc.server import GrpcServer
from stockline.entrypoints.grpc.v1 import common_pb2, sales_pb2
from stockline.entrypoints.http.app import create_app
from tests.conftest import ADMIN_KEY, Databases, free_port
from tests.e2e.test_webhooks import WebhookReceiver
from tests.factories import (
    admin_client,
    app_of,
    create_webhook,
    line,
    open_event_stream,
    record_sale,
    stocked,
)
from tests.graphql_support import gql
from tests.grpc_support import stubs
from tests.metrics_support import eventually

SALE_ROUTE = "POST /v1/sales/record"


@dataclass
class Traced:
    client: httpx.AsyncClient
    container: Container
    spans: InMemorySpanExporter
    settings: Settings
    url: str  # the same app served on a socket of 127.0.0.1 (streams need one)

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def of_trace(self, trace_id: int) -> list[ReadableSpan]:
        return [s for s in self.finished() if s.context.trace_id == trace_id]

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.finished() if s.name == name]

    async def traced_sale(self, store: str, sku: str) -> tuple[dict[str, object], ReadableSpan]:
        """A sale, and the server span of its request."""
        self.spans.clear()
        sale = await record_sale(self.client, store, [line(sku)])
        (span,) = self.named(SALE_ROUTE)
        return sale, span


@pytest.fixture(scope="module")
async def traced(databases: Databases, backend: str,
                 tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Traced]:
    spans = InMemorySpanExporter()
    tracing = setup_tracing({}, exporter=spans)
    assert tracing is not None
    settings = Settings(database_url=await databases.new(backend), admin_key=ADMIN_KEY,
                        env="test", log_level="warning", var_dir=tmp_path_factory.mktemp("t"),
                        webhook_allow_private=True, webhook_poll_interval_seconds=0.05,
                        webhook_idle_poll_seconds=0.2, grpc_port=free_port())
    container = bootstrap(settings, tracing=tracing)
    await container.start(jobs=False)
    try:
        async with admin_client(settings, container) as client, served(app_of(client)) as url:
            yield Traced(client, container, spans, settings, url)
    finally:
        await container.close()
        tracing.shutdown()


@asynccontextmanager
async def served(app: Any) -> AsyncIterator[str]:
    """The app (its lifespan already run) under uvicorn in this process, on a free port."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: server.started, within=10.0, what="uvicorn up")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def _links_to(span: ReadableSpan, trace_id: int) -> bool:
    return any(link.context.trace_id == trace_id for link in span.links)


def _attribute_values(spans: Sequence[ReadableSpan]) -> str:
    return " ".join(str(v) for s in spans for v in (s.attributes or {}).values())


async def _span_of(traced: Traced, found: Callable[[ReadableSpan], bool], what: str
                   ) -> ReadableSpan:
    async def seen() -> bool:
        return any(found(s) for s in traced.finished())

    await eventually(seen, within=10.0, what=what)
    return next(s for s in traced.finished() if found(s))


async def test_a_rest_sale_is_a_server_span_over_its_sql_and_its_group_commit(
        traced: Traced) -> None:
    store, (sku,) = await stocked(traced.client, quantity=5)
    _, http = await traced.traced_sale(store, sku)
    assert http.kind is SpanKind.SERVER
    assert http.attributes is not None and http.attributes["http.route"] == "/v1/sales/record"
    mine = traced.of_trace(http.context.trace_id)
    (batch,) = [s for s in mine if s.name == "group commit sales"]
    assert batch.parent is not None and batch.parent.span_id == http.context.span_id
    assert batch.links[0].context.span_id == http.context.span_id  # the request it served
    statements = [s for s in mine if s.attributes and "db.statement" in s.attributes]
    assert any(s.parent is not None and s.parent.span_id == batch.context.span_id
               for s in statements), [s.name for s in mine]
    assert ADMIN_KEY not in _attribute_values(mine)


async def test_a_query_string_never_reaches_a_span(traced: Traced) -> None:
    traced.spans.clear()
    answer = await traced.client.get("/v1/products", params={"q": "secret-ticket-value"})
    assert answer.status_code == 200
    (http,) = traced.named("GET /v1/products")
    assert "secret-ticket-value" not in _attribute_values([http])
    assert http.attributes is not None and http.attributes["http.target"] == "/v1/products"


async def test_the_relay_the_bus_and_a_stream_carry_the_sales_trace(traced: Traced) -> None:
    store, (sku,) = await stocked(traced.client, quantity=5)
    async with httpx.AsyncClient(base_url=traced.url, headers={"X-API-Key": ADMIN_KEY}
                                 ) as live, open_event_stream(
            live, {"location_id": store, "types": "sale.recorded"}) as stream:
        sale, http = await traced.traced_sale(store, sku)
        message = await stream.next(5.0)
        assert message is not None and message.json()["data"]["sale_id"] == sale["id"]
        assert "traceparent" not in message.json()  # the event's JSON is as documented
    trace_id = http.context.trace_id
    relay = await _span_of(traced, lambda s: s.name == "outbox relay"
                           and _links_to(s, trace_id), "a relay round linked to the sale")
    assert relay.attributes is not None and relay.attributes["stockline.events.moved"] >= 1
    await _span_of(traced, lambda s: s.name == "memory publish" and _links_to(s, trace_id),
                   "the bus publish linked to the sale")
    heard = await _span_of(traced, lambda s: s.name == "memory receive"
                           and s.context.trace_id == trace_id, "the bus receive in its trace")
    assert heard.kind is SpanKind.CONSUMER
    sent = await _span_of(traced, lambda s: s.name == "sse send"
                          and s.context.trace_id == trace_id, "the stream's send in its trace")
    assert sent.kind is SpanKind.PRODUCER


async def test_a_websocket_send_of_an_event_is_in_the_sales_trace(traced: Traced) -> None:
    store, (sku,) = await stocked(traced.client, quantity=5)
    url = traced.url.replace("http://", "ws://") + "/v1/events/ws"
    async with websockets.connect(url, additional_headers={"X-API-Key": ADMIN_KEY}) as ws:
        await ws.send(json.dumps({"action": "subscribe", "location_id": [store],
                                  "types": ["sale.recorded"]}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 5.0))["type"] == "subscribed"
        sale, http = await traced.traced_sale(store, sku)
        event = json.loads(await asyncio.wait_for(ws.recv(), 5.0))["event"]
        assert event["data"]["sale_id"] == sale["id"] and "traceparent" not in event
    sent = await _span_of(traced, lambda s: s.name == "websocket send"
                          and s.context.trace_id == http.context.trace_id,
                          "the socket's send in the sale's trace")
    assert sent.attributes is not None and sent.attributes["stockline.event.id"] == event["id"]


async def test_a_webhook_delivery_sends_the_trace_of_the_write(traced: Traced) -> None:
    store, (sku,) = await stocked(traced.client, quantity=5)
    with WebhookReceiver() as receiver:
        hook = await create_webhook(traced.client, receiver.url, ["sale.recorded"],
                                    location_ids=[store])
        _, http = await traced.traced_sale(store, sku)
        await eventually(lambda: bool(receiver.delivered()), within=10.0,
                         what="the sale's delivery")
        await traced.client.delete(f"/v1/webhooks/{hook['id']}")
    header = receiver.delivered()[0].headers["traceparent"]
    version, trace_id, span_id, _ = header.split("-")
    assert (version, int(trace_id, 16)) == ("00", http.context.trace_id)
    delivery = await _span_of(traced, lambda s: s.name == "webhook deliver"
                              and s.context.span_id == int(span_id, 16), "the delivery span")
    assert delivery.kind is SpanKind.CLIENT


async def test_graphql_operations_are_spans_without_their_documents(traced: Traced) -> None:
    store, (sku,) = await stocked(traced.client, quantity=5)
    traced.spans.clear()
    query = f'query Levels {{ level(locationId: "{store}", sku: "{sku}") {{ onHand }} }}'
    assert (await gql(traced.client, query, {}))["level"]["onHand"] == 5
    (http,) = traced.named("POST /graphql")
    (operation,) = traced.named("GraphQL Query: Levels")
    assert operation.context.trace_id == http.context.trace_id
    assert operation.attributes is not None and "query" not in operation.attributes
    resolvers = [s for s in traced.of_trace(http.context.trace_id)
                 if s.name.startswith("GraphQL Resolving")]
    assert resolvers and not any(k.startswith("graphql.param") for s in resolvers
                                 for k in (s.attributes or {}))
    assert store not in _attribute_values(traced.of_trace(http.context.trace_id))


async def test_a_grpc_call_is_a_server_span_over_its_sql(traced: Traced) -> None:
    store, (sku,) = await stocked(traced.client, quantity=5)
    server = GrpcServer(traced.container)
    port = await server.start()
    try:
        traced.spans.clear()
        async with stubs(f"127.0.0.1:{port}") as rpc:
            await rpc.sales.RecordSale(sales_pb2.RecordSaleRequest(location_id=store, lines=[
                sales_pb2.SaleLineIn(sku=sku, quantity=1,
                                     unit_price=common_pb2.Money(amount="2.50",
                                                                 currency="USD"))]),
                metadata=(("x-api-key", ADMIN_KEY),))
    finally:
        await server.stop()
    (call,) = traced.named("/stockline.v1.Sales/RecordSale")
    assert call.kind is SpanKind.SERVER
    mine = traced.of_trace(call.context.trace_id)
    assert any(s.name == "group commit sales" for s in mine)
    assert any(s.attributes and "db.statement" in s.attributes for s in mine)
    assert ADMIN_KEY not in _attribute_values(mine)


async def test_with_tracing_off_nothing_is_installed(settings: Settings,
                                                    container: Container) -> None:
    assert setup_tracing({}) is None
    assert container.tracing is None and container.relay.tracing is None
    app = create_app(settings, container=container)
    assert not getattr(app, "_is_instrumented_by_opentelemetry", False)  # no middleware
    assert isinstance(trace.get_tracer_provider(), ProxyTracerProvider)  # none set globally
