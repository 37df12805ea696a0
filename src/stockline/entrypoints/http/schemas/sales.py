"""Sales."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from stockline.domain.commands import RecordSale, SaleLineRequest
from stockline.domain.model import Sale
from stockline.domain.values import Channel, PaymentStatus
from stockline.entrypoints.http.schemas.common import (
    Body,
    CodeStr,
    MoneyIn,
    MoneyOut,
    Quantity,
    Text100,
    Timestamp,
)


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
    payment_status: PaymentStatus = PaymentStatus.PAID
    external_ref: Text100 | None = Field(default=None,
                                         description="The POS or order system's own id")

    def to_command(self) -> RecordSale:
        return RecordSale(
            location_id=self.location_id,
            lines=tuple(SaleLineRequest(sku=ln.sku, quantity=ln.quantity,
                                        unit_price=ln.unit_price.to_money())
                        for ln in self.lines),
            channel=self.channel, payment_status=self.payment_status,
            occurred_at=self.occurred_at, external_ref=self.external_ref)


class SaleLineOut(BaseModel):
    line_no: int
    sku: str
    quantity: int
    unit_price: MoneyOut
    total: MoneyOut


class SaleOut(BaseModel):
    id: str
    location_id: str
    lines: list[SaleLineOut]
    total: MoneyOut
    units: int
    status: str
    channel: Channel
    payment_status: PaymentStatus
    external_ref: str | None
    actor: str
    occurred_at: datetime
    created_at: datetime

    @classmethod
    def of(cls, s: Sale) -> SaleOut:
        lines = [SaleLineOut(line_no=n, sku=ln.sku, quantity=ln.quantity,
                             unit_price=MoneyOut(amount=ln.unit_price.format(),
                                                 currency=s.currency),
                             total=MoneyOut(amount=ln.total.format(), currency=s.currency))
                 for n, ln in enumerate(s.lines, start=1)]
        return cls(id=s.id, location_id=s.location_id, lines=lines,
                   total=MoneyOut(amount=s.total.format(), currency=s.currency),
                   units=s.units, status=s.status, channel=s.channel,
                   payment_status=s.payment_status, external_ref=s.external_ref,
                   actor=s.actor, occurred_at=s.occurred_at, created_at=s.created_at)
