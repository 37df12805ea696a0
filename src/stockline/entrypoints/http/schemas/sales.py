"""Sales."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from stockline.domain.commands import (
    LineQuantity,
    RecordSale,
    ReturnSale,
    SaleLineRequest,
    UpdateSale,
)
from stockline.domain.model import Sale, SaleReturn
from stockline.domain.values import (
    Channel,
    FulfillmentStatus,
    OpeningPaymentStatus,
    PaymentStatus,
    ReturnReason,
    SaleStatus,
)
from stockline.entrypoints.http.schemas.common import (
    Body,
    CodeStr,
    MoneyIn,
    MoneyOut,
    Quantity,
    SentFields,
    Text100,
    Text500,
    Timestamp,
)
from stockline.entrypoints.http.schemas.customers import CustomerIn


class SaleLineIn(Body):
    sku: CodeStr
    quantity: Quantity
    unit_price: MoneyIn


class SaleCreate(Body):
    location_id: CodeStr
    lines: Annotated[list[SaleLineIn], Field(min_length=1, max_length=10_000)]
    channel: Channel = Channel.POS
    occurred_at: Timestamp | None = Field(
        default=None, description="When the sale happened (defaults to now); not in the future")
    payment_status: OpeningPaymentStatus = Field(
        default=OpeningPaymentStatus.PAID, description="`refunded` and `failed` come later, "
        "by PATCH /v1/sales/{id}")
    external_ref: Text100 | None = Field(default=None,
                                         description="The POS or order system's own id")
    customer: CustomerIn | None = Field(
        default=None, description="Who bought, kept apart from the sale: never in a sale's "
                                  "answer, its events or webhooks; read at GET "
                                  "/v1/customers/{ref}, erased by POST "
                                  "/v1/customers/{ref}/erase")

    in_hand: bool = Field(
        default=False, strict=True,
        description="The customer holds the goods: a line short of available stock is "
                    "found first (a `found` ledger entry referencing the sale) and a count "
                    "task opened for its level, instead of 409 `insufficient_stock`. Needs "
                    "`inventory:count` at the location too")

    def subject(self) -> str | None:
        return self.customer.ref if self.customer is not None else None

    def to_command(self) -> RecordSale:
        return RecordSale(
            location_id=self.location_id,
            lines=tuple(SaleLineRequest(sku=ln.sku, quantity=ln.quantity,
                                        unit_price=ln.unit_price.to_money())
                        for ln in self.lines),
            channel=self.channel, payment_status=PaymentStatus(self.payment_status.value),
            occurred_at=self.occurred_at, external_ref=self.external_ref,
            customer=self.customer.to_details() if self.customer else None,
            in_hand=self.in_hand)


class SaleUpdate(SentFields):
    """The states to move the sale to; a field left out stays as it is."""

    payment_status: PaymentStatus | None = None
    fulfillment_status: FulfillmentStatus | None = None

    def to_command(self, sale_id: str) -> UpdateSale:
        return UpdateSale(sale_id=sale_id, payment_status=self.payment_status,
                          fulfillment_status=self.fulfillment_status)


class ReturnLineIn(Body):
    sku: CodeStr
    quantity: Quantity


class SaleReturnCreate(Body):
    lines: Annotated[list[ReturnLineIn], Field(min_length=1, max_length=10_000)]
    restock: bool = Field(strict=True, description="true: the units go back on hand where "
                          "they were returned; false: they are written off")
    reason: ReturnReason
    note: Text500 | None = None
    location_id: CodeStr | None = Field(
        default=None, description="where the customer brought the goods back (restocked "
        "there); default: the sale's location")

    def to_command(self, sale_id: str) -> ReturnSale:
        return ReturnSale(sale_id=sale_id,
                          lines=tuple(LineQuantity(sku=ln.sku, quantity=ln.quantity)
                                      for ln in self.lines),
                          restock=self.restock, reason=self.reason, note=self.note,
                          location_id=self.location_id)


class ReturnLineOut(BaseModel):
    sku: str
    quantity: int


class ReturnOut(BaseModel):
    id: str
    sale_id: str
    location_id: str
    lines: list[ReturnLineOut]
    restock: bool
    reason: ReturnReason
    note: str | None
    actor: str
    created_at: datetime

    @classmethod
    def of(cls, r: SaleReturn) -> ReturnOut:
        return cls(id=r.id, sale_id=r.sale_id, location_id=r.location_id,
                   lines=[ReturnLineOut(sku=ln.sku, quantity=ln.quantity) for ln in r.lines],
                   restock=r.restock, reason=r.reason, note=r.note, actor=r.actor,
                   created_at=r.created_at)


class SaleReturnOut(ReturnOut):
    """A return just made, and the status it left its sale in."""

    sale_status: SaleStatus

    @classmethod
    def of_sale(cls, sale: Sale) -> SaleReturnOut:
        """The sale's newest return (the one ``return_sale`` just added)."""
        made = ReturnOut.of(sale.returns[-1])
        return cls(**made.model_dump(), sale_status=SaleStatus(sale.status))


class SaleLineOut(BaseModel):
    line_no: int
    sku: str
    quantity: int
    returned_quantity: int = Field(description="Units of this line returned so far (a SKU's "
                                   "returns count against its lines in line order)")
    unit_price: MoneyOut
    total: MoneyOut


class SaleOut(BaseModel):
    id: str
    location_id: str
    lines: list[SaleLineOut]
    total: MoneyOut
    units: int
    status: SaleStatus
    channel: Channel
    payment_status: PaymentStatus
    fulfillment_status: FulfillmentStatus
    external_ref: str | None
    actor: str
    occurred_at: datetime
    created_at: datetime
    returns: list[ReturnOut] = Field(description="Returns against this sale, oldest first")

    @classmethod
    def of(cls, s: Sale) -> SaleOut:
        left = {ln.sku: s.returned(ln.sku) for ln in s.lines}
        lines = []
        for n, ln in enumerate(s.lines, start=1):
            returned = min(ln.quantity, left[ln.sku])
            left[ln.sku] -= returned
            lines.append(SaleLineOut(
                line_no=n, sku=ln.sku, quantity=ln.quantity, returned_quantity=returned,
                unit_price=MoneyOut(amount=ln.unit_price.format(), currency=s.currency),
                total=MoneyOut(amount=ln.total.format(), currency=s.currency)))
        return cls(id=s.id, location_id=s.location_id, lines=lines,
                   total=MoneyOut(amount=s.total.format(), currency=s.currency),
                   units=s.units, status=SaleStatus(s.status), channel=s.channel,
                   payment_status=s.payment_status,
                   fulfillment_status=s.fulfillment_status, external_ref=s.external_ref,
                   actor=s.actor, occurred_at=s.occurred_at, created_at=s.created_at,
                   returns=[ReturnOut.of(r) for r in s.returns])
