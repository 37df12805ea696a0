"""The inputs of the writes on documents: a sale's states and returns, a transfer's close,
purchase orders, feedback and count tasks; each its REST route's body schema
(``inputs``)."""

from __future__ import annotations

from strawberry.experimental.pydantic import input as from_body

from stockline.entrypoints.graphql.inputs import MoneyInput  # noqa: F401 - nested below
from stockline.entrypoints.http.schemas.counting import CountTaskComplete, FeedbackCreate
from stockline.entrypoints.http.schemas.purchasing import (
    PurchaseLineIn,
    PurchaseOrderCreate,
    PurchaseOrderReceipt,
    ReceiptLineIn,
)
from stockline.entrypoints.http.schemas.sales import ReturnLineIn, SaleReturnCreate, SaleUpdate
from stockline.entrypoints.http.schemas.transfers import TransferClose


@from_body(model=SaleUpdate, all_fields=True,
           description="As PATCH /v1/sales/{id}: a state left out stays as it is")
class UpdateSaleInput:
    pass


@from_body(model=ReturnLineIn, all_fields=True)
class ReturnLineInput:
    pass


@from_body(model=SaleReturnCreate, all_fields=True,
           description="As POST /v1/sales/{id}/returns")
class ReturnSaleInput:
    pass


@from_body(model=TransferClose, all_fields=True,
           description="As POST /v1/stock-movements/transfers/{id}/close")
class CloseTransferInput:
    pass


@from_body(model=PurchaseLineIn, all_fields=True)
class PurchaseLineInput:
    pass


@from_body(model=PurchaseOrderCreate, all_fields=True,
           description="As POST /v1/purchase-orders")
class CreatePurchaseOrderInput:
    pass


@from_body(model=ReceiptLineIn, all_fields=True)
class ReceiptLineInput:
    pass


@from_body(model=PurchaseOrderReceipt, all_fields=True,
           description="As POST /v1/purchase-orders/{id}/receive: `lines` left out "
                       "receives everything outstanding")
class ReceivePurchaseOrderInput:
    pass


@from_body(model=FeedbackCreate, all_fields=True, description="As POST /v1/feedback")
class ReportFeedbackInput:
    pass


@from_body(model=CountTaskComplete, all_fields=True,
           description="As POST /v1/count-tasks/{id}/complete")
class CompleteCountTaskInput:
    pass
