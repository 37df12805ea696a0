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
from stockline.domain.ids import first_id_at, id_at, new_id


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
    sql = create_month_sql(Month("events", date(2026, 12, 1)))
    assert "FROM ('2026-12-01 00:00:00+00') TO ('2027-01-01 00:00:00+00')" in sql


def test_a_month_of_sales_covers_the_ids_made_in_it() -> None:
    sql = create_month_sql(Month("sales", date(2026, 12, 1)))
    first = first_id_at("sale", datetime(2026, 12, 1, tzinfo=UTC))
    following = first_id_at("sale", datetime(2027, 1, 1, tzinfo=UTC))
    assert f"FROM ('{first}') TO ('{following}')" in sql


def test_the_first_id_of_a_month_parts_the_ids_made_before_it_from_those_made_after() -> None:
    start = datetime(2027, 3, 1, tzinfo=UTC)
    first = first_id_at("sale", start)
    millis = int(start.timestamp() * 1000)
    assert id_at("sale", millis - 1, 2**80 - 1) < first <= id_at("sale", millis, 0)
    assert first_id_at("sale", datetime(2020, 1, 1, tzinfo=UTC)) < new_id("sale") < first
    assert len(first) == len(new_id("sale"))
