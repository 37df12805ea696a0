"""When the OTEL_* variables turn tracing on, what the process calls itself, which
exporters it makes, and the trace context an event carries on the bus and nowhere else."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME
from opentelemetry.sdk.trace.export import ConsoleSpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from stockline.adapters.bus.base import EventRecord
from stockline.adapters.tracing import exporters_of, setup_tracing, wanted

ENDPOINT = "http://127.0.0.1:4318"


@pytest.mark.parametrize(("environ", "on"), [
    ({}, False),
    ({"OTEL_TRACES_EXPORTER": "none"}, False),
    ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
    ({"OTEL_TRACES_EXPORTER": "console"}, True),
    ({"OTEL_TRACES_EXPORTER": "none, console"}, True),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT}, True),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": ENDPOINT + "/v1/traces"}, True),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT, "OTEL_TRACES_EXPORTER": "none"}, False),
    ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}, False),
    ({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "false"}, True),
    ({"OTEL_SERVICE_NAME": "stockline"}, False),  # a name alone asks for nothing
])
def test_tracing_is_on_only_when_the_variables_ask(environ: dict[str, str], on: bool) -> None:
    assert wanted(environ) is on
    assert (setup_tracing(environ) is not None) is on


def test_the_exporters_are_those_named() -> None:
    assert [type(e) for e in exporters_of({"OTEL_EXPORTER_OTLP_ENDPOINT": ENDPOINT})] == [
        OTLPSpanExporter]  # otlp by default, over http/protobuf
    assert [type(e) for e in exporters_of({"OTEL_TRACES_EXPORTER": "console,otlp",
                                           "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})] == [
        ConsoleSpanExporter, GrpcExporter]
    assert exporters_of({"OTEL_TRACES_EXPORTER": "zipkin"}) == []  # unknown: logged, left out


def test_the_service_is_stockline_unless_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    tracing = setup_tracing({}, exporter=InMemorySpanExporter())
    assert tracing is not None
    assert tracing.provider.resource.attributes[SERVICE_NAME] == "stockline"
    monkeypatch.setenv("OTEL_SERVICE_NAME", "stockline-eu")
    tracing = setup_tracing({}, exporter=InMemorySpanExporter())
    assert tracing is not None
    assert tracing.provider.resource.attributes[SERVICE_NAME] == "stockline-eu"


def test_a_span_current_now_is_a_traceparent_that_names_it_again() -> None:
    spans = InMemorySpanExporter()
    tracing = setup_tracing({}, exporter=spans)
    assert tracing is not None
    assert tracing.traceparent() is None  # no span
    with tracing.span("write") as span:
        traceparent = tracing.traceparent()
        assert traceparent is not None
        assert tracing.headers() == {"traceparent": traceparent}
    context = span.get_span_context()
    assert traceparent.startswith(f"00-{context.trace_id:032x}-{context.span_id:016x}-")
    with tracing.span("consume", parent=traceparent) as child:
        assert child.get_span_context().trace_id == context.trace_id
    assert [link.context.span_id for link in tracing.links(
        [traceparent, None, traceparent, "not-a-traceparent"])] == [context.span_id]


def test_the_bus_carries_the_trace_context_and_the_public_json_does_not() -> None:
    traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    record = EventRecord(id=7, type="sale.recorded", occurred_at=datetime(2026, 1, 2, tzinfo=UTC),
                         location_id="S1", sku=None, data={"sale_id": "x"},
                         traceparent=traceparent)
    plain = EventRecord(id=7, type="sale.recorded", occurred_at=record.occurred_at,
                        location_id="S1", sku=None, data={"sale_id": "x"})
    assert record.to_json() == plain.to_json()
    assert "traceparent" not in orjson.loads(record.to_sse().split(b"data: ", 1)[1])
    heard = EventRecord.from_json(record.to_bus())
    assert heard == record and heard.traceparent == traceparent
    assert plain.to_bus() == plain.to_json()  # untraced: the bus message as it was
    assert EventRecord.from_json(plain.to_bus()).traceparent is None
