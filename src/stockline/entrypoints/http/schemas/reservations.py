"""Reservations (holds on available stock)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field

from stockline.domain.commands import CommitReservation, CreateReservation, ReservationLineRequest
from stockline.domain.documents import Reservation
from stockline.domain.states import ReservationStatus
from stockline.domain.values import Channel, OpeningPaymentStatus, PaymentStatus
from stockline.entrypoints.http.schemas.common import (
    Body,
    CodeStr,
    MoneyIn,
    MoneyOut,
    Quantity,
    Text100,
)

# Ten years: far past any sensible hold; the configured maximum is checked by the route.
TtlSeconds = Annotated[int, Field(strict=True, ge=1, le=10 * 365 * 24 * 3600)]


class ReservationLineIn(Body):
    sku: CodeStr
    quantity: Quantity
    unit_price: MoneyIn | None = Field(
        default=None, description="The price the sale will carry; the product's price at "
                                  "commit time when left out")


class ReservationCreate(Body):
    location_id: CodeStr
    lines: Annotated[list[ReservationLineIn], Field(min_length=1, max_length=10_000)]
    ttl_seconds: TtlSeconds | None = Field(
        default=None, description="How long the hold lasts (the server's default when left "
                                  "out; at most its configured maximum)")
    channel: Channel = Channel.ECOMMERCE
    external_ref: Text100 | None = Field(default=None,
                                         description="The cart or order system's own id")

    def to_command(self) -> CreateReservation:
        return CreateReservation(
            location_id=self.location_id,
            lines=tuple(ReservationLineRequest(
                sku=ln.sku, quantity=ln.quantity,
                unit_price=ln.unit_price.to_money() if ln.unit_price else None)
                for ln in self.lines),
            ttl_seconds=self.ttl_seconds, channel=self.channel, external_ref=self.external_ref)


class ReservationCommit(Body):
    payment_status: OpeningPaymentStatus = OpeningPaymentStatus.PAID
    external_ref: Text100 | None = Field(
        default=None, description="The sale's external ref (the reservation's when left out)")

    def to_command(self, reservation_id: str) -> CommitReservation:
        return CommitReservation(reservation_id=reservation_id,
                                 payment_status=PaymentStatus(self.payment_status.value),
                                 external_ref=self.external_ref)


class ReservationLineOut(BaseModel):
    line_no: int
    sku: str
    quantity: int
    unit_price: MoneyOut | None


class ReservationOut(BaseModel):
    id: str
    status: ReservationStatus
    location_id: str
    lines: list[ReservationLineOut]
    channel: Channel
    expires_at: datetime
    external_ref: str | None
    sale_id: str | None = Field(description="The sale it became, once committed")
    reason: str | None = Field(default=None, description="Why it was released other than "
                               "by its holder: `stock_count` (a count left too little on "
                               "hand for it)")
    created_at: datetime
    updated_at: datetime
    actor: str

    @classmethod
    def of(cls, r: Reservation) -> ReservationOut:
        return cls(id=r.id, status=r.status, location_id=r.location_id,
                   lines=[ReservationLineOut(line_no=n, sku=ln.sku, quantity=ln.quantity,
                                             unit_price=MoneyOut.of(ln.unit_price))
                          for n, ln in enumerate(r.lines, start=1)],
                   channel=r.channel, expires_at=r.expires_at, external_ref=r.external_ref,
                   sale_id=r.sale_id, created_at=r.created_at, updated_at=r.updated_at,
                   actor=r.actor, reason=r.reason)
