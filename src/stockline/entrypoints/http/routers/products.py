"""Catalog: products and their attributes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from starlette.responses import Response

from stockline.domain.errors import NotFound
from stockline.domain.values import CODE_PATTERN, ProductStatus
from stockline.entrypoints.http.auth import PrincipalDep
from stockline.entrypoints.http.consistency import REPLICA_READ
from stockline.entrypoints.http.deps import (
    ContainerDep,
    Cursor,
    Limit,
    PrefixedQuery,
    WriterDep,
)
from stockline.entrypoints.http.schemas.catalog import ProductCreate, ProductOut, ProductUpdate
from stockline.entrypoints.http.schemas.common import NO_NUL, Page, problems
from stockline.entrypoints.operations import CREATE_PRODUCT, UPDATE_PRODUCT

router = APIRouter(prefix="/v1/products", tags=["products"])
Sku = Annotated[str, Path(pattern=CODE_PATTERN)]
# Attribute filters: ?attr.<name>=<value>, any attribute name.
ATTRIBUTE_FILTERS = PrefixedQuery("attr.", r"[A-Za-z0-9_.-]{1,64}", max_length=200)


@router.post("", status_code=201, response_model=ProductOut, responses=problems(409),
             summary="Create a product")
async def create_product(body: ProductCreate, write: WriterDep) -> Response:
    return await write.perform(CREATE_PRODUCT, body.to_command(), body=body, status=201)


@router.get("", dependencies=[REPLICA_READ],
            response_model=Page[ProductOut], responses=problems(),
            summary="List the catalog",
            description="Filter by `category`, by `status` and by attributes as "
                        "`attr.<name>=<value>` (e.g. `attr.size=42`). `q` searches the "
                        "catalogue: each word of it "
                        "(letters and digits; any other character separates words) must "
                        "start a word of the SKU, name, category or an attribute value, "
                        "English stems matching (`running shoes` finds `running shoe`); "
                        "a SKU that starts with `q` comes first, then the best matches "
                        "(SKU over name over category and attributes), then by SKU. A `q` "
                        "without any word finds nothing.")
async def list_products(container: ContainerDep, _p: PrincipalDep,
                        attributes: Annotated[dict[str, str], Depends(ATTRIBUTE_FILTERS)],
                        category: Annotated[str | None, Query(max_length=100,
                                                              pattern=NO_NUL)] = None,
                        q: Annotated[str | None, Query(
                            max_length=200, pattern=NO_NUL,
                            description="Words to search for, e.g. `running shoe` or a "
                                        "partial SKU `RUN-00`")] = None,
                        status: Annotated[ProductStatus | None, Query(
                            description="Only the `active` or the `discontinued` ones")] = None,
                        limit: Limit = 50, cursor: Cursor = None) -> Page[ProductOut]:
    page = await container.queries.products(category=category, q=q, attributes=attributes,
                                            limit=limit, cursor=cursor, status=status)
    return Page(items=[ProductOut.of(p) for p in page.items], next_cursor=page.next_cursor)


@router.get("/{sku}", response_model=ProductOut, responses=problems(404),
            summary="One product")
async def get_product(sku: Sku, container: ContainerDep, _p: PrincipalDep) -> ProductOut:
    product = await container.queries.product(sku)
    if product is None:
        raise NotFound("product", sku)
    return ProductOut.of(product)


@router.patch("/{sku}", response_model=ProductOut, responses=problems(404, 409),
              summary="Change name, category, attributes (merged), price or status",
              description="Only the fields sent change. `status: discontinued` refuses "
                          "receipts and purchase orders of it (409 `product_discontinued`) "
                          "and leaves it out of replenishment; it still sells. "
                          "`expected_version`: 409 `version_conflict` if it moved on.")
async def update_product(sku: Sku, body: ProductUpdate, write: WriterDep) -> Response:
    return await write.perform(UPDATE_PRODUCT, body.to_command(sku), body=body)
