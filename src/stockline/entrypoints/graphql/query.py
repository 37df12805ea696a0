"""The root fields of the catalogue and the stock: each one reads what its REST route
reads, with the same permission, location scope, filters, order and cursors (the route is
named in its description)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from stockline.domain import model
from stockline.domain.security import Permission as P
from stockline.domain.values import (
    Channel,
    LocationStatus,
    LocationType,
    MovementType,
    ProductStatus,
)
from stockline.entrypoints.graphql.context import Info
from stockline.entrypoints.graphql.paging import (
    Connection,
    connection,
    cursor_of,
    empty,
    page_size,
)
from stockline.entrypoints.graphql.stock import (
    LedgerEntry,
    Level,
    Location,
    Product,
    Sale,
    entry_node,
    level_node,
    load_location,
    load_product,
    location_node,
    product_node,
    sale_node,
)
from stockline.entrypoints.graphql.values import (
    Instant,
    attribute_filters,
    code,
    code_or_none,
    document_id,
    instant,
    text_or_none,
)
from stockline.entrypoints.http.routers.inventory import known

First = Annotated[int | None, strawberry.argument(description="Page size: 1-500 (50)")]
After = Annotated[str | None, strawberry.argument(description="A cursor: the page starts "
                                                              "after it")]
From = Annotated[Instant | None, strawberry.argument(name="from", description="Inclusive")]
To = Annotated[Instant | None, strawberry.argument(name="to", description="Exclusive")]


@strawberry.input(description="An attribute a product must have (as ?attr.<name>=<value>)")
class AttributeFilter:
    name: str
    value: str


@strawberry.type
class StockQuery:
    @strawberry.field(description="One product (GET /v1/products/{sku})")
    async def product(self, info: Info, sku: str) -> Product | None:
        return await load_product(info, code("sku", sku))

    @strawberry.field(description="The catalogue (GET /v1/products)")
    async def products(self, info: Info, first: First = None, after: After = None,
                       category: str | None = None, q: str | None = None,
                       status: ProductStatus | None = None,
                       attributes: list[AttributeFilter] | None = None) -> Connection[Product]:
        info.context.principal.require(P.CATALOG_READ)
        page = await info.context.container.queries.products(
            category=text_or_none("category", category, 100), q=text_or_none("q", q, 200),
            attributes=attribute_filters((a.name, a.value) for a in attributes or ()),
            limit=page_size(first), cursor=cursor_of(after), status=status)
        return connection(page, product_node, after)

    @strawberry.field(description="One warehouse or store, by its code")
    async def location(self, info: Info, code_: Annotated[str, strawberry.argument(
            name="code")]) -> Location | None:
        return await load_location(info, code("code", code_))

    @strawberry.field(description="Warehouses or stores (GET /v1/warehouses, "
                                  "/v1/retail-locations)")
    async def locations(self, info: Info, type: LocationType, first: First = None,
                        after: After = None, region: str | None = None,
                        status: LocationStatus | None = None) -> Connection[Location]:
        seen = info.context.seen(P.LOCATIONS_READ)
        if seen is not None and not seen:
            return empty()
        queries = info.context.container.queries
        page = await queries.locations(type=type, region=text_or_none("region", region, 100),
                                       limit=page_size(first),
                                       cursor=cursor_of(after), within=seen, status=status)
        units = await queries.on_hand_units([x.code for x in page.items])
        return connection(page, lambda x: location_node(x, units[x.code]), after)

    @strawberry.field(description="One level (GET /v1/inventory/{location_id}/{sku})")
    async def level(self, info: Info, location_id: str, sku: str) -> Level | None:
        info.context.principal.require(P.INVENTORY_READ, code("locationId", location_id))
        found = await info.context.container.cached.level(
            location_id, code("sku", sku), fresh=info.context.read_after is not None)
        if found is None:  # as REST: zeros for a SKU never stocked there, else not found
            await known(info.context.container, location_id, sku)
            found = model.Level(location_id=location_id, sku=sku)
        return level_node(found)

    @strawberry.field(description="Levels (GET /v1/inventory)")
    async def levels(self, info: Info, first: First = None, after: After = None,
                     sku: str | None = None, location_id: str | None = None,
                     location_type: LocationType | None = None,
                     below_reorder_point: bool | None = None) -> Connection[Level]:
        seen = info.context.seen(P.INVENTORY_READ, code_or_none("locationId", location_id))
        if seen is not None and not seen:
            return empty()
        page = await info.context.container.queries.levels(
            sku=code_or_none("sku", sku), location_id=location_id, location_type=location_type,
            below_reorder_point=below_reorder_point, limit=page_size(first),
            cursor=cursor_of(after), within=seen)
        return connection(page, level_node, after)

    @strawberry.field(description="Sales, newest first (GET /v1/sales)")
    async def sales(self, info: Info, first: First = None, after: After = None,
                    start: From = None, end: To = None, location_id: str | None = None,
                    sku: str | None = None, channel: Channel | None = None
                    ) -> Connection[Sale]:
        seen = info.context.seen(P.SALES_READ, code_or_none("locationId", location_id))
        if seen is not None and not seen:
            return empty()
        page = await info.context.container.queries.sales(
            start=instant("from", start), end=instant("to", end), location_id=location_id,
            sku=code_or_none("sku", sku), channel=channel.value if channel else None,
            limit=page_size(first), cursor=cursor_of(after), within=seen)
        return connection(page, sale_node, after)

    @strawberry.field(description="One sale, with its returns (GET /v1/sales/{id})")
    async def sale(self, info: Info, id: str) -> Sale | None:
        info.context.principal.require(P.SALES_READ)
        found = await info.context.container.queries.sale(document_id("id", id))
        if found is None:
            return None
        info.context.require_of(P.SALES_READ, "sale", found.location_id)
        return sale_node(found)

    @strawberry.field(description="The ledger, oldest first (GET /v1/stock-movements)")
    async def ledger(self, info: Info, first: First = None, after: After = None,
                     location_id: str | None = None, sku: str | None = None,
                     type: MovementType | None = None, start: From = None, end: To = None
                     ) -> Connection[LedgerEntry]:
        seen = info.context.seen(P.LEDGER_READ, code_or_none("locationId", location_id))
        if seen is not None and not seen:
            return empty()
        page = await info.context.container.queries.movements(
            location_id=location_id, sku=code_or_none("sku", sku),
            type=type.value if type else None, start=instant("from", start),
            end=instant("to", end), limit=page_size(first), cursor=cursor_of(after),
            within=seen)
        return connection(page, entry_node, after)

