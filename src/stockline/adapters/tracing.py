"""OpenTelemetry tracing: off unless the standard ``OTEL_*`` variables ask for it.

Off (the default), nothing here is made: no tracer provider, no span, no hook; the
components that could trace are given None and run exactly as they do untraced. On, one
``Tracing`` per process (each worker of ``stockline serve`` makes its own) holds the
tracer provider that every span of that process goes to, with no global state: the
HTTP, GraphQL and gRPC instrumentation, the SQL statements of the engines, the group
commit, the outbox relay, the bus, the event streams and the webhook deliveries are each
handed it.

Trace context crosses the outbox as a W3C ``traceparent`` string: a write committed
inside a traced request keeps it on its outbox rows and then on its logged events, so
that the relay's, the bus's and the streams' spans link to the request that made them,
and a webhook delivery continues its trace.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import structlog
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.metrics import NoOpUpDownCounter
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from opentelemetry.trace import Link, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy.ext.asyncio import AsyncEngine

from stockline import __version__

log = structlog.get_logger("stockline.tracing")
SERVICE = "stockline"  # service.name unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES say
TRACEPARENT = "traceparent"
MAX_LINKS = 128  # the SDK's default span link limit: a span links to at most this many
_W3C = TraceContextTextMapPropagator()


def wanted(environ: Mapping[str, str]) -> bool:
    """Whether the variables ask for traces: an exporter named in OTEL_TRACES_EXPORTER
    (other than ``none``), or an OTLP endpoint; never with OTEL_SDK_DISABLED=true."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    named = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if named:
        return any(name.strip() not in ("", "none") for name in named.split(","))
    return bool(environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
                or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip())


def exporters_of(environ: Mapping[str, str]) -> list[SpanExporter]:
    """The exporters OTEL_TRACES_EXPORTER names (``otlp``, its default, or ``console``).
    The OTLP exporter reads its own variables (endpoint, headers, timeout, ...), and
    speaks http/protobuf unless OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL says ``grpc``."""
    made: list[SpanExporter] = []
    for name in environ.get("OTEL_TRACES_EXPORTER", "otlp").lower().split(","):
        name = name.strip()
        if name == "otlp":
            made.append(_otlp(environ))
        elif name == "console":
            made.append(ConsoleSpanExporter())
        elif name not in ("", "none"):
            log.warning("tracing_exporter_unknown", exporter=name)
    return made


def _otlp(environ: Mapping[str, str]) -> SpanExporter:
    protocol = (environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf")
    if protocol.strip().lower() == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter as GrpcExporter,
        )
        return GrpcExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
        OTLPSpanExporter,
    )
    return OTLPSpanExporter()


def resource_of() -> Resource:
    """The process's service: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, which the SDK
    reads, with ``stockline`` as the name when neither gives one."""
    resource = Resource.create({SERVICE_VERSION: __version__})
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: SERVICE}))
    return resource


def setup_tracing(environ: Mapping[str, str] | None = None, *,
                  exporter: SpanExporter | None = None) -> Tracing | None:
    """This process's tracing, or None when the variables do not ask for it.

    ``exporter``: spans go to it as each ends (a test's in-memory exporter), whatever the
    variables say; otherwise to the exporters the variables name, in batches (the
    OTEL_BSP_* variables tune them). Sampling follows OTEL_TRACES_SAMPLER(_ARG)."""
    environ = os.environ if environ is None else environ
    if exporter is not None:
        return Tracing([SimpleSpanProcessor(exporter)], resource_of())
    if not wanted(environ):
        return None
    processors: list[SpanProcessor] = [BatchSpanProcessor(e) for e in exporters_of(environ)]
    if not processors:
        return None
    log.info("tracing_on", exporters=environ.get("OTEL_TRACES_EXPORTER", "otlp"))
    return Tracing(processors, resource_of())


class _TracedStatements(EngineTracer):
    """The SQLAlchemy instrumentation's hooks, for statements run under a recorded span
    only: the polls of the background tasks (the relay's look at the outbox every few ms,
    the webhook dispatcher's, the hub's) would otherwise each be a trace of their own, and
    a request the sampler left out costs no statement spans."""

    def _before_cur_exec(self, conn: Any, cursor: Any, statement: str, params: Any,
                         context: Any, executemany: bool) -> Any:
        if not trace.get_current_span().is_recording():  # unsampled: its statements too
            return statement, params
        return super()._before_cur_exec(  # type: ignore[no-untyped-call]
            conn, cursor, statement, params, context, executemany)


