"""Products: the catalog every level and sale refers to."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from stockline.domain.commands import CreateProduct, UpdateProduct
from stockline.domain.errors import AlreadyExists, NotFound, StaleVersion
from stockline.domain.events import ProductChanged
from stockline.domain.model import Product
from stockline.domain.security import Permission
from stockline.services.executor import Context
from stockline.services.ports import UnitOfWork


def new_product(cmd: CreateProduct, now: datetime) -> Product:
    return Product(sku=cmd.sku, name=cmd.name, category=cmd.category,
                   attributes=dict(cmd.attributes), price=cmd.price, created_at=now,
                   updated_at=now)


def changed_product(product: Product, cmd: UpdateProduct, now: datetime) -> Product:
    """The product's next version with the fields given; attributes merge (a null value
    removes the key). ``product`` itself is left as it was."""
    attributes = dict(product.attributes)
    for key, value in (cmd.attributes or {}).items():
        if value is None:
            attributes.pop(key, None)
        else:
            attributes[key] = value
    return replace(product, name=cmd.name if cmd.name is not None else product.name,
                   category=cmd.category if cmd.category is not None else product.category,
                   price=cmd.price if cmd.price is not None else product.price,
                   status=cmd.status if cmd.status is not None else product.status,
                   attributes=attributes, version=product.version + 1, updated_at=now)


def same_product(a: Product, b: Product) -> bool:
    """The same name, category, attributes and price (what a change may change)."""
    return (a.name, a.category, dict(a.attributes), a.price) == (
        b.name, b.category, dict(b.attributes), b.price)


async def create_product(uow: UnitOfWork, cmd: CreateProduct, ctx: Context) -> Product:
    """A SKU is created once; a second create of the same SKU is refused."""
    ctx.require(Permission.CATALOG_WRITE)
    product = new_product(cmd, ctx.now)
    if not await uow.products.add(product):
        raise AlreadyExists("product", cmd.sku)
    await uow.outbox.append([ProductChanged(occurred_at=ctx.now, product=product, created=True)])
    return product


async def update_product(uow: UnitOfWork, cmd: UpdateProduct, ctx: Context) -> Product:
    """Change only the fields given; attributes merge (a null value removes the key).

    ``expected_version`` makes the change a compare-and-set (StaleVersion when the product
    moved on; sent alone, it changes nothing). ``status`` ``discontinued`` stops receipts,
    purchase orders and replenishment of the product; it still sells until its stock is
    gone. ``active`` lifts that.
    """
    ctx.require(Permission.CATALOG_WRITE)
    product = await uow.products.get(cmd.sku, for_update=True)
    if product is None:
        raise NotFound("product", cmd.sku)
    if cmd.expected_version is not None and cmd.expected_version != product.version:
        raise StaleVersion("product", cmd.sku, cmd.expected_version, product.version)
    if (cmd.name, cmd.category, cmd.attributes, cmd.price, cmd.status) == (None,) * 5:
        return product  # only the version was sent: a check, which it passed
    product = changed_product(product, cmd, ctx.now)
    await uow.products.update(product)
    await uow.outbox.append([ProductChanged(occurred_at=ctx.now, product=product, created=False)])
    return product
