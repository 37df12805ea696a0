"""The sales report's rollup: sales summed ahead by the keys the report groups by.

Each table sums the folded sales (``sales.rollup_state = 1``), or the folded returns
(``sale_returns.rollup_state = 1``), by one set of keys; the report adds those not folded
yet from the sales tables themselves. ``rollup_zones`` and
``rollup_categories`` keep the time zone of each location and the category of each SKU the
sums were made with: when a location's zone or a product's category changes, the sales
summed with the old one are taken out of the sums again (adapters/rollup.py).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ColumnElement, Date, String, Table, literal_column

from stockline.adapters.tables.base import Code, metadata
from stockline.adapters.tables.stock import sales
from stockline.domain.calendar import stored_zone

ZONE_LENGTH = 64
# A sale's rollup_state: not folded yet, folded, being folded (seen only inside the fold).
WAITING, FOLDED, FOLDING = 0, 1, 2
EVERY_LOCATION = "*"  # the zone of the sums by SKU of every location by UTC month
EVERY_LOCATION_THIRDS = "*3"  # the same by thirds of a UTC month (YYYY-MM-1, -2, -3)


def not_folded(table: Table = sales) -> ColumnElement[bool]:
    """Sales (or returns) the sums do not hold, in the words of the partial index that
    finds them (a literal: SQLite matches an index's condition only to the same text)."""
    return table.c.rollup_state != literal_column("1")


def waiting(table: Table = sales) -> ColumnElement[bool]:
    """Not folded yet (a fold's own, being folded, are never seen by another)."""
    return not_folded(table) & (table.c.rollup_state == literal_column("0"))


def folded(table: Table = sales) -> ColumnElement[bool]:
    return table.c.rollup_state == literal_column("1")


def zone_key(name: str | None) -> str:
    """The zone a location's days are summed in: its time zone, '' for UTC days (none, or
    one this process's time zone database does not know, as the report reads it)."""
    return name if name is not None and stored_zone(name) is not None else ""


def _measures() -> list[Column[int]]:
    """Sales (distinct, per group), units and amount (1/10,000 of the currency unit)."""
    return [Column("sales", BigInteger, nullable=False), *_returned()]


def _returned() -> list[Column[int]]:
    """Units returned and their value."""
    return [Column("units", BigInteger, nullable=False),
            Column("amount", BigInteger, nullable=False)]


# By location and its local day (its zone's, as kept in rollup_zones; UTC without one).
rollup_days = Table(
    "rollup_days", metadata,
    Column("location_id", Code, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("channel", String(24), primary_key=True),
    Column("currency", String(3), primary_key=True),
    *_measures(),
)

# By time zone ('' for UTC), local month and SKU: ``sales`` counts the sales with a line
# of the SKU. Zone '*': every location's sales again, by UTC month (for a report by no
# period, whose window then needs no edge of a local month); zone '*3', by thirds of a UTC
# month ('YYYY-MM-1': days 1 to 10, -2: 11 to 20, -3: 21 to the end; for the edges).
rollup_sku_months = Table(
    "rollup_sku_months", metadata,
    Column("zone", String(ZONE_LENGTH), primary_key=True),
    Column("month", String(10), primary_key=True),
    Column("channel", String(24), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("sku", Code, primary_key=True),
    *_measures(),
)

# By time zone, local day and category: ``sales`` counts the sales with a line of it.
rollup_category_days = Table(
    "rollup_category_days", metadata,
    Column("zone", String(ZONE_LENGTH), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("channel", String(24), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("category", String(100), primary_key=True),
    *_measures(),
)

# The returns taken, by the sale's location, channel and currency, as above; the day or
# month is the one the return was taken on, in the sale's location's zone.
rollup_return_days = Table(
    "rollup_return_days", metadata,
    Column("location_id", Code, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("channel", String(24), primary_key=True),
    Column("currency", String(3), primary_key=True),
    *_returned(),
)

rollup_return_sku_months = Table(
    "rollup_return_sku_months", metadata,
    Column("zone", String(ZONE_LENGTH), primary_key=True),
    Column("month", String(10), primary_key=True),
    Column("channel", String(24), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("sku", Code, primary_key=True),
    *_returned(),
)

rollup_return_category_days = Table(
    "rollup_return_category_days", metadata,
    Column("zone", String(ZONE_LENGTH), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("channel", String(24), primary_key=True),
    Column("currency", String(3), primary_key=True),
    Column("category", String(100), primary_key=True),
    *_returned(),
)

# The zone each location's folded sales were summed in ('' for UTC days).
rollup_zones = Table(
    "rollup_zones", metadata,
    Column("location_id", Code, primary_key=True),
    Column("zone", String(ZONE_LENGTH), nullable=False),
)

# The category each SKU's folded lines were summed in (NULL: no such product then).
rollup_categories = Table(
    "rollup_categories", metadata,
    Column("sku", Code, primary_key=True),
    Column("category", String(100)),
)
