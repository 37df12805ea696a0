"""A file of products: new SKUs are created, known ones changed as a PATCH would."""

from __future__ import annotations

from stockline.domain.commands import CreateProduct, UpdateProduct
from stockline.domain.events import Event, ProductChanged
from stockline.domain.imports import ImportFile, ImportResult, duplicates, refuse
from stockline.domain.model import Product
from stockline.domain.security import Permission
from stockline.services.catalog import changed_product, new_product, same_product
from stockline.services.executor import Context, TransientStorageError
from stockline.services.imports.common import result, spoken
from stockline.services.ports import UnitOfWork


async def import_products(uow: UnitOfWork, cmd: ImportFile[CreateProduct],
                          ctx: Context) -> ImportResult:
    """Each SKU once per file. A known product takes the row's name, category and price (a
    row without a price keeps it) and, of its attributes, those the file has columns for
    (an empty cell removes one), as PATCH /v1/products/{sku} would; a row that changes
    nothing is left alone (no new version, no event)."""
    ctx.require(Permission.CATALOG_WRITE)
    refuse([*cmd.rejected, *duplicates(cmd.rows, lambda p: p.sku, "sku", "this SKU")])
    existing = await uow.imports.products([row.value.sku for row in cmd.rows])
    keys = spoken(cmd, "attr")
    made: list[Product] = []
    changed: list[Product] = []
    for row in cmd.rows:
        before = existing.get(row.value.sku)
        if before is None:
            made.append(new_product(row.value, ctx.now))
            continue
        after = changed_product(before, _as_update(row.value, keys), ctx.now)
        if not same_product(before, after):
            changed.append(after)
    if not cmd.dry_run:
        await _write(uow, made, changed, ctx)
    return result(cmd, len(made), len(changed))


def _as_update(row: CreateProduct, keys: list[str]) -> UpdateProduct:
    return UpdateProduct(sku=row.sku, name=row.name, category=row.category,
                         attributes={key: row.attributes.get(key) for key in keys},
                         price=row.price)


async def _write(uow: UnitOfWork, made: list[Product], changed: list[Product],
                 ctx: Context) -> None:
    if await uow.imports.add_products(made) != len(made):
        # Another write created one of these SKUs since they were looked up: try again.
        raise TransientStorageError("a product of the file was created meanwhile")
    await uow.imports.update_products(changed)
    events: list[Event] = [ProductChanged(occurred_at=ctx.now, product=p, created=True)
                           for p in made]
    events += [ProductChanged(occurred_at=ctx.now, product=p, created=False) for p in changed]
    await uow.outbox.append(events)