class Tracing:
    """The tracer provider of a process, and the spans Stockline makes itself."""

    def __init__(self, processors: Sequence[SpanProcessor], resource: Resource) -> None:
        self.provider = TracerProvider(resource=resource)
        for processor in processors:
            self.provider.add_span_processor(processor)
        self.tracer = self.provider.get_tracer("stockline", __version__)
        self._engines: set[int] = set()

    def shutdown(self) -> None:
        """Export what is left (at the end of the process)."""
        self.provider.shutdown()

    def instrument_engine(self, engine: AsyncEngine) -> None:
        """A span for each SQL statement the engine runs inside a traced piece of work
        (its text, never its parameters), a child of the span current then. An engine is
        instrumented once."""
        sync = engine.sync_engine
        if id(sync) in self._engines:
            return
        self._engines.add(id(sync))
        # EngineTracer is what SQLAlchemyInstrumentor.instrument(engine=...) makes; made
        # here directly, since the instrumentor instruments once per process, and this
        # provider is not the global one.
        tracer = self.provider.get_tracer("opentelemetry.instrumentation.sqlalchemy")
        usage = NoOpUpDownCounter("db.client.connections.usage")
        _TracedStatements(tracer, sync, usage)  # type: ignore[no-untyped-call]

    # -- trace context as text -------------------------------------------------------------
    def traceparent(self) -> str | None:
        """The W3C traceparent of the span current now (None: no span)."""
        if not trace.get_current_span().get_span_context().is_valid:
            return None
        return self.headers().get(TRACEPARENT)

    @staticmethod
    def context_of(traceparent: str | None) -> Context | None:
        """The context a traceparent names (None: none, or not a valid one)."""
        if not traceparent:
            return None
        found = _W3C.extract({TRACEPARENT: traceparent})
        return found if trace.get_current_span(found).get_span_context().is_valid else None

    def links(self, traceparents: Iterable[str | None]) -> list[Link]:
        """Links to the distinct contexts named (at most MAX_LINKS)."""
        made: dict[str, Link] = {}
        for value in traceparents:
            if value is None or value in made or len(made) >= MAX_LINKS:
                continue
            context = self.context_of(value)
            if context is not None:
                made[value] = Link(trace.get_current_span(context).get_span_context())
        return list(made.values())

    def headers(self) -> dict[str, str]:
        """The current span's context as HTTP headers (``traceparent``)."""
        carrier: dict[str, str] = {}
        _W3C.inject(carrier)
        return carrier

    # -- spans -----------------------------------------------------------------------------
    def span(self, name: str, *, kind: SpanKind = SpanKind.INTERNAL,
             links: Iterable[str | None] = (), parent: str | None = None,
             attributes: Mapping[str, Any] | None = None
             ) -> AbstractContextManager[trace.Span]:
        """A span current while the block runs: a child of ``parent`` (a traceparent)
        when given, else of the current span (none in a background task: a root), with
        links to the contexts of ``links``."""
        context = self.context_of(parent) if parent is not None else None
        return self.tracer.start_as_current_span(
            name, context=context, kind=kind, links=self.links(links),
            attributes=dict(attributes or {}))

    def start(self, name: str, traceparents: Sequence[str | None], *,
              kind: SpanKind = SpanKind.INTERNAL,
              attributes: Mapping[str, Any] | None = None) -> trace.Span:
        """A span not made current (the caller ends it), for work done on behalf of one or
        more traced writes: a child of the first one's context (so that a lone write's
        trace holds it), linked to all of them; a root when none is traced."""
        first = next((t for t in traceparents if t is not None), None)
        return self.tracer.start_span(name, context=self.context_of(first) or Context(),
                                      kind=kind, links=self.links(traceparents),
                                      attributes=dict(attributes or {}))

    # -- the group commit (services.batching.BatchTrace) -----------------------------------
    def capture(self) -> object:
        """The submitting request's context, kept with its command."""
        return self.traceparent()

    @contextmanager
    def batch(self, captured: Sequence[object]) -> Iterator[None]:
        """One span for a batch of sales: a child of the first request's span (so that a
        lone sale's trace holds its commit), linked to every request of the batch. It is
        made the current span explicitly: the lane's task was started in some earlier
        request's context, which must not parent this batch."""
        span = self.start("group commit sales",
                          [c if isinstance(c, str) else None for c in captured],
                          attributes={"stockline.batch.size": len(captured)})
        with trace.use_span(span, end_on_exit=True):
            yield
