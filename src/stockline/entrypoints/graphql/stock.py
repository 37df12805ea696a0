"""Products, locations, levels with their lots, sales and the ledger: the GraphQL types.

Each type is the REST answer's schema (``ProductOut``, ``LocationOut``, ``LevelOut``, ...)
as GraphQL, built from it (``from_pydantic``), so both protocols show the same fields
with the same values; the nested fields are added here and read through the loaders.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, TypeVar

import strawberry
from pydantic import BaseModel
from strawberry.experimental.pydantic import type as from_model
from strawberry.scalars import JSON

from stockline.domain import model
from stockline.domain.lots import fefo_order
from stockline.domain.security import Permission
from stockline.domain.values import Channel, LocationType
from stockline.entrypoints.graphql.context import Info
from stockline.entrypoints.graphql.loaders import LevelsAsked, SalesAsked
from stockline.entrypoints.graphql.paging import (
    Connection,
    connection,
    cursor_of,
    empty,
    page_size,
)
from stockline.entrypoints.graphql.values import Instant, code_or_none, instant
from stockline.entrypoints.http.schemas.catalog import LocationOut, ProductOut
from stockline.entrypoints.http.schemas.common import MoneyOut
from stockline.entrypoints.http.schemas.inventory import LevelOut, LotOut, MovementOut
from stockline.entrypoints.http.schemas.sales import (
    ReturnLineOut,
    ReturnOut,
    SaleLineOut,
    SaleOut,
)

N = TypeVar("N")


def rendered(kind: type[N], answer: BaseModel) -> N:
    """The GraphQL object of ``kind`` that shows what REST answers (``answer``)."""
    made: N = kind.from_pydantic(answer)  # type: ignore[attr-defined]
    return made


# Types named before they are defined (the model types resolve their fields at once).
ProductRef = Annotated["Product", strawberry.lazy("stockline.entrypoints.graphql.stock")]
LocationRef = Annotated["Location", strawberry.lazy("stockline.entrypoints.graphql.stock")]
_LOTTED = "_lotted"  # whether a level node's level is kept in lots (REST's rule for lots)


@from_model(model=MoneyOut, all_fields=True, description="An amount and its currency")
class Money:
    pass


@from_model(model=LotOut, all_fields=True, description="Stock of one lot of a level")
class Lot:
    pass


@from_model(model=LevelOut, all_fields=True, description="Stock of one SKU at one location")
class Level:
    if TYPE_CHECKING:  # fields from the model, named here for the type checker
        sku: str
        location_id: str

    @strawberry.field(description="The product")
    async def product(self, info: Info) -> ProductRef | None:
        return await load_product(info, self.sku)

    @strawberry.field(description="The location")
    async def location(self, info: Info) -> LocationRef | None:
        return await load_location(info, self.location_id)

    @strawberry.field(description="For a level kept in lots: its lots, first-expiring first "
                                  "(empty otherwise)")
    async def lots(self, info: Info) -> list[Lot]:
        if not self.__dict__.get(_LOTTED):
            return []
        found = await info.context.loaders.lots.load((self.location_id, self.sku)) or []
        return [rendered(Lot, LotOut.of(x)) for x in sorted(found, key=fefo_order)
                if x.on_hand > 0]


@from_model(model=SaleLineOut, all_fields=True, description="A line of a sale")
class SaleLine:
    if TYPE_CHECKING:  # fields from the model, named here for the type checker
        sku: str

    @strawberry.field(description="The product sold")
    async def product(self, info: Info) -> ProductRef | None:
        return await load_product(info, self.sku)


@from_model(model=ReturnLineOut, all_fields=True, description="A line of a return")
class ReturnLine:
    if TYPE_CHECKING:  # fields from the model, named here for the type checker
        sku: str

    @strawberry.field(description="The product returned")
    async def product(self, info: Info) -> ProductRef | None:
        return await load_product(info, self.sku)


@from_model(model=ReturnOut, all_fields=True, description="Goods brought back against a sale")
class SaleReturn:
    pass


@from_model(model=SaleOut, all_fields=True, description="A sale, with its lines and returns")
class Sale:
    if TYPE_CHECKING:  # fields from the model, named here for the type checker
        location_id: str

    @strawberry.field(description="Where it was sold")
    async def location(self, info: Info) -> LocationRef | None:
        return await load_location(info, self.location_id)


@from_model(model=ProductOut, all_fields=True, description="A product of the catalogue")
class Product:
    if TYPE_CHECKING:  # fields from the model, named here for the type checker
        sku: str

    attributes: JSON

    @strawberry.field(description="Its stock at every location the caller may see "
                                  "(as GET /v1/inventory?sku=)")
    async def levels(self, info: Info, first: int | None = None, after: str | None = None,
                     location_type: LocationType | None = None,
                     below_reorder_point: bool | None = None) -> Connection[Level]:
        seen = info.context.seen(Permission.INVENTORY_READ)
        if seen is not None and not seen:
            return empty()
        asked = LevelsAsked(location_type, below_reorder_point, page_size(first),
                            cursor_of(after), seen)
        page = await info.context.loaders.levels_of_product.load((self.sku, asked))
        return connection(page, level_node, after)


@from_model(model=LocationOut, all_fields=True,
            description="A warehouse or a store (``type``)")
class Location:
    if TYPE_CHECKING:  # fields from the model, named here for the type checker
        code: str

    operating_hours: JSON | None

    @strawberry.field(description="Its levels (as GET /v1/inventory?location_id=): a "
                                  "location outside the caller's scope is forbidden")
    async def levels(self, info: Info, first: int | None = None, after: str | None = None,
                     below_reorder_point: bool | None = None) -> Connection[Level]:
        # The location itself must be in the caller's scope (as REST's location filter);
        # the list is then that location's, the same for every parent of the page.
        info.context.principal.require(Permission.INVENTORY_READ, self.code)
        asked = LevelsAsked(None, below_reorder_point, page_size(first), cursor_of(after),
                            None)
        page = await info.context.loaders.levels_at.load((self.code, asked))
        return connection(page, level_node, after)

    @strawberry.field(description="Its sales, newest first (as GET /v1/sales?location_id=)")
    async def sales(self, info: Info, first: int | None = None, after: str | None = None,
                    start: Annotated[Instant | None, strawberry.argument(name="from")] = None,
                    end: Annotated[Instant | None, strawberry.argument(name="to")] = None,
                    sku: str | None = None, channel: Channel | None = None
                    ) -> Connection[Sale]:
        info.context.principal.require(Permission.SALES_READ, self.code)
        asked = SalesAsked(instant("from", start), instant("to", end), code_or_none("sku", sku),
                           channel.value if channel else None, page_size(first),
                           cursor_of(after), None)
        page = await info.context.loaders.sales_at.load((self.code, asked))
        return connection(page, sale_node, after)


@from_model(model=MovementOut, all_fields=True,
            description="One change of one level's on_hand (the ledger)")
class LedgerEntry:
    if TYPE_CHECKING:  # fields from the model, named here for the type checker
        sku: str
        location_id: str

    @strawberry.field(description="The product")
    async def product(self, info: Info) -> Product | None:
        return await load_product(info, self.sku)

    @strawberry.field(description="The location")
    async def location(self, info: Info) -> Location | None:
        return await load_location(info, self.location_id)


def sale_node(sale: model.Sale) -> Sale:
    return rendered(Sale, SaleOut.of(sale))


def product_node(product: model.Product) -> Product:
    return rendered(Product, ProductOut.of(product))


def location_node(location: model.Location, on_hand_units: int) -> Location:
    return rendered(Location, LocationOut.of(location, on_hand_units))


def level_node(level: model.Level) -> Level:
    node = rendered(Level, LevelOut.of(level))
    node.__dict__[_LOTTED] = level.lotted  # not a field: REST does not show it either
    return node


def mark_lotted(node: N) -> N:
    """A level node shown from a write's document (which does not say whether the level
    is kept in lots): its ``lots`` are read, as the loader finds them."""
    node.__dict__[_LOTTED] = True
    return node


def entry_node(entry: model.LedgerEntry) -> LedgerEntry:
    return rendered(LedgerEntry, MovementOut.of(entry))


async def load_product(info: Info, sku: str) -> Product | None:
    """A product named by another object (as GET /v1/products/{sku})."""
    info.context.principal.require(Permission.CATALOG_READ)
    found = await info.context.loaders.products.load(sku)
    return None if found is None else product_node(found)


async def load_location(info: Info, code: str) -> Location | None:
    """A location named by another object (as GET /v1/warehouses/{code}: one outside the
    caller's scope for reading locations is forbidden)."""
    info.context.principal.require(Permission.LOCATIONS_READ, code)
    found = await info.context.loaders.locations.load(code)
    return None if found is None else location_node(found.location, found.on_hand_units)
