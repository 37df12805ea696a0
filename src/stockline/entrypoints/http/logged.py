"""What of a request may go to the logs and the audit trail."""

from __future__ import annotations

from starlette.types import Scope

from stockline.adapters.logging import redact

# Paths that may name a customer: logs and the audit trail get the route template instead
# (or the prefix alone when no route matched, as for a 401 answered before routing).
_REDACTED_PREFIXES = ("/v1/customers/",)


def loggable_path(scope: Scope) -> str:
    """The request's path, without any customer reference it carries."""
    path: str = scope["path"]
    if not path.startswith(_REDACTED_PREFIXES):
        return path
    route = getattr(scope.get("route"), "path", None)
    return route if isinstance(route, str) else "/v1/customers/{redacted}"


def loggable_query(scope: Scope) -> str | None:
    """The request's query string, if any, without credential or personal values (a
    WebSocket's ``api_key`` or ``ticket``, a ``customer_ref``): for logs only; the audit
    trail never records a query string."""
    query: bytes = scope.get("query_string", b"")
    return redact(query.decode("latin-1")) if query else None
