"""Write-side repositories over the unit of work's connection, one module per area."""

from stockline.adapters.repositories.core import (
    SqlLedger,
    SqlLevels,
    SqlLocations,
    SqlOutbox,
    SqlProducts,
    SqlSales,
)
from stockline.adapters.repositories.customers import SqlCustomers
from stockline.adapters.repositories.idempotency import SqlIdempotency
from stockline.adapters.repositories.keys import SqlApiKeys
from stockline.adapters.repositories.lots import SqlLots
from stockline.adapters.repositories.purchasing import SqlPurchaseOrders, SqlSuppliers
from stockline.adapters.repositories.reservations import SqlReservations
from stockline.adapters.repositories.transfers import SqlTransfers
from stockline.adapters.repositories.webhooks import SqlWebhooks

__all__ = [
    "SqlApiKeys", "SqlCustomers", "SqlIdempotency", "SqlLedger", "SqlLevels", "SqlLocations",
    "SqlLots",
    "SqlOutbox", "SqlProducts", "SqlPurchaseOrders", "SqlReservations", "SqlSales", "SqlSuppliers",
    "SqlTransfers", "SqlWebhooks",
]
