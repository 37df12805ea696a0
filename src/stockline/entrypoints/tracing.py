"""Tracing at the edges, when it is on (``adapters.tracing`` makes the provider): a server
span for each HTTP request (named by its route's template), GraphQL operation and gRPC
call. Off, none of this is installed: no middleware, no extension, no interceptor.

What the spans never hold: credentials (no header is recorded unless the standard
OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_* variables name it, and the credential
headers are redacted even then), query strings (a stream's ``?ticket=``), a GraphQL
document's text or its arguments (an input may carry a webhook's secret).
"""

from __future__ import annotations

import os
from collections.abc import Generator
from typing import Any

from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.grpc import aio_server_interceptor
from opentelemetry.trace import Span, SpanKind
from strawberry.extensions import LifecycleStep
from strawberry.extensions.tracing import OpenTelemetryExtension

from stockline.adapters.tracing import Tracing

# Probes and scrapes, many a minute and of no interest in a trace (the standard
# variable OTEL_PYTHON_FASTAPI_EXCLUDED_URLS replaces this list).
EXCLUDED_URLS = "/healthz$,/readyz$,/metrics$"
# URL attributes whose query string is dropped: a stream's `?ticket=` is a credential.
URL_KEYS = ("http.url", "url.full")
REDACTED_HEADERS = ["x-api-key", "authorization", "proxy-authorization", "cookie",
                    "set-cookie", "idempotency-key"]


def trace_http(app: FastAPI, tracing: Tracing) -> None:
    """A server span per request, continuing the caller's W3C trace context; the ASGI
    messages of a request or stream get no span of their own (a stream's events do:
    ``stream send``)."""
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=tracing.provider,
        excluded_urls=os.environ.get("OTEL_PYTHON_FASTAPI_EXCLUDED_URLS", EXCLUDED_URLS),
        http_capture_headers_sanitize_fields=REDACTED_HEADERS,
        exclude_spans=["receive", "send"], server_request_hook=without_query_strings)


def without_query_strings(span: Span, scope: dict[str, Any]) -> None:
    """The server span's URL attributes, set by then, lose their query strings."""
    attributes = getattr(span, "attributes", None) or {}
    for key in URL_KEYS:
        value = attributes.get(key)
        if isinstance(value, str) and "?" in value:
            span.set_attribute(key, value.split("?", 1)[0])
    if "url.query" in attributes:
        span.set_attribute("url.query", "REDACTED")


def grpc_interceptors(tracing: Tracing | None) -> list[Any]:
    """The gRPC server's: a server span per call when tracing is on."""
    if tracing is None:
        return []
    return [aio_server_interceptor(  # type: ignore[no-untyped-call]
        tracer_provider=tracing.provider)]


def graphql_extensions(tracing: Tracing | None) -> list[Any]:
    """The GraphQL schema's: spans of each operation and its resolvers when tracing is on."""
    if tracing is None:
        return []

    def traced() -> GraphQLSpans:  # one per operation, as strawberry asks of extensions
        return GraphQLSpans(tracer_provider=tracing.provider)

    return [traced]


class GraphQLSpans(OpenTelemetryExtension):
    """strawberry's OpenTelemetry extension, with neither the document's text nor the
    resolvers' arguments on the spans (inputs may carry secrets: a webhook's)."""

    def on_operation(self) -> Generator[None, None, None]:
        context = self.execution_context
        name = context.operation_name
        span = self._tracer.start_span(
            f"GraphQL Query: {name}" if name else "GraphQL Query", kind=SpanKind.SERVER,
            attributes={"component": "graphql"})
        self._span_holder[LifecycleStep.OPERATION] = span
        yield
        if not name and context.operation_name:
            span.update_name(f"GraphQL Query: {context.operation_name}")
        span.end()

    def filter_resolver_args(self, args: dict[str, Any], info: Any) -> dict[str, Any]:
        return {}
