"""``stockline reconcile`` on a fresh database (no relay runs): exit 0 when every level
reconciles, 1 with the drift report when one does not, including an outbox row the relay
has left behind."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from stockline.adapters.tables import (
    inventory_levels,
    locations,
    outbox,
    products,
    stock_movements,
)
from tests.factories import execute_sql, run_cli


def run(url: str, *args: str) -> tuple[int, str, str]:
    return run_cli(url, "reconcile", *args)


def write(url: str, *statements: Any) -> None:
    asyncio.run(execute_sql(url, *statements))


def a_level(code: str, sku: str, on_hand: int) -> list[Any]:
    now = datetime.now(UTC)
    return [
        locations.insert().values(code=code, type="retail", name=code, created_at=now),
        products.insert().values(sku=sku, name=sku, category="t", attributes={}, version=1,
                                 created_at=now, updated_at=now),
        inventory_levels.insert().values(location_id=code, sku=sku, on_hand=on_hand,
                                         reserved=0, in_transit=0, version=1, updated_at=now),
        stock_movements.insert().values(location_id=code, sku=sku, delta=on_hand,
                                        balance_after=on_hand, type="receipt",
                                        reason="receipt", actor="t", occurred_at=now,
                                        recorded_at=now),
    ]


def test_a_reconciled_database_exits_0_and_drift_exits_1(url: str) -> None:
    code, out, err = run(url)
    assert code == 0, out + err
    assert "0 levels reconcile" in err
    write(url, *a_level("S-1", "SKU-1", 5), *a_level("S-2", "SKU-2", 3))
    code, out, err = run(url)
    assert code == 0, out + err
    assert "2 levels reconcile" in err

    write(url, inventory_levels.update().where(inventory_levels.c.location_id == "S-2")
          .values(on_hand=4))
    code, out, err = run(url)
    assert code == 1, out + err
    assert "on_hand_ledger" in out and "S-2" in out and "SKU-2" in out
    assert "drift found" in err
    assert run(url, "--location-id", "S-1")[0] == 0


def test_an_outbox_row_the_relay_left_behind_is_drift(url: str) -> None:
    write(url, *a_level("S-1", "SKU-1", 5))
    fresh = datetime.now(UTC)
    write(url, outbox.insert().values(type="inventory.changed", location_id="S-1",
                                      sku="SKU-1", payload="{}", occurred_at=fresh))
    assert run(url)[0] == 0  # within the grace period: the relay may yet move it
    write(url, outbox.insert().values(type="inventory.changed", location_id="S-1",
                                      sku="SKU-1", payload="{}",
                                      occurred_at=fresh - timedelta(minutes=5)))
    code, out, err = run(url, "--json")
    assert code == 1, out + err
    report = json.loads(out)
    assert report["checked"] == 1 and report["drift_total"] == 1
    (drift,) = report["drift"]
    assert (drift["check"], drift["location_id"], drift["sku"], drift["expected"],
            drift["actual"]) == ("outbox_stuck", "S-1", "SKU-1", 0, 1)
