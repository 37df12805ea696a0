"""The columns and cells of a CSV export, from an item model's JSON schema."""

from __future__ import annotations

import csv
import io
from typing import Any

from pydantic import BaseModel

from stockline.entrypoints.http.csvexport.table import Table, cell


class Cost(BaseModel):
    amount: str
    currency: str


class Source(BaseModel):
    type: str
    unit_cost: Cost | None


class Item(BaseModel):
    sku: str
    source: Source
    lines: list[Cost]
    data: dict[str, Any]
    delta: int
    active: bool | None


def table_of(model: type[BaseModel]) -> Table:
    schema = model.model_json_schema(mode="serialization")
    return Table.of(schema, schema.get("$defs", {}))


def test_nested_objects_are_columns_and_lists_and_free_form_objects_one_cell() -> None:
    table = table_of(Item)
    assert table.header == ["sku", "source_type", "source_unit_cost_amount",
                            "source_unit_cost_currency", "lines", "data", "delta", "active"]
    item = {"sku": "A", "source": {"type": "supplier", "unit_cost": None},
            "lines": [{"amount": "1.00", "currency": "USD"}], "data": {"k": [1]},
            "delta": -3, "active": True}
    rows = list(csv.reader(io.StringIO(table.encode([item], header=True).decode(),
                                       newline="")))
    assert rows[1] == ["A", "supplier", "", "", '[{"amount":"1.00","currency":"USD"}]',
                       '{"k":[1]}', "-3", "true"]


def test_only_text_that_could_start_a_formula_is_escaped() -> None:
    assert [cell(v) for v in ("=1+1", "+1a", "-A1", "@x", "\tx", "\rx", "a=b")] == [
        "'=1+1", "'+1a", "'-A1", "'@x", "'\tx", "'\rx", "a=b"]
    assert [cell(v) for v in (-3, 2.5, "-12.50", "+7", None, False)] == [
        -3, 2.5, "-12.50", "+7", "", "false"]


def test_a_model_that_contains_itself_stops_at_one_cell() -> None:
    class Node(BaseModel):
        name: str
        parent: Node | None = None

    assert table_of(Node).header == ["name", "parent"]
    row = {"name": "a", "parent": {"name": "b", "parent": None}}
    assert table_of(Node).encode([row]) == b'a,"{""name"":""b"",""parent"":null}"\r\n'
