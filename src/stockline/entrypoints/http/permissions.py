"""Which permission each route needs: the one table the HTTP layer enforces and tests read.

Every route must be in ``ROUTES``: a route missing from it answers 403 to everyone (it
fails closed), and the test matrix, generated from the OpenAPI document, fails for it. A
rule names the permissions any one of which lets the caller in; the use case behind the
route then checks the exact permission at every location the request touches.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, WebSocketException, status
from starlette.requests import HTTPConnection

from stockline.domain.security import Permission, Principal
from stockline.entrypoints.access import MISSING, Rule, rule_refusal
from stockline.entrypoints.http.errors import FORBIDDEN, UNAUTHORIZED, ProblemError

P = Permission
PUBLIC: Rule = ()
# Every role holds one of these: GraphQL lets any caller in, its fields check the rest.
GRAPHQL: Rule = (P.CATALOG_READ, P.LOCATIONS_READ, P.INVENTORY_READ, P.EVENTS_READ)

ROUTES: dict[tuple[str, str], Rule] = {
    ("GET", "/"): PUBLIC,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/oauth2-redirect"): PUBLIC,
    ("GET", "/metrics"): (P.OPERATIONS_READ,),
    # catalog and locations
    ("POST", "/v1/products"): (P.CATALOG_WRITE,),
    ("GET", "/v1/products"): (P.CATALOG_READ,),
    ("GET", "/v1/products/{sku}"): (P.CATALOG_READ,),
    ("PATCH", "/v1/products/{sku}"): (P.CATALOG_WRITE,),
    ("POST", "/v1/warehouses"): (P.LOCATIONS_WRITE,),
    ("GET", "/v1/warehouses"): (P.LOCATIONS_READ,),
    ("GET", "/v1/warehouses/{code}"): (P.LOCATIONS_READ,),
    ("PATCH", "/v1/warehouses/{code}"): (P.LOCATIONS_WRITE,),
    ("POST", "/v1/retail-locations"): (P.LOCATIONS_WRITE,),
    ("GET", "/v1/retail-locations"): (P.LOCATIONS_READ,),
    ("GET", "/v1/retail-locations/{code}"): (P.LOCATIONS_READ,),
    ("PATCH", "/v1/retail-locations/{code}"): (P.LOCATIONS_WRITE,),
    # files of products, locations, levels or suppliers (the kind's permission is checked
    # by the import itself)
    ("POST", "/v1/imports/{kind}"): (P.CATALOG_WRITE, P.LOCATIONS_WRITE, P.INVENTORY_COUNT,
                                     P.SUPPLIERS_WRITE),
    # inventory and the ledger
    ("GET", "/v1/inventory"): (P.INVENTORY_READ,),
    ("GET", "/v1/inventory/{location_id}/{sku}"): (P.INVENTORY_READ,),
    ("GET", "/v1/inventory/by-location"): (P.INVENTORY_READ,),
    ("POST", "/v1/inventory/update"): (P.INVENTORY_RECEIVE, P.INVENTORY_COUNT,
                                       P.INVENTORY_ADJUST),
    ("POST", "/v1/inventory/batch"): (P.INVENTORY_RECEIVE, P.INVENTORY_COUNT,
                                      P.INVENTORY_ADJUST),
    ("PUT", "/v1/inventory/{location_id}/{sku}/settings"): (P.INVENTORY_SETTINGS,),
    ("GET", "/v1/stock-movements"): (P.LEDGER_READ,),
    # sales, returns, reservations
    ("POST", "/v1/sales/record"): (P.SALES_WRITE,),
    ("GET", "/v1/sales"): (P.SALES_READ,),
    ("GET", "/v1/sales/{sale_id}"): (P.SALES_READ,),
    ("PATCH", "/v1/sales/{sale_id}"): (P.SALES_WRITE,),
    ("GET", "/v1/reports/sales"): (P.SALES_READ,),
    ("GET", "/v1/reports/stock-cover"): (P.SALES_READ,),
    ("GET", "/v1/reports/inventory-value"): (P.LEDGER_READ,),
    ("POST", "/v1/sales/{sale_id}/returns"): (P.RETURNS_WRITE,),
    ("POST", "/v1/reservations"): (P.RESERVATIONS_WRITE,),
    ("GET", "/v1/reservations"): (P.RESERVATIONS_READ,),
    ("GET", "/v1/reservations/{reservation_id}"): (P.RESERVATIONS_READ,),
    ("POST", "/v1/reservations/{reservation_id}/commit"): (P.RESERVATIONS_WRITE,),
    ("POST", "/v1/reservations/{reservation_id}/release"): (P.RESERVATIONS_WRITE,),
    # transfers
    ("POST", "/v1/stock-movements/transfer"): (P.TRANSFERS_SHIP,),
    ("GET", "/v1/stock-movements/transfers"): (P.TRANSFERS_READ,),
    ("GET", "/v1/stock-movements/transfers/{transfer_id}"): (P.TRANSFERS_READ,),
    ("POST", "/v1/stock-movements/transfers/{transfer_id}/receive"): (P.TRANSFERS_RECEIVE,),
    ("POST", "/v1/stock-movements/transfers/{transfer_id}/cancel"): (P.TRANSFERS_CANCEL,),
    ("POST", "/v1/stock-movements/transfers/{transfer_id}/close"): (P.TRANSFERS_CANCEL,),
    # purchasing and replenishment
    ("POST", "/v1/suppliers"): (P.SUPPLIERS_WRITE,),
    ("GET", "/v1/suppliers"): (P.SUPPLIERS_READ,),
    ("GET", "/v1/suppliers/{code}"): (P.SUPPLIERS_READ,),
    ("PATCH", "/v1/suppliers/{code}"): (P.SUPPLIERS_WRITE,),
    ("POST", "/v1/purchase-orders"): (P.PURCHASING_WRITE,),
    ("GET", "/v1/purchase-orders"): (P.PURCHASING_READ,),
    ("GET", "/v1/purchase-orders/{order_id}"): (P.PURCHASING_READ,),
    ("POST", "/v1/purchase-orders/{order_id}/order"): (P.PURCHASING_WRITE,),
    ("POST", "/v1/purchase-orders/{order_id}/receive"): (P.PURCHASING_RECEIVE,),
    ("POST", "/v1/purchase-orders/{order_id}/cancel"): (P.PURCHASING_WRITE,),
    ("GET", "/v1/replenishment/suggestions"): (P.REPLENISHMENT_READ,),
    # staff feedback, count tasks and their accuracy (reporting and counting need the
    # right to count; the use case checks it at the location named)
    ("POST", "/v1/feedback"): (P.INVENTORY_COUNT,),
    ("GET", "/v1/feedback"): (P.FEEDBACK_READ,),
    ("GET", "/v1/count-tasks"): (P.INVENTORY_COUNT,),
    ("GET", "/v1/count-tasks/{task_id}"): (P.INVENTORY_COUNT,),
    ("POST", "/v1/count-tasks/{task_id}/complete"): (P.INVENTORY_COUNT,),
    ("GET", "/v1/reports/accuracy"): (P.LEDGER_READ,),
    # events and webhooks
    ("GET", "/v1/events"): (P.EVENTS_READ,),
    ("GET", "/v1/events/stream"): (P.EVENTS_READ,),
    ("WEBSOCKET", "/v1/events/ws"): (P.EVENTS_READ,),
    ("POST", "/v1/events/tickets"): (P.EVENTS_READ,),
    ("POST", "/v1/webhooks"): (P.WEBHOOKS_MANAGE,),
    ("GET", "/v1/webhooks"): (P.WEBHOOKS_MANAGE,),
    ("GET", "/v1/webhooks/{webhook_id}"): (P.WEBHOOKS_MANAGE,),
    ("DELETE", "/v1/webhooks/{webhook_id}"): (P.WEBHOOKS_MANAGE,),
    ("POST", "/v1/webhooks/{webhook_id}/resume"): (P.WEBHOOKS_MANAGE,),
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"): (P.WEBHOOKS_MANAGE,),
    ("GET", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}"): (P.WEBHOOKS_MANAGE,),
    ("POST", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"):
        (P.WEBHOOKS_MANAGE,),
    # customers (privacy)
    ("GET", "/v1/customers/{ref}"): (P.CUSTOMERS_READ,),
    ("POST", "/v1/customers/{ref}/erase"): (P.CUSTOMERS_ERASE,),
    # the audit trail
    ("GET", "/v1/audit"): (P.AUDIT_READ,),
    # reconciliation of every level with its ledger, documents and events
    ("GET", "/v1/admin/reconcile"): (P.RECONCILE,),
    ("GET", "/v1/admin/status"): (P.OPERATIONS_READ,),
    # API keys and access tokens
    ("POST", "/v1/api-keys"): (P.KEYS_MANAGE,),
    ("GET", "/v1/api-keys"): (P.KEYS_MANAGE,),
    ("GET", "/v1/api-keys/{key_id}"): (P.KEYS_MANAGE,),
    ("DELETE", "/v1/api-keys/{key_id}"): (P.KEYS_MANAGE,),
    # GraphQL: any role may call it (each field checks its own permission and scope, as
    # the REST route it mirrors); the explorer page and its assets are public as /docs
    ("GET", "/graphql"): PUBLIC,  # the page; an operation by GET is authenticated first
    ("POST", "/graphql"): GRAPHQL,
    ("WEBSOCKET", "/graphql"): GRAPHQL,
    ("GET", "/graphql/assets/{name}"): PUBLIC,
    # the dashboard's page, sign-in (it checks the key itself) and sign-out; its assets
    ("GET", "/dashboard"): PUBLIC,
    ("POST", "/dashboard/session"): PUBLIC,
    ("POST", "/dashboard/sign-out"): PUBLIC,
    ("POST", "/v1/oauth/token"): PUBLIC,  # the client authenticates in the form (RFC 6749)
    ("GET", "/.well-known/jwks.json"): PUBLIC,
}


def rule_for(method: str, path: str) -> Rule | None:
    return ROUTES.get(("GET" if method == "HEAD" else method, path))


async def authorize(connection: HTTPConnection) -> None:
    """The route's rule, for every request: its role must hold one of the permissions."""
    route = connection.scope.get("route")
    path = getattr(route, "path", None) or connection.scope["path"]
    method = "WEBSOCKET" if connection.scope["type"] == "websocket" else connection.scope[
        "method"]
    rule = rule_for(method, path)
    if rule == PUBLIC:
        return
    principal = getattr(connection.state, "principal", None)
    if not isinstance(principal, Principal):
        _refuse(connection, ProblemError(UNAUTHORIZED, MISSING, {"WWW-Authenticate": "Bearer"}))
    elif rule is None:  # fail closed: a route nobody gave a rule is open to nobody
        _refuse(connection, ProblemError(FORBIDDEN, f"no access rule covers {method} {path}"))
    elif (refusal := rule_refusal(principal, rule)) is not None:
        _refuse(connection, ProblemError(FORBIDDEN, refusal))


def _refuse(connection: HTTPConnection, problem: ProblemError) -> None:
    if connection.scope["type"] == "websocket":
        raise WebSocketException(status.WS_1008_POLICY_VIOLATION, problem.detail[:120])
    raise problem


Authorized = Annotated[None, Depends(authorize)]
