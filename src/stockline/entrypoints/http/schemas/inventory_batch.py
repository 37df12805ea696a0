"""Many level changes in one request: each item a body of ``POST /v1/inventory/update``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    Field,
    PlainSerializer,
    PlainValidator,
    TypeAdapter,
    ValidationError,
)

from stockline.domain.commands import UpdateInventory
from stockline.entrypoints.http.schemas.common import Body, Problem
from stockline.entrypoints.http.schemas.inventory import InventoryUpdate, LevelOut
from stockline.services.inventory_batch import MAX_CHANGES

_UPDATE = TypeAdapter(InventoryUpdate)


@dataclass(frozen=True, slots=True)
class InvalidItem:
    """An item that is not a valid ``InventoryUpdate``: what was sent, and why it fails,
    located as the errors of ``POST /v1/inventory/update`` given that body alone."""

    sent: Any
    errors: tuple[tuple[tuple[str | int, ...], str, str], ...]  # (loc, type, msg)

    def error_dicts(self) -> list[dict[str, Any]]:
        return [{"loc": loc, "type": kind, "msg": msg} for loc, kind, msg in self.errors]


def _item(value: Any) -> InventoryUpdate | InvalidItem:
    """Validated as FastAPI validates the body of the single route (a parsed JSON value,
    ``from_attributes`` on), so an item is refused exactly as that body would be. A JSON
    ``null`` is an absent body there."""
    if value is None:
        return InvalidItem(value, ((("body",), "missing", "Field required"),))
    try:
        return _UPDATE.validate_python(value, from_attributes=True)
    except ValidationError as exc:
        return InvalidItem(value, tuple((("body", *e["loc"]), e["type"], e["msg"])
                                        for e in exc.errors(include_url=False)))


def _dumped(item: InventoryUpdate | InvalidItem) -> Any:
    """What the request's idempotency fingerprint holds of an item."""
    return item.sent if isinstance(item, InvalidItem) else item.model_dump(mode="json")


# Declared to clients as an InventoryUpdate; validated one by one, so a bad item is that
# item's 422 and not the whole request's.
BatchItem = Annotated[InventoryUpdate | InvalidItem,
                      PlainValidator(_item, json_schema_input_type=InventoryUpdate),
                      PlainSerializer(_dumped)]


class InventoryBatch(Body):
    items: list[BatchItem] = Field(
        min_length=1, max_length=MAX_CHANGES,
        description=f"1 to {MAX_CHANGES} bodies of `POST /v1/inventory/update`, applied in "
                    "this order, each on its own")

    def commands(self) -> list[UpdateInventory]:
        """The valid items' changes, in order (the invalid ones are answered without one)."""
        return [item.to_command() for item in self.items if isinstance(item, InventoryUpdate)]


class BatchResult(BaseModel):
    index: int = Field(description="The item's position in `items`, from 0")
    status: int = Field(description="What `POST /v1/inventory/update` answers for this "
                                    "item alone: 200, or a problem's status")
    body: LevelOut | Problem


class BatchOut(BaseModel):
    results: list[BatchResult] = Field(description="One per item, in the order given")
