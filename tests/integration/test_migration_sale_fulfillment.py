"""0013 gives every sale recorded before it the fulfillment status its channel opens with."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from stockline.adapters.database import open_database
from stockline.adapters.migrate import upgrade
from stockline.adapters.queries import Queries
from stockline.domain.values import FulfillmentStatus
from tests.integration.test_migrations import empty_url  # noqa: F401  (a fixture)


async def test_sales_before_0013_are_delivered_at_the_till_and_unfulfilled_online(
        empty_url: str) -> None:  # noqa: F811
    database = open_database(empty_url)
    try:
        await upgrade(database.write, "0010")
        at = datetime.now(UTC)
        async with database.write.begin() as conn:
            await conn.execute(text(
                "INSERT INTO locations (code, type, name, created_at) "
                "VALUES ('ST-1', 'retail', 'Store', :at)"), {"at": at})
            for sale_id, channel in (("sale_till", "pos"), ("sale_web", "ecommerce"),
                                     ("sale_mkt", "marketplace")):
                await conn.execute(text(
                    "INSERT INTO sales (id, location_id, status, channel, payment_status, "
                    "currency, total_amount, units, actor, occurred_at, created_at) VALUES "
                    "(:id, 'ST-1', 'completed', :channel, 'paid', 'USD', 0, 0, 'old', :at, "
                    ":at)"), {"id": sale_id, "channel": channel, "at": at})
        await upgrade(database.write)
        queries = Queries(database.read)
        found = {i: await queries.sale(i) for i in ("sale_till", "sale_web", "sale_mkt")}
    finally:
        await database.dispose()
    assert {i: s.fulfillment_status if s else None for i, s in found.items()} == {
        "sale_till": FulfillmentStatus.DELIVERED, "sale_web": FulfillmentStatus.UNFULFILLED,
        "sale_mkt": FulfillmentStatus.UNFULFILLED}
