"""The writes every protocol offers, each once: its use case and its result's document.

REST, GraphQL and gRPC hand these to ``container.writes.execute`` (services.writes) with
the command they built and the caller. The document is the result as the REST contract
shows it (docs/API.md): an idempotency record keeps it, so a key used over one protocol
and retried over another replays the same write, and each protocol renders it in its
own terms (gRPC and GraphQL read the same fields from it).
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any

from stockline.domain.commands import RecordSale
from stockline.domain.keys import ApiKey, CreateApiKey
from stockline.entrypoints.http.deps import json_document
from stockline.entrypoints.http.schemas.catalog import LocationOut, ProductOut
from stockline.entrypoints.http.schemas.counting import CountTaskOut, FeedbackOut
from stockline.entrypoints.http.schemas.imports import ImportOut, ImportRequest
from stockline.entrypoints.http.schemas.inventory import LevelOut
from stockline.entrypoints.http.schemas.keys import ApiKeyCreated, ApiKeyOut
from stockline.entrypoints.http.schemas.purchasing import PurchaseOrderOut, SupplierOut
from stockline.entrypoints.http.schemas.reservations import ReservationOut
from stockline.entrypoints.http.schemas.sales import SaleOut, SaleReturnOut
from stockline.entrypoints.http.schemas.transfers import TransferOut
from stockline.entrypoints.http.schemas.webhooks import (
    DeliveryOut,
    WebhookCreated,
    WebhookDeleted,
    WebhookOut,
)
from stockline.services import (
    catalog,
    count_tasks,
    feedback,
    inventory,
    keys,
    locations,
    purchasing,
    reservations,
    returns,
    sale_states,
    sales,
    suppliers,
    transfers,
    webhooks,
)
from stockline.services.executor import utcnow
from stockline.services.imports.files import import_file
from stockline.services.writes import Operation, request_of


def _customer_of(cmd: RecordSale) -> str | None:
    return cmd.customer.ref if cmd.customer is not None else None


RECORD_SALE = Operation("record_sale", sales.record_sale, json_document(SaleOut.of),
                        subject=_customer_of)
UPDATE_SALE = Operation("update_sale", sale_states.update_sale, json_document(SaleOut.of))
RETURN_SALE = Operation("return_sale", returns.return_sale,
                        json_document(SaleReturnOut.of_sale))
UPDATE_INVENTORY = Operation("update_inventory", inventory.update_inventory,
                             json_document(LevelOut.of))
SET_REORDER_SETTINGS = Operation("set_reorder_settings", inventory.set_reorder_settings,
                                 json_document(LevelOut.of))
SHIP_TRANSFER = Operation("ship_transfer", transfers.ship_transfer,
                          json_document(TransferOut.of))
RECEIVE_TRANSFER = Operation("receive_transfer", transfers.receive_transfer,
                             json_document(TransferOut.of))
CANCEL_TRANSFER = Operation("cancel_transfer", transfers.cancel_transfer,
                            json_document(TransferOut.of))
CLOSE_TRANSFER = Operation("close_transfer", transfers.close_transfer,
                           json_document(TransferOut.of))
RESERVE = Operation("reserve", reservations.create_reservation,
                    json_document(ReservationOut.of))
COMMIT_RESERVATION = Operation("commit_reservation", reservations.commit_reservation,
                               json_document(SaleOut.of))
RELEASE_RESERVATION = Operation("release_reservation", reservations.release_reservation,
                                json_document(ReservationOut.of))

CREATE_PRODUCT = Operation("create_product", catalog.create_product,
                           json_document(ProductOut.of))
UPDATE_PRODUCT = Operation("update_product", catalog.update_product,
                           json_document(ProductOut.of))
CREATE_LOCATION = Operation("create_location", locations.create_location,
                            json_document(LocationOut.of_new))
UPDATE_LOCATION = Operation("update_location", locations.update_location,
                            json_document(LocationOut.of_stock))
CREATE_SUPPLIER = Operation("create_supplier", purchasing.create_supplier,
                            json_document(SupplierOut.of))
UPDATE_SUPPLIER = Operation("update_supplier", suppliers.update_supplier,
                            json_document(SupplierOut.of))
CREATE_PURCHASE_ORDER = Operation("create_purchase_order", purchasing.create_purchase_order,
                                  json_document(PurchaseOrderOut.of))
PLACE_PURCHASE_ORDER = Operation("place_purchase_order", purchasing.place_purchase_order,
                                 json_document(PurchaseOrderOut.of))
RECEIVE_PURCHASE_ORDER = Operation("receive_purchase_order",
                                   purchasing.receive_purchase_order,
                                   json_document(PurchaseOrderOut.of))
CANCEL_PURCHASE_ORDER = Operation("cancel_purchase_order", purchasing.cancel_purchase_order,
                                  json_document(PurchaseOrderOut.of))
REPORT_FEEDBACK = Operation("report_feedback", feedback.report_feedback,
                            json_document(FeedbackOut.of))
COMPLETE_COUNT_TASK = Operation("complete_count_task", count_tasks.complete_count_task,
                                json_document(CountTaskOut.of))
IMPORT_FILE = Operation("import_file", import_file, json_document(ImportOut.of))


def import_request(fingerprint: ImportRequest) -> bytes:
    """What identifies an import, whatever protocol sent it: its kind, whether it is a dry
    run, and its file's digest (the command holds the file's rows, not the file)."""
    return IMPORT_FILE.name.encode() + b"\n" + fingerprint.model_dump_json().encode()


# Access: API keys and webhooks. A new key's secret and a new webhook's secret are shown in
# the first answer only (``shown_once``); a replay answers the record without them.
CREATE_WEBHOOK = Operation("create_webhook", webhooks.create_webhook,
                           json_document(WebhookCreated.redacted),
                           shown_once=json_document(WebhookCreated.of))
DELETE_WEBHOOK = Operation("delete_webhook", webhooks.delete_webhook,
                           json_document(WebhookDeleted.of_deleted))
RESUME_WEBHOOK = Operation("resume_webhook", webhooks.resume_webhook,
                           json_document(WebhookOut.of))
REDELIVER = Operation("redeliver_delivery", webhooks.redeliver, json_document(DeliveryOut.of))


def _revoked(key: ApiKey) -> ApiKeyOut:
    return ApiKeyOut.of(key, key.revoked_at or utcnow())


REVOKE_API_KEY = Operation("revoke_api_key", keys.revoke_key, json_document(_revoked))


def create_api_key(secret: str) -> Operation[CreateApiKey, ApiKey]:
    """Creating a key: the first answer shows ``secret``, the key made for this request
    (it is never kept, so a replay answers ``key: null``)."""
    return Operation("create_api_key", keys.create_key, json_document(ApiKeyCreated.redacted),
                     shown_once=json_document(partial(ApiKeyCreated.of_new, key=secret)))


def api_key_request(command: CreateApiKey) -> bytes:
    """What identifies a request to create a key: its command less the secret made for it
    (each request makes another), so that a retry, by either protocol, is the same."""
    return request_of(create_api_key(""), replace(command, prefix="", secret_hash=""))


# The operations made once (a new key's and a batch's are made per request, each with its
# own first answer: ``create_api_key``, ``entrypoints.inventory_batch``).
SHARED: tuple[Operation[Any, Any], ...] = (
    RECORD_SALE, UPDATE_SALE, RETURN_SALE, UPDATE_INVENTORY, SET_REORDER_SETTINGS,
    SHIP_TRANSFER, RECEIVE_TRANSFER, CANCEL_TRANSFER, CLOSE_TRANSFER, RESERVE,
    COMMIT_RESERVATION, RELEASE_RESERVATION, CREATE_PRODUCT, UPDATE_PRODUCT, CREATE_LOCATION,
    UPDATE_LOCATION, CREATE_SUPPLIER, UPDATE_SUPPLIER, CREATE_PURCHASE_ORDER,
    PLACE_PURCHASE_ORDER, RECEIVE_PURCHASE_ORDER, CANCEL_PURCHASE_ORDER, REPORT_FEEDBACK,
    COMPLETE_COUNT_TASK, IMPORT_FILE, CREATE_WEBHOOK, DELETE_WEBHOOK, RESUME_WEBHOOK,
    REDELIVER, REVOKE_API_KEY)
