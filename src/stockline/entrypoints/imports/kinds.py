"""Each kind of file: its columns, and a row made into the body the JSON route takes, so
that a row is checked by the very model (and rules) that checks that body."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from stockline.domain.imports import ImportKind, LevelRow, RowError
from stockline.entrypoints.http.schemas.catalog import (
    ProductCreate,
    RetailLocationCreate,
    WarehouseCreate,
)
from stockline.entrypoints.http.schemas.inventory import InventoryUpdate, ReorderSettings
from stockline.entrypoints.http.schemas.purchasing import SupplierCreate

_INTEGER = re.compile(r"^\s*[+-]?[0-9]{1,30}\s*$")  # longer: text the model refuses


class RowRefused(Exception):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} error(s)")
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Kind:
    required: tuple[str, ...]
    # cells by column -> the row's command; raises ValidationError or RowRefused
    convert: Callable[[Mapping[str, Any], int], Any]
    optional: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()  # keyed columns: attr.<name>, operating_hours.<day>
    pairs: tuple[tuple[str, str], ...] = ()  # columns given together or not at all
    integers: frozenset[str] = frozenset()
    decimals: frozenset[str] = frozenset()
    fields: Mapping[str, str] = field(default_factory=dict)  # body field -> column

    def header_errors(self, header: tuple[str, ...]) -> list[RowError]:
        """A missing required column, an unknown or repeated one, half a pair."""
        errors = [RowError(1, name, "a required column is missing")
                  for name in self.required if name not in header]
        known = set(self.required) | set(self.optional)
        for name in sorted(set(header)):
            if header.count(name) > 1:
                errors.append(RowError(1, name, "this column is given more than once"))
            if name not in known and not (self.prefixes and name.startswith(self.prefixes)):
                errors.append(RowError(1, name or "(empty)", "unknown column; the columns "
                                       f"are {', '.join(self.columns())}"))
        for first, second in self.pairs:
            if (first in header) != (second in header):
                missing = second if first in header else first
                errors.append(RowError(1, missing, f"give {first} and {second} together"))
        return errors

    def columns(self) -> list[str]:
        return [*self.required, *self.optional, *(f"{p}<name>" for p in self.prefixes)]

    def typed(self, cells: Mapping[str, str]) -> dict[str, Any]:
        """Cells as the JSON body would carry them: empty ones left out, numbers as numbers
        (a cell that is not one stays text, for the model to refuse)."""
        out: dict[str, Any] = {}
        for name, text in cells.items():
            if text == "":
                continue
            value: Any = text
            if name in self.integers and _INTEGER.match(text):
                value = int(text)
            elif name in self.decimals:
                with contextlib.suppress(ValueError):
                    value = float(text)
            out[name] = value
        return out

    def column_of(self, loc: tuple[int | str, ...]) -> str:
        """The column a model error's location points at."""
        parts = [str(p) for p in loc]
        name = self.fields.get(parts[0], parts[0]) if parts else "file"
        if name.endswith("_") and len(parts) > 1:  # price -> price_amount
            return name + parts[1]
        if name.endswith(".") and len(parts) > 1:  # attributes -> attr.<name>
            return name + parts[1]
        return name


def model_errors(kind: Kind, line: int, error: ValidationError) -> list[RowError]:
    return [RowError(line, kind.column_of(tuple(e["loc"])), e["msg"]) for e in error.errors()]


def keyed(cells: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {name[len(prefix):]: v for name, v in cells.items() if name.startswith(prefix)}


def _validated(model: type[BaseModel], body: dict[str, Any]) -> Any:
    return model.model_validate(body)


def _product(cells: Mapping[str, Any], line: int) -> Any:
    body = {k: cells[k] for k in ("sku", "name", "category") if k in cells}
    body["attributes"] = keyed(cells, "attr.")
    if "price_amount" in cells or "price_currency" in cells:
        body["price"] = {"amount": cells.get("price_amount", ""),
                         "currency": cells.get("price_currency", "")}
    return _validated(ProductCreate, body).to_command()


_LOCATION_MODELS: Mapping[str, type[WarehouseCreate | RetailLocationCreate]] = {
    "warehouse": WarehouseCreate, "store": RetailLocationCreate, "retail": RetailLocationCreate}


def _location(cells: Mapping[str, Any], line: int) -> Any:
    model = _LOCATION_MODELS.get(cells.get("type", ""))
    if model is None:
        raise RowRefused([RowError(line, "type", "must be warehouse or store")])
    body = {k: v for k, v in cells.items() if k != "type" and "." not in k}
    if hours := keyed(cells, "operating_hours."):
        body["operating_hours"] = hours
    return _validated(model, body).to_command()


def _level(cells: Mapping[str, Any], line: int) -> LevelRow:
    body = {k: cells[k] for k in ("location_id", "sku") if k in cells} | {"reason": "count"}
    if "on_hand" in cells:
        body["quantity"] = cells["on_hand"]
    count = _validated(InventoryUpdate, body).to_command()
    given = {k: cells[k] for k in LEVELS_SETTINGS if k in cells}
    settings = _validated(ReorderSettings, given).to_command(count.location_id, count.sku)
    assert count.quantity is not None
    return LevelRow(location_id=count.location_id, sku=count.sku, on_hand=count.quantity,
                    settings=settings)


def _supplier(cells: Mapping[str, Any], line: int) -> Any:
    body = {k: v for k, v in cells.items() if "." not in k}
    if contact := keyed(cells, "contact."):
        body["contact"] = contact
    return _validated(SupplierCreate, body).to_command()


LEVELS_SETTINGS = ("reorder_point", "reorder_quantity", "safety_stock")
KINDS: Mapping[ImportKind, Kind] = {
    ImportKind.PRODUCTS: Kind(("sku", "name", "category"), _product,
                              ("price_amount", "price_currency"), ("attr.",),
                              pairs=(("price_amount", "price_currency"),),
                              fields={"price": "price_", "attributes": "attr."}),
    ImportKind.LOCATIONS: Kind(("type", "code", "name"), _location,
                               ("region", "address", "latitude", "longitude", "capacity",
                                "time_zone"),
                               ("operating_hours.",), integers=frozenset({"capacity"}),
                               decimals=frozenset({"latitude", "longitude"}),
                               fields={"operating_hours": "operating_hours."}),
    ImportKind.LEVELS: Kind(("location_id", "sku", "on_hand"), _level, LEVELS_SETTINGS,
                            integers=frozenset({"on_hand", *LEVELS_SETTINGS}),
                            fields={"quantity": "on_hand"}),
    ImportKind.SUPPLIERS: Kind(("code", "name"), _supplier,
                               ("lead_time_days", "contact.name", "contact.email",
                                "contact.phone"),
                               integers=frozenset({"lead_time_days"}),
                               fields={"contact": "contact."}),
}
