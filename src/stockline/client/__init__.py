"""A typed Python client of the Stockline API: ``Client`` (blocking) and ``AsyncClient``
(asyncio), on httpx.

    from stockline.client import Client, Line, Money

    with Client("http://127.0.0.1:8000", api_key=KEY) as api:
        sale = api.record_sale("STORE-NYC-01", [Line("RUN-1", 2, Money(Decimal("9.99"), "USD"))])
        for level in api.inventory(sku="RUN-1"):
            print(level.location_id, level.available)

It stands alone: it imports nothing of the server, so a program that only calls the API
needs none of the server's code paths.
"""

from stockline.client.aio import AsyncClient
from stockline.client.bulk import Batch, BatchResult, ImportResult
from stockline.client.errors import (
    AlreadyExists,
    Conflict,
    ConnectionFailed,
    ExcessLine,
    FieldError,
    Forbidden,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
    InsufficientStock,
    InvalidState,
    LocationClosed,
    NotFound,
    ProductDiscontinued,
    QuantityExceeded,
    RateLimited,
    Reset,
    ServerError,
    ShortLine,
    StocklineError,
    StreamReset,
    Unauthorized,
    Unavailable,
    ValidationFailed,
    VersionConflict,
)
from stockline.client.models import (
    Event,
    InventoryChange,
    Level,
    Line,
    Location,
    Lot,
    Money,
    Movement,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    Reservation,
    ReservationLine,
    ReturnLine,
    Sale,
    SaleLine,
    SaleReturn,
    Supplier,
    SupplierProduct,
    Transfer,
    TransferLine,
)
from stockline.client.records import ApiKey, AuditEntry, Delivery, Source, Suggestion, Webhook
from stockline.client.sync import Client

__all__ = [
    "AlreadyExists", "ApiKey", "AsyncClient", "AuditEntry", "Batch", "BatchResult", "Client",
    "Conflict", "ConnectionFailed", "Delivery", "Event", "ExcessLine", "FieldError",
    "Forbidden", "IdempotencyKeyInUse", "IdempotencyKeyReused", "ImportResult",
    "InsufficientStock", "InvalidState", "InventoryChange",
    "Level", "Line", "Location", "LocationClosed", "Lot", "Money", "Movement", "NotFound",
    "Product", "ProductDiscontinued",
    "PurchaseOrder", "PurchaseOrderLine", "QuantityExceeded", "RateLimited", "Reservation",
    "ReservationLine", "Reset", "ReturnLine", "Sale", "SaleLine", "SaleReturn", "ServerError",
    "ShortLine", "Source", "StocklineError", "StreamReset", "Suggestion", "Supplier",
    "SupplierProduct", "Transfer", "TransferLine", "Unauthorized", "Unavailable",
    "ValidationFailed", "VersionConflict", "Webhook",
]
