"""Transfers, holds (reservations), suppliers, purchase orders, returns, feedback and count
tasks: the GraphQL types, built from the REST answers' schemas as in ``stock``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry
from strawberry.experimental.pydantic import type as from_model

from stockline.domain import documents
from stockline.entrypoints.graphql.context import Info
from stockline.entrypoints.graphql.stock import (
    Location,
    Money,  # noqa: F401 - registered first: the models below nest MoneyOut
    Product,
    ReturnLine,  # noqa: F401 - registered first: SaleReturnOut nests ReturnLineOut
    load_location,
    load_product,
    rendered,
)
from stockline.entrypoints.http.schemas.counting import CountTaskOut, FeedbackOut
from stockline.entrypoints.http.schemas.purchasing import (
    ContactOut,
    PurchaseOrderLineOut,
    PurchaseOrderOut,
    SupplierOut,
    SupplierProductOut,
)
from stockline.entrypoints.http.schemas.reservations import ReservationLineOut, ReservationOut
from stockline.entrypoints.http.schemas.sales import SaleReturnOut
from stockline.entrypoints.http.schemas.transfers import (
    TransferLineOut,
    TransferLotOut,
    TransferOut,
)


@from_model(model=TransferLotOut, all_fields=True, description="A lot on a transfer line")
class TransferLot:
    pass


@from_model(model=TransferLineOut, all_fields=True, description="A line of a transfer")
class TransferLine:
    if TYPE_CHECKING:  # fields from the model, named here for the type checker
        sku: str

    @strawberry.field(description="The product moved")
    async def product(self, info: Info) -> Product | None:
        return await load_product(info, self.sku)


@from_model(model=TransferOut, all_fields=True,
            description="Stock on its way from one location to another")
class Transfer:
    if TYPE_CHECKING:  # fields from the model, named here for the type checker
        from_location_id: str
        to_location_id: str

    @strawberry.field(description="Where it was shipped from")
    async def from_location(self, info: Info) -> Location | None:
        return await load_location(info, self.from_location_id)

    @strawberry.field(description="Where it goes")
    async def to_location(self, info: Info) -> Location | None:
        return await load_location(info, self.to_location_id)


@from_model(model=ReservationLineOut, all_fields=True, description="A line of a hold")
class HoldLine:
    if TYPE_CHECKING:  # fields from the model, named here for the type checker
        sku: str

    @strawberry.field(description="The product held")
    async def product(self, info: Info) -> Product | None:
        return await load_product(info, self.sku)


@from_model(model=ReservationOut, all_fields=True,
            description="A hold (reservation) of stock for a cart or a collection")
class Hold:
    if TYPE_CHECKING:  # fields from the model, named here for the type checker
        location_id: str

    @strawberry.field(description="Where the stock is held")
    async def location(self, info: Info) -> Location | None:
        return await load_location(info, self.location_id)


@from_model(model=ContactOut, all_fields=True, description="Who to call at a supplier")
class Contact:
    pass


@from_model(model=SupplierProductOut, all_fields=True,
            description="A product a supplier sells, at its cost")
class SupplierProduct:
    if TYPE_CHECKING:  # fields from the model, named here for the type checker
        sku: str

    @strawberry.field(description="The product")
    async def product(self, info: Info) -> Product | None:
        return await load_product(info, self.sku)


@from_model(model=SupplierOut, all_fields=True, description="A vendor")
class Supplier:
    pass


@from_model(model=PurchaseOrderLineOut, all_fields=True,
            description="A line of a purchase order")
class PurchaseOrderLine:
    if TYPE_CHECKING:  # fields from the model, named here for the type checker
        sku: str

    @strawberry.field(description="The product ordered")
    async def product(self, info: Info) -> Product | None:
        return await load_product(info, self.sku)


@from_model(model=PurchaseOrderOut, all_fields=True, description="An order from a supplier")
class PurchaseOrder:
    if TYPE_CHECKING:  # fields from the model, named here for the type checker
        location_id: str

    @strawberry.field(description="Where the goods are delivered")
    async def location(self, info: Info) -> Location | None:
        return await load_location(info, self.location_id)


@from_model(model=SaleReturnOut, all_fields=True,
            description="A return just made, and the status it left its sale in")
class NewSaleReturn:
    if TYPE_CHECKING:  # fields from the model, named here for the type checker
        location_id: str

    @strawberry.field(description="Where the goods came back")
    async def location(self, info: Info) -> Location | None:
        return await load_location(info, self.location_id)


@from_model(model=FeedbackOut, all_fields=True,
            description="What a member of staff reported: a discrepancy, a sync delay or a "
                        "suggestion")
class Feedback:
    pass


@from_model(model=CountTaskOut, all_fields=True,
            description="A level to count: opened by a discrepancy or an in-hand sale")
class CountTask:
    if TYPE_CHECKING:  # fields from the model, named here for the type checker
        sku: str
        location_id: str

    @strawberry.field(description="The product to count")
    async def product(self, info: Info) -> Product | None:
        return await load_product(info, self.sku)

    @strawberry.field(description="Where to count it")
    async def location(self, info: Info) -> Location | None:
        return await load_location(info, self.location_id)


def transfer_node(transfer: documents.Transfer) -> Transfer:
    return rendered(Transfer, TransferOut.of(transfer))


def hold_node(hold: documents.Reservation) -> Hold:
    return rendered(Hold, ReservationOut.of(hold))


def supplier_node(supplier: documents.Supplier) -> Supplier:
    return rendered(Supplier, SupplierOut.of(supplier))


def order_node(order: documents.PurchaseOrder) -> PurchaseOrder:
    return rendered(PurchaseOrder, PurchaseOrderOut.of(order))
