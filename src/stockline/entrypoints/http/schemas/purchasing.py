"""Suppliers, purchase orders and replenishment suggestions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StringConstraints, field_validator

from stockline.domain.commands import (
    CreatePurchaseOrder,
    CreateSupplier,
    PurchaseLineRequest,
    ReceiptLine,
    ReceivePurchaseOrder,
    SupplierProductRequest,
    UpdateSupplier,
)
from stockline.domain.documents import (
    PurchaseOrder,
    PurchaseOrderLine,
    Suggestion,
    SuggestionSource,
    Supplier,
)
from stockline.domain.replenishment import SUPPLIER
from stockline.domain.states import PurchaseOrderStatus
from stockline.domain.values import Money, SupplierStatus
from stockline.entrypoints.http.schemas.common import (
    NO_NUL,
    Body,
    CodeStr,
    IsoDate,
    MoneyIn,
    MoneyOut,
    NeverNull,
    PartialBody,
    Quantity,
    Text100,
    Text200,
    Text500,
    partial_schema,
)

LeadTime = Annotated[int, Field(strict=True, ge=0, le=3650,
                                description="Days from ordering to delivery")]
Email = Annotated[str, StringConstraints(strict=True, max_length=254,
                                         pattern=r"^[^@\s\x00]+@[^@\s\x00]+$")]
Phone = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=50,
                                         pattern=NO_NUL)]


# -- suppliers ----------------------------------------------------------------------------

class ContactIn(Body):
    name: Text200 | None = None
    email: Email | None = None
    phone: Phone | None = None

    def to_dict(self) -> dict[str, str]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


class SupplierProductIn(Body):
    sku: CodeStr
    cost: MoneyIn


class SupplierCreate(Body):
    code: CodeStr
    name: Text200
    contact: ContactIn | None = None
    lead_time_days: LeadTime | None = None
    products: Annotated[list[SupplierProductIn], Field(max_length=10_000)] = Field(
        default_factory=list, description="What the supplier sells, each SKU once, at what cost")

    @field_validator("products")
    @classmethod
    def _each_sku_once(cls, value: list[SupplierProductIn]) -> list[SupplierProductIn]:
        skus = [p.sku for p in value]
        if len(set(skus)) != len(skus):
            raise ValueError("each SKU may be listed once")
        return value

    def to_command(self) -> CreateSupplier:
        contact = self.contact.to_dict() if self.contact else None
        return CreateSupplier(code=self.code, name=self.name, contact=contact or None,
                              lead_time_days=self.lead_time_days,
                              products=tuple(SupplierProductRequest(sku=p.sku,
                                                                    cost=p.cost.to_money())
                                             for p in self.products))


class SupplierUpdate(PartialBody):
    """``contact`` replaces the whole contact (null clears it); the products a supplier
    offers are not changed here."""

    model_config = ConfigDict(json_schema_extra=partial_schema(PartialBody.NEVER_NULL))

    name: Annotated[Text200 | None, NeverNull] = None
    status: Annotated[SupplierStatus | None, NeverNull] = Field(
        default=None, description="`closed`: no new purchase orders (409 `invalid_state`), "
                                  "no replenishment suggestions from it")
    contact: ContactIn | None = None
    lead_time_days: LeadTime | None = None

    def to_command(self, code: str) -> UpdateSupplier:
        changes = self.changes()
        if self.contact is not None:
            changes["contact"] = self.contact.to_dict() or None
        return UpdateSupplier(code=code, changes=changes)


class ContactOut(BaseModel):
    name: str | None = None
    email: str | None = None
    phone: str | None = None


class SupplierProductOut(BaseModel):
    sku: str
    cost: MoneyOut


class SupplierOut(BaseModel):
    code: str
    name: str
    contact: ContactOut | None
    lead_time_days: int | None
    products: list[SupplierProductOut]
    status: SupplierStatus
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, s: Supplier) -> SupplierOut:
        contact = ContactOut(**{k: v for k, v in s.contact.items()
                                if k in ContactOut.model_fields}) if s.contact else None
        return cls(code=s.code, name=s.name, contact=contact, lead_time_days=s.lead_time_days,
                   products=[SupplierProductOut(sku=p.sku, cost=_money(p.cost))
                             for p in s.products],
                   status=s.status, created_at=s.created_at, updated_at=s.updated_at)


# -- purchase orders ----------------------------------------------------------------------

class PurchaseLineIn(Body):
    sku: CodeStr
    quantity: Quantity
    unit_cost: MoneyIn | None = Field(default=None,
                                      description="Defaults to the supplier's cost of the SKU")


class PurchaseOrderCreate(Body):
    supplier_id: CodeStr = Field(description="The supplier's code")
    location_id: CodeStr = Field(description="Where the goods are to be delivered")
    lines: Annotated[list[PurchaseLineIn], Field(min_length=1, max_length=10_000)]
    draft: StrictBool = Field(default=False,
                              description="Keep it as a draft: nothing is incoming until "
                                          "it is ordered")
    note: Text500 | None = None
    external_ref: Text100 | None = Field(default=None,
                                         description="The ERP's or supplier's own reference")

    def to_command(self) -> CreatePurchaseOrder:
        return CreatePurchaseOrder(
            supplier_id=self.supplier_id, location_id=self.location_id,
            lines=tuple(PurchaseLineRequest(
                sku=ln.sku, quantity=ln.quantity,
                unit_cost=ln.unit_cost.to_money() if ln.unit_cost else None)
                for ln in self.lines),
            draft=self.draft, note=self.note, external_ref=self.external_ref)


class ReceiptLineIn(Body):
    sku: CodeStr
    quantity: Quantity
    lot: CodeStr | None = Field(default=None, description="The lot received")
    expires_on: IsoDate | None = Field(default=None,
                                       description="Expiry of the lot (with `lot`)")


class PurchaseOrderReceipt(Body):
    """Leave ``lines`` out (send ``{}``) to receive everything still outstanding."""

    lines: Annotated[list[ReceiptLineIn], Field(min_length=1, max_length=10_000)] | None = None

    @field_validator("lines")
    @classmethod
    def _not_null(cls, value: object) -> object:
        # null is not "everything": a client bug must not receive a whole order.
        if value is None:
            raise ValueError("may be left out (to receive everything), but not null")
        return value

    def to_command(self, order_id: str) -> ReceivePurchaseOrder:
        lines = None if self.lines is None else tuple(
            ReceiptLine(sku=ln.sku, quantity=ln.quantity, lot=ln.lot, expires_on=ln.expires_on)
            for ln in self.lines)
        return ReceivePurchaseOrder(purchase_order_id=order_id, lines=lines)


class NoFields(Body):
    """An action without parameters: an empty object, or no body at all."""


class PurchaseOrderLineOut(BaseModel):
    line_no: int
    sku: str
    quantity: int
    received_quantity: int
    outstanding: int = Field(description="Still to come; 0 once the order is cancelled")
    unit_cost: MoneyOut | None
    total: MoneyOut | None

    @classmethod
    def of(cls, ln: PurchaseOrderLine, cancelled: bool) -> PurchaseOrderLineOut:
        return cls(line_no=ln.line_no, sku=ln.sku, quantity=ln.quantity,
                   received_quantity=ln.received_quantity,
                   outstanding=0 if cancelled else ln.outstanding,
                   unit_cost=MoneyOut.of(ln.unit_cost),
                   total=MoneyOut.of(ln.unit_cost.times(ln.quantity)) if ln.unit_cost else None)


class PurchaseOrderOut(BaseModel):
    id: str
    supplier_id: str
    location_id: str
    status: PurchaseOrderStatus
    lines: list[PurchaseOrderLineOut]
    total: MoneyOut | None = Field(description="null unless every line has a unit cost")
    note: str | None
    external_ref: str | None
    actor: str
    created_at: datetime
    updated_at: datetime
    ordered_at: datetime | None
    expected_at: datetime | None = Field(description="ordered_at plus the supplier's lead "
                                                     "time, when it is known")
    received_at: datetime | None
    cancelled_at: datetime | None

    @classmethod
    def of(cls, o: PurchaseOrder) -> PurchaseOrderOut:
        cancelled = o.status is PurchaseOrderStatus.CANCELLED
        return cls(id=o.id, supplier_id=o.supplier_id, location_id=o.location_id,
                   status=o.status, lines=[PurchaseOrderLineOut.of(ln, cancelled)
                                           for ln in o.lines],
                   total=_total(o.lines), note=o.note, external_ref=o.external_ref,
                   actor=o.actor, created_at=o.created_at, updated_at=o.updated_at,
                   ordered_at=o.ordered_at, expected_at=o.expected_at,
                   received_at=o.received_at, cancelled_at=o.cancelled_at)


def _total(lines: list[PurchaseOrderLine]) -> MoneyOut | None:
    costs = [ln.unit_cost for ln in lines]
    known = [c for c in costs if c is not None]
    if not known or len(known) != len(costs):
        return None
    units = sum(c.units * ln.quantity for c, ln in zip(known, lines, strict=True))
    return _money(Money.from_units(units, known[0].currency))


def _money(money: Money) -> MoneyOut:
    return MoneyOut(amount=money.format(), currency=money.currency)


# -- replenishment ------------------------------------------------------------------------

class SourceType(StrEnum):
    SUPPLIER = "supplier"
    TRANSFER = "transfer"
    NONE = "none"


class SourceOut(BaseModel):
    type: Literal["supplier", "transfer"] = Field(
        description="`supplier` (buy it) or `transfer` (move it)")
    id: str = Field(description="The supplier's code, or the location to transfer from")
    unit_cost: MoneyOut | None = Field(
        default=None, description="A supplier's cost (null for a key that may not read "
                                  "suppliers)")
    lead_time_days: int | None = Field(default=None, description="A supplier's lead time")
    surplus: int | None = Field(
        default=None, description="What the location can spare (available above its reorder "
                                  "point and safety stock); below `quantity` when it covers "
                                  "only part of it")

    @classmethod
    def of(cls, s: SuggestionSource | None, *, costs: bool = True) -> SourceOut | None:
        if s is None:
            return None
        kind: Literal["supplier", "transfer"] = (
            "supplier" if s.type == SUPPLIER else "transfer")
        return cls(type=kind, id=s.id, unit_cost=MoneyOut.of(s.unit_cost) if costs else None,
                   lead_time_days=s.lead_time_days, surplus=s.surplus)


class SuggestionOut(BaseModel):
    location_id: str
    sku: str
    available: int
    reorder_point: int
    reorder_quantity: int | None
    safety_stock: int | None
    on_order: int = Field(description="in_transit + incoming: already on its way")
    quantity: int = Field(description="Units to bring in")
    daily_velocity: float = Field(description="Net units sold a day over the trailing 28 "
                                  "days (4 decimals), which the quantity covers")
    source: SourceOut | None = Field(description="Where from; null when nowhere is known")

    @classmethod
    def of(cls, s: Suggestion, *, costs: bool = True) -> SuggestionOut:
        """``costs`` False leaves out the supplier's cost (a caller who may not see it)."""
        return cls(location_id=s.location_id, sku=s.sku, available=s.available,
                   reorder_point=s.reorder_point, reorder_quantity=s.reorder_quantity,
                   safety_stock=s.safety_stock, on_order=s.on_order, quantity=s.quantity,
                   daily_velocity=round(s.daily_velocity, 4),
                   source=SourceOut.of(s.source, costs=costs))
