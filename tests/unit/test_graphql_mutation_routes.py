"""Every REST write has its GraphQL mutation (or a reason not to), and each mutation names
the route it mirrors: a new write route without its mutation fails here."""

from __future__ import annotations

import re

from graphql import GraphQLSchema

from stockline.entrypoints.graphql.schema import build_schema
from stockline.entrypoints.http.permissions import ROUTES

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MIRRORED = {
    ("POST", "/v1/products"): "createProduct",
    ("PATCH", "/v1/products/{sku}"): "updateProduct",
    ("POST", "/v1/warehouses"): "createWarehouse",
    ("PATCH", "/v1/warehouses/{code}"): "updateWarehouse",
    ("POST", "/v1/retail-locations"): "createRetailLocation",
    ("PATCH", "/v1/retail-locations/{code}"): "updateRetailLocation",
    ("POST", "/v1/imports/{kind}"): "importFile",
    ("POST", "/v1/inventory/update"): "updateInventory",
    ("POST", "/v1/inventory/batch"): "updateInventoryBatch",
    ("PUT", "/v1/inventory/{location_id}/{sku}/settings"): "setReorderSettings",
    ("POST", "/v1/sales/record"): "recordSale",
    ("PATCH", "/v1/sales/{sale_id}"): "updateSale",
    ("POST", "/v1/sales/{sale_id}/returns"): "returnSale",
    ("POST", "/v1/reservations"): "reserve",
    ("POST", "/v1/reservations/{reservation_id}/commit"): "commitReservation",
    ("POST", "/v1/reservations/{reservation_id}/release"): "releaseReservation",
    ("POST", "/v1/stock-movements/transfer"): "transfer",
    ("POST", "/v1/stock-movements/transfers/{transfer_id}/receive"): "receiveTransfer",
    ("POST", "/v1/stock-movements/transfers/{transfer_id}/cancel"): "cancelTransfer",
    ("POST", "/v1/stock-movements/transfers/{transfer_id}/close"): "closeTransfer",
    ("POST", "/v1/suppliers"): "createSupplier",
    ("PATCH", "/v1/suppliers/{code}"): "updateSupplier",
    ("POST", "/v1/purchase-orders"): "createPurchaseOrder",
    ("POST", "/v1/purchase-orders/{order_id}/order"): "placePurchaseOrder",
    ("POST", "/v1/purchase-orders/{order_id}/receive"): "receivePurchaseOrder",
    ("POST", "/v1/purchase-orders/{order_id}/cancel"): "cancelPurchaseOrder",
    ("POST", "/v1/feedback"): "reportFeedback",
    ("POST", "/v1/count-tasks/{task_id}/complete"): "completeCountTask",
    ("POST", "/v1/webhooks"): "createWebhook",
    ("DELETE", "/v1/webhooks/{webhook_id}"): "deleteWebhook",
    ("POST", "/v1/webhooks/{webhook_id}/resume"): "resumeWebhook",
    ("POST", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"):
        "redeliverDelivery",
    ("POST", "/v1/customers/{ref}/erase"): "eraseCustomer",
    ("POST", "/v1/api-keys"): "createApiKey",
    ("DELETE", "/v1/api-keys/{key_id}"): "revokeApiKey",
}
# Writes that are not the API's objects: each has its reason.
REST_ONLY = {
    ("POST", "/v1/events/tickets"): "a browser's ticket for an SSE or WebSocket stream; a "
                                    "GraphQL subscription authenticates its own socket",
    ("POST", "/v1/oauth/token"): "OAuth2 client credentials are form-encoded (RFC 6749)",
    ("POST", "/graphql"): "GraphQL itself",
    ("POST", "/dashboard/session"): "the dashboard's sign-in (a cookie)",
    ("POST", "/dashboard/sign-out"): "the dashboard's sign-out (a cookie)",
}


def _generic(text: str) -> str:
    """A route with its parameters unnamed: /v1/sales/{sale_id} as /v1/sales/{}."""
    return re.sub(r"\{[a-z_]+\}", "{}", text)


def _mutation_fields() -> dict[str, str]:
    schema: GraphQLSchema = build_schema()._schema
    assert schema.mutation_type is not None
    return {name: field.description or "" for name, field in
            schema.mutation_type.fields.items()}


def test_every_rest_write_is_a_mutation_or_said_to_be_rest_only() -> None:
    writes = {route for route in ROUTES if route[0] in WRITES}
    assert writes - set(REST_ONLY) == set(MIRRORED)
    assert set(REST_ONLY) <= writes  # no reason kept for a route that is gone


def test_each_mutation_is_in_the_schema_and_names_its_route() -> None:
    fields = _mutation_fields()
    assert set(fields) == set(MIRRORED.values())
    for (method, path), name in MIRRORED.items():
        assert f"({method} {_generic(path)})" in _generic(fields[name]), (name, fields[name])
