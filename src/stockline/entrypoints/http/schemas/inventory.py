"""Inventory levels and the ledger."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, Field

from stockline.adapters.queries import PastLevel
from stockline.domain.commands import SetReorderSettings, UpdateInventory
from stockline.domain.lots import Lot, fefo_order
from stockline.domain.model import LedgerEntry, Level
from stockline.domain.values import MovementType, Reason
from stockline.entrypoints.http.schemas.common import Body, CodeStr, Count, IsoDate, Text500

Delta = Annotated[int, Field(strict=True, ge=-1_000_000_000, le=1_000_000_000,
                             description="Non-zero change of on_hand")]
Setting = Annotated[int, Field(strict=True, ge=0, le=1_000_000_000)]


class InventoryUpdate(Body):
    """Give exactly one of ``delta`` or ``quantity`` (the absolute, counted on-hand)."""

    location_id: CodeStr
    sku: CodeStr
    delta: Delta | None = None
    quantity: Count | None = Field(
        default=None, description="The counted on_hand; holds that no longer fit are "
        "released, newest first (reason `stock_count`)")
    reason: Reason
    note: Text500 | None = None
    lot: CodeStr | None = Field(
        default=None, description="The lot received or removed; with `quantity`, the lot counted")
    expires_on: IsoDate | None = Field(default=None,
                                       description="Expiry of the lot (with `lot`, on receipt)")
    expected_version: Annotated[int, Field(strict=True, ge=0, le=2**63 - 1)] | None = Field(
        default=None, description="Compare-and-set: refused with 409 when the level moved on")

    def to_command(self) -> UpdateInventory:
        return UpdateInventory(location_id=self.location_id, sku=self.sku, delta=self.delta,
                               quantity=self.quantity, reason=self.reason, note=self.note,
                               lot=self.lot, expires_on=self.expires_on,
                               expected_version=self.expected_version)


class ReorderSettings(Body):
    reorder_point: Setting | None = None
    reorder_quantity: Setting | None = None
    safety_stock: Setting | None = None

    def to_command(self, location_id: str, sku: str) -> SetReorderSettings:
        return SetReorderSettings(location_id=location_id, sku=sku,
                                  reorder_point=self.reorder_point,
                                  reorder_quantity=self.reorder_quantity,
                                  safety_stock=self.safety_stock)


PAST = "; null with `as_of` (not recorded over time)"


class LevelOut(BaseModel):
    location_id: str
    sku: str
    on_hand: int
    reserved: int
    available: int = Field(description="on_hand - reserved; never below 0")
    in_transit: int = Field(description="Inbound by transfer, not yet received")
    incoming: int | None = Field(description="On open purchase orders, not yet received"
                                 + PAST)
    reorder_point: int | None
    reorder_quantity: int | None
    safety_stock: int | None
    version: int | None = Field(description="Bumped by every change of the level" + PAST)
    updated_at: datetime | None
    as_of: datetime | None = Field(
        default=None, description="With `as_of`: the instant this row is the level at (the "
        "one asked for, or now when that is later); absent otherwise")

    @classmethod
    def of(cls, lv: Level) -> LevelOut:
        return cls(location_id=lv.location_id, sku=lv.sku, on_hand=lv.on_hand,
                   reserved=lv.reserved, available=lv.available, in_transit=lv.in_transit,
                   incoming=lv.incoming, reorder_point=lv.reorder_point,
                   reorder_quantity=lv.reorder_quantity, safety_stock=lv.safety_stock,
                   version=lv.version, updated_at=lv.updated_at)

    @classmethod
    def past(cls, lv: PastLevel) -> LevelOut:
        """What is known of a level at ``lv.as_of``; the rest null."""
        return cls(location_id=lv.location_id, sku=lv.sku, on_hand=lv.on_hand,
                   reserved=lv.reserved, available=lv.available, in_transit=lv.in_transit,
                   incoming=None, reorder_point=None, reorder_quantity=None,
                   safety_stock=None, version=None, updated_at=None, as_of=lv.as_of)


class LotOut(BaseModel):
    lot: str | None = Field(description="null for stock received without a lot code")
    on_hand: int
    expires_on: date | None
    received_at: datetime

    @classmethod
    def of(cls, lot: Lot) -> LotOut:
        return cls(lot=lot.lot or None, on_hand=lot.on_hand, expires_on=lot.expires_on,
                   received_at=lot.received_at)


class LevelDetailOut(LevelOut):
    lots: list[LotOut] | None = Field(
        description="For a level kept in lots: on_hand is their sum; first-expiring first"
                    + PAST)

    @classmethod
    def with_lots(cls, lv: Level, lots: list[Lot]) -> LevelDetailOut:
        return cls(**LevelOut.of(lv).model_dump(),
                   lots=[LotOut.of(x) for x in sorted(lots, key=fefo_order) if x.on_hand > 0])

    @classmethod
    def past_detail(cls, lv: PastLevel) -> LevelDetailOut:
        return cls(**LevelOut.past(lv).model_dump(), lots=None)


class MovementOut(BaseModel):
    id: int
    location_id: str
    sku: str
    lot: str | None
    delta: int
    balance_after: int = Field(description="on_hand right after this change")
    type: MovementType
    reason: str
    reference: str | None = Field(description="What caused it, e.g. the sale id")
    actor: str
    note: str | None
    occurred_at: datetime
    recorded_at: datetime | None

    @classmethod
    def of(cls, e: LedgerEntry) -> MovementOut:
        assert e.id is not None
        return cls(id=e.id, location_id=e.location_id, sku=e.sku, lot=e.lot, delta=e.delta,
                   balance_after=e.balance_after, type=e.type, reason=e.reason,
                   reference=e.reference, actor=e.actor, note=e.note,
                   occurred_at=e.occurred_at, recorded_at=e.recorded_at)
