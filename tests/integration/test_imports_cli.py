"""``stockline import``: the same checks and service as POST /v1/imports, on both backends."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from stockline.adapters.database import open_database
from stockline.adapters.tables import outbox, products, stock_movements
from tests.factories import random_location, random_sku, run_cli


def _count(url: str, stmt: Any) -> int:
    async def read() -> int:
        database = open_database(url)
        try:
            async with database.read.connect() as conn:
                return int((await conn.execute(stmt)).scalar_one())
        finally:
            await database.dispose()
    return asyncio.run(read())


def _file(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_file_is_imported_with_progress_then_again_unchanged(
        url: str, tmp_path: Path) -> None:
    a, b = random_sku(), random_sku()
    path = _file(tmp_path, "products.csv", "sku,name,category,attr.size\n"
                                           f"{a},A,shoes,42\n{b},B,shoes,\n")
    code, out, err = run_cli(url, "import", "products", path)
    assert code == 0, err
    assert json.loads(out) == {"kind": "products", "rows": 2, "created": 2, "updated": 0,
                               "unchanged": 0, "dry_run": False}
    assert "reading" in err and "checking" in err and "applying" in err
    assert _count(url, select(func.count()).select_from(products)) == 2
    assert _count(url, select(func.count()).select_from(outbox)) == 2

    code, out, err = run_cli(url, "import", "products", path)
    assert code == 0, err
    assert json.loads(out)["unchanged"] == 2
    assert _count(url, select(func.count()).select_from(outbox)) == 2


def test_a_bad_file_lists_its_bad_rows_and_changes_nothing(
        url: str, tmp_path: Path) -> None:
    path = _file(tmp_path, "bad.csv", "sku,name,category,price_amount,price_currency\n"
                                      f"{random_sku()},Fine,x,,\n"
                                      f"{random_sku()},Bad,x,1.00,usd\n")
    code, out, err = run_cli(url, "import", "products", path)
    assert code == 1
    assert "price_currency" in out and "3" in out.split()
    assert "1 bad row" in err
    assert _count(url, select(func.count()).select_from(products)) == 0


def test_a_dry_run_writes_nothing_and_levels_are_counted_into_the_ledger(
        url: str, tmp_path: Path) -> None:
    store, sku = random_location(), random_sku()
    locations = _file(tmp_path, "l.csv", f"type,code,name\nstore,{store},Store\n")
    catalog = _file(tmp_path, "p.csv", f"sku,name,category\n{sku},P,c\n")
    levels = _file(tmp_path, "v.csv", f"location_id,sku,on_hand\n{store},{sku},5\n")
    code, out, err = run_cli(url, "import", "locations", locations, "--dry-run")
    assert (code, json.loads(out)["created"], json.loads(out)["dry_run"]) == (0, 1, True)
    code, out, err = run_cli(url, "import", "levels", levels)
    assert code == 1 and "location_id" in out  # the store does not exist yet
    for kind, path in (("locations", locations), ("products", catalog), ("levels", levels)):
        code, out, err = run_cli(url, "import", kind, path)
        assert code == 0, (out, err)
    moves = select(func.sum(stock_movements.c.delta)).where(
        stock_movements.c.location_id == store, stock_movements.c.type == "count")
    assert _count(url, moves) == 5
