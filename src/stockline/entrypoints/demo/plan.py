"""The demo plan: opening stock, reorder settings and a sales history, from a seed."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from itertools import accumulate

from stockline.domain.commands import (
    CreateLocation,
    CreateProduct,
    RecordSale,
    SaleLineRequest,
    SetReorderSettings,
)
from stockline.domain.values import Channel, Money
from stockline.entrypoints.demo.aftercare import (
    PlannedCheck,
    PlannedReturn,
    checks_plan,
    day_starts,
    returns_plan,
)
from stockline.entrypoints.demo.catalog import DemoProduct, build_catalog
from stockline.entrypoints.demo.sites import (
    DEFAULT_OPEN,
    SALE_REF_PREFIX,
    SEED,
    STORE_OPEN,
    WAREHOUSES,
    DemoSize,
    Site,
    location_commands,
    stores,
)

# -- stock, reorder settings, sales history ----------------------------------------------

DAY_FACTOR = (0.8, 0.85, 0.9, 1.0, 1.25, 1.6, 1.2)  # trade by weekday, Monday first
ONLINE_SHARE = 0.15  # online orders shipped from a store
MARKDOWN_SHARE = 0.15  # lines sold at a markdown
BASKET_SIZES, BASKET_WEIGHTS = (1, 2, 3, 4), (55, 28, 12, 5)

Draft = tuple[str, datetime, Channel, tuple[SaleLineRequest, ...]]


@dataclass(frozen=True, slots=True)
class DemoPlan:
    products: list[CreateProduct]
    locations: list[CreateLocation]
    stock: dict[str, dict[str, int]]  # location -> SKU -> opening units
    settings: dict[str, dict[str, SetReorderSettings]]  # location -> SKU -> settings
    sales: list[RecordSale]  # oldest first
    opened_at: datetime  # when the opening stock arrived: before the first sale
    returns: list[PlannedReturn] = field(default_factory=list)  # after the sales
    checks: list[PlannedCheck] = field(default_factory=list)  # reports and their counts


def opening_stock(rng: random.Random, products: Sequence[DemoProduct],
                  warehouses: Sequence[str], shops: Sequence[str]) -> dict[str, dict[str, int]]:
    """Every location holds every SKU: a store a few units, a warehouse 12-30 times that."""
    stock = {code: {p.command.sku: rng.randint(*p.category.store_stock) * rng.randint(12, 30)
                    for p in products} for code in warehouses}
    stock.update({code: {p.command.sku: rng.randint(*p.category.store_stock) for p in products}
                  for code in shops})
    return stock


def reorder_settings(location_id: str, sku: str, opening: int, *,
                     store: bool) -> SetReorderSettings:
    """Reorder at a third of the opening stock (a quarter in a warehouse), back up to it."""
    point = opening // 3 if store else opening // 4
    return SetReorderSettings(location_id=location_id, sku=sku, reorder_point=point,
                              reorder_quantity=opening - point, safety_stock=point // 2)


def history_days(now: datetime, days: int) -> list[date]:
    """The last ``days`` days that are over everywhere in the US, late online orders included.

    A sale at local midnight on day D at UTC-8 is D + 32 h in UTC: it must not be in the future.
    """
    last = (now.astimezone(UTC) - timedelta(hours=32)).date()
    return [last - timedelta(days=n) for n in range(days - 1, -1, -1)]


def _pick(rng: random.Random, left: dict[str, int], products: Sequence[DemoProduct],
          cum: Sequence[float], taken: set[str]) -> DemoProduct | None:
    """A popular product that is still on the shelf, or None after a few tries."""
    for _ in range(5):
        product = rng.choices(products, cum_weights=cum)[0]
        if left[product.command.sku] > 0 and product.command.sku not in taken:
            return product
    return None


def _selling_price(rng: random.Random, product: DemoProduct) -> Money:
    price = product.command.price
    assert price is not None, "every demo product has a price"
    if rng.random() < MARKDOWN_SHARE:
        off = rng.choice((Decimal("0.8"), Decimal("0.7")))
        return Money((price.amount * off).quantize(Decimal("0.01")), price.currency)
    return price


def _basket(rng: random.Random, left: dict[str, int], products: Sequence[DemoProduct],
            cum: Sequence[float]) -> tuple[SaleLineRequest, ...]:
    """The lines of one sale, taken off ``left`` so that no plan sells more than there is."""
    lines: dict[str, SaleLineRequest] = {}
    for _ in range(rng.choices(BASKET_SIZES, weights=BASKET_WEIGHTS)[0]):
        product = _pick(rng, left, products, cum, set(lines))
        if product is None:
            continue
        sku = product.command.sku
        wanted = 2 if product.category.multi_buy and rng.random() < 0.3 else 1
        quantity = min(left[sku], wanted)
        left[sku] -= quantity
        lines[sku] = SaleLineRequest(sku=sku, quantity=quantity,
                                     unit_price=_selling_price(rng, product))
    return tuple(lines.values())


def _when(rng: random.Random, site: Site, day: date, channel: Channel) -> datetime:
    """In shop hours for the till, mostly in the evening for online orders (local time)."""
    if channel is Channel.ECOMMERCE:
        minute = rng.triangular(6 * 60, 24 * 60 - 1, 21 * 60)
    else:
        opens, closes = STORE_OPEN.get(day.weekday(), DEFAULT_OPEN)
        minute = rng.triangular(opens, closes - 1, opens + 0.7 * (closes - opens))
    midnight = datetime(day.year, day.month, day.day,
                        tzinfo=timezone(timedelta(hours=site.utc_offset)))
    return (midnight + timedelta(minutes=minute)).replace(microsecond=0).astimezone(UTC)


def _store_history(rng: random.Random, site: Site, left: dict[str, int], days: Sequence[date],
                   per_day: int, products: Sequence[DemoProduct],
                   cum: Sequence[float]) -> list[Draft]:
    busy = rng.uniform(0.7, 1.3)
    drafts: list[Draft] = []
    for day in days:
        count = round(per_day * DAY_FACTOR[day.weekday()] * busy * rng.uniform(0.8, 1.2))
        for _ in range(count):
            lines = _basket(rng, left, products, cum)
            channel = Channel.ECOMMERCE if rng.random() < ONLINE_SHARE else Channel.POS
            if lines:
                drafts.append((site.code, _when(rng, site, day, channel), channel, lines))
    return drafts


def sales_history(rng: random.Random, products: Sequence[DemoProduct], shops: Sequence[Site],
                  stock: dict[str, dict[str, int]], size: DemoSize,
                  now: datetime) -> list[RecordSale]:
    """Sales of the last ``size.days`` days at every store, oldest first.

    External refs number the sales in the order they are generated (store by store), so a
    ref names the same sale whatever the order of recording.
    """
    cum = list(accumulate(p.popularity for p in products))
    days = history_days(now, size.days)
    drafts: list[Draft] = []
    for site in shops:
        drafts.extend(_store_history(rng, site, dict(stock[site.code]), days,
                                     size.sales_per_store_day, products, cum))
    timed = [(when, RecordSale(location_id=location_id, lines=lines, channel=channel,
                               occurred_at=when, external_ref=f"{SALE_REF_PREFIX}{n:06d}"))
             for n, (location_id, when, channel, lines) in enumerate(drafts, start=1)]
    timed.sort(key=lambda pair: pair[0])
    return [sale for _, sale in timed]


def build_plan(size: DemoSize, now: datetime, seed: int = SEED) -> DemoPlan:
    """The whole data set: the same for the same size, seed and day."""
    rng = random.Random(seed)
    products = build_catalog(rng, size.skus)
    shops = stores(size)
    stock = opening_stock(rng, products, [w.code for w in WAREHOUSES], [s.code for s in shops])
    shop_codes = {s.code for s in shops}
    best = sorted(products, key=lambda p: (-p.popularity, p.command.sku))
    replenished = [p.command.sku for p in best[:size.replenished_skus]]
    settings = {location_id: {sku: reorder_settings(location_id, sku, levels[sku],
                                                    store=location_id in shop_codes)
                              for sku in sorted(replenished)}
                for location_id, levels in stock.items()}
    sales = sales_history(rng, products, shops, stock, size, now)
    later = random.Random(seed + 1)  # the aftercare's own draws leave the rest as it was
    days = history_days(now, size.days)
    return DemoPlan(products=[p.command for p in products], locations=location_commands(size),
                    stock=stock, settings=settings, sales=sales,
                    opened_at=datetime.combine(days[0] - timedelta(days=1), time(6), tzinfo=UTC),
                    returns=returns_plan(later, sales),
                    checks=checks_plan(later, sales, stock, [s.code for s in shops],
                                       day_starts(days), now))
