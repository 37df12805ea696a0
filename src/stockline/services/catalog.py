"""Products: the catalog every level and sale refers to."""

from __future__ import annotations

from stockline.domain.commands import CreateProduct, UpdateProduct
from stockline.domain.errors import AlreadyExists, NotFound
from stockline.domain.events import ProductChanged
from stockline.domain.model import Product
from stockline.domain.security import Permission
from stockline.services.executor import Context
from stockline.services.ports import UnitOfWork


async def create_product(uow: UnitOfWork, cmd: CreateProduct, ctx: Context) -> Product:
    """A SKU is created once; a second create of the same SKU is refused."""
    ctx.require(Permission.CATALOG_WRITE)
    product = Product(sku=cmd.sku, name=cmd.name, category=cmd.category,
                      attributes=dict(cmd.attributes), price=cmd.price,
                      created_at=ctx.now, updated_at=ctx.now)
    if not await uow.products.add(product):
        raise AlreadyExists("product", cmd.sku)
    await uow.outbox.append([ProductChanged(occurred_at=ctx.now, product=product, created=True)])
    return product


async def update_product(uow: UnitOfWork, cmd: UpdateProduct, ctx: Context) -> Product:
    """Change only the fields given; attributes merge (a null value removes the key)."""
    ctx.require(Permission.CATALOG_WRITE)
    product = await uow.products.get(cmd.sku)
    if product is None:
        raise NotFound("product", cmd.sku)
    if cmd.name is not None:
        product.name = cmd.name
    if cmd.category is not None:
        product.category = cmd.category
    if cmd.price is not None:
        product.price = cmd.price
    if cmd.attributes is not None:
        merged = dict(product.attributes)
        for key, value in cmd.attributes.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        product.attributes = merged
    product.version += 1
    product.updated_at = ctx.now
    await uow.products.update(product)
    await uow.outbox.append([ProductChanged(occurred_at=ctx.now, product=product, created=False)])
    return product
