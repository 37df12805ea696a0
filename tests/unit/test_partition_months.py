"""The months of the partitioned tables: their arithmetic and their names."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from stockline.adapters.partitions import (
    Month,
    add_months,
    create_month_sql,
    is_partition_name,
    month_of,
    partition_name,
)


@pytest.mark.parametrize(("month", "count", "expected"), [
    (date(2026, 12, 1), 1, date(2027, 1, 1)),
    (date(2026, 1, 1), -1, date(2025, 12, 1)),
    (date(2026, 5, 1), 24, date(2028, 5, 1)),
    (date(2026, 5, 1), 0, date(2026, 5, 1)),
])
def test_months_are_added_across_years(month: date, count: int, expected: date) -> None:
    assert add_months(month, count) == expected


def test_a_moment_belongs_to_its_utc_month() -> None:
    assert month_of(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == date(2026, 12, 1)


def test_partition_names_are_told_apart_from_tables() -> None:
    assert partition_name("events", date(2027, 3, 1)) == "events_y2027m03"
    assert is_partition_name("events_y2027m03")
    assert is_partition_name("sales_default")
    assert is_partition_name("stock_movements_y2026m12")
    assert not is_partition_name("sale_lines")
    assert not is_partition_name("sales")
    assert not is_partition_name("outbox_y2026m12")  # not a partitioned table


def test_a_month_covers_its_first_instant_to_the_next_month_s() -> None:
    sql = create_month_sql(Month("sales", date(2026, 12, 1)))
    assert "FROM ('2026-12-01 00:00:00+00') TO ('2027-01-01 00:00:00+00')" in sql
