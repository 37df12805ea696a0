"""Transfers between locations."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, Field

from stockline.domain.commands import (
    CancelTransfer,
    CloseTransfer,
    LineQuantity,
    ReceiveTransfer,
    ShipTransfer,
)
from stockline.domain.documents import Transfer, TransferLine, TransferLot
from stockline.domain.states import TransferRemainder, TransferStatus
from stockline.entrypoints.http.schemas.common import Body, CodeStr, Quantity, Text100, Text500


class TransferLineIn(Body):
    sku: CodeStr
    quantity: Quantity


Lines = Annotated[list[TransferLineIn], Field(min_length=1, max_length=10_000)]


class TransferCreate(Body):
    """Each SKU on one line; origin and destination differ."""

    from_location_id: CodeStr
    to_location_id: CodeStr
    lines: Lines
    note: Text500 | None = None
    external_ref: Text100 | None = Field(default=None,
                                         description="The ERP's or WMS's own id of the move")

    def to_command(self) -> ShipTransfer:
        return ShipTransfer(from_location_id=self.from_location_id,
                            to_location_id=self.to_location_id,
                            lines=tuple(LineQuantity(sku=ln.sku, quantity=ln.quantity)
                                        for ln in self.lines),
                            note=self.note, external_ref=self.external_ref)


class TransferReceive(Body):
    lines: Lines | None = Field(
        default=None, description="What arrived, by SKU; leave out to receive everything "
                                  "still in transit")

    def to_command(self, transfer_id: str) -> ReceiveTransfer:
        lines = None if self.lines is None else tuple(
            LineQuantity(sku=ln.sku, quantity=ln.quantity) for ln in self.lines)
        return ReceiveTransfer(transfer_id=transfer_id, lines=lines)


class TransferCancel(Body):
    note: Text500 | None = Field(default=None,
                                 description="Written on the ledger entries of the return")

    def to_command(self, transfer_id: str) -> CancelTransfer:
        return CancelTransfer(transfer_id=transfer_id, note=self.note)


class TransferClose(Body):
    remainder: TransferRemainder = Field(
        description="What becomes of the units still in transit: `lost` writes them off in "
                    "transit (the lines' `lost_quantity`, ledger `transfer_lost`), `return` "
                    "ships them back to the origin's `on_hand` (the lines' "
                    "`cancelled_quantity`, ledger `transfer_cancel`)")
    note: Text500 | None = Field(default=None,
                                 description="Written on the ledger entries of the close")

    def to_command(self, transfer_id: str) -> CloseTransfer:
        return CloseTransfer(transfer_id=transfer_id, remainder=self.remainder, note=self.note)


class TransferLotOut(BaseModel):
    lot: str | None = Field(description="null for stock that had no lot code at the origin")
    expires_on: date | None
    quantity: int
    received_quantity: int
    returned_quantity: int = Field(description="Sent back to the origin by a cancellation "
                                               "or a close (`return`)")
    lost_quantity: int = Field(description="Written off in transit by a close (`lost`)")
    in_transit: int

    @classmethod
    def of(cls, lot: TransferLot) -> TransferLotOut:
        return cls(lot=lot.lot or None, expires_on=lot.expires_on, quantity=lot.quantity,
                   received_quantity=lot.received_quantity,
                   returned_quantity=lot.returned_quantity, lost_quantity=lot.lost_quantity,
                   in_transit=lot.in_transit)


class TransferLineOut(BaseModel):
    line_no: int
    sku: str
    quantity: int = Field(description="Shipped")
    received_quantity: int
    cancelled_quantity: int = Field(description="Sent back to the origin's on_hand by a "
                                                "cancellation or a close (`return`)")
    lost_quantity: int = Field(description="Written off in transit by a close (`lost`)")
    in_transit: int = Field(description="quantity - received_quantity - cancelled_quantity "
                                        "- lost_quantity")
    lots: list[TransferLotOut] = Field(
        description="The origin's lots the line carries, in the order they arrive; "
                    "empty when the origin does not keep this SKU in lots")

    @classmethod
    def of(cls, line: TransferLine) -> TransferLineOut:
        return cls(line_no=line.line_no, sku=line.sku, quantity=line.quantity,
                   received_quantity=line.received_quantity,
                   cancelled_quantity=line.cancelled_quantity,
                   lost_quantity=line.lost_quantity, in_transit=line.in_transit,
                   lots=[TransferLotOut.of(lot) for lot in line.lots])


class TransferOut(BaseModel):
    id: str
    status: TransferStatus
    from_location_id: str
    to_location_id: str
    lines: list[TransferLineOut]
    note: str | None
    external_ref: str | None
    created_at: datetime = Field(description="When it was shipped")
    updated_at: datetime
    received_at: datetime | None = Field(description="When stock last arrived")
    cancelled_at: datetime | None
    closed_at: datetime | None = Field(description="When it was closed short")
    remainder: TransferRemainder | None = Field(
        description="What the close did with the units still in transit (null unless "
                    "`closed`)")
    actor: str

    @classmethod
    def of(cls, t: Transfer) -> TransferOut:
        return cls(id=t.id, status=t.status, from_location_id=t.from_location_id,
                   to_location_id=t.to_location_id,
                   lines=[TransferLineOut.of(ln) for ln in t.lines], note=t.note,
                   external_ref=t.external_ref, created_at=t.created_at,
                   updated_at=t.updated_at, received_at=t.received_at,
                   cancelled_at=t.cancelled_at, closed_at=t.closed_at,
                   remainder=t.remainder, actor=t.actor)
