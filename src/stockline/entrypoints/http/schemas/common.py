"""Shared field types: codes, money, pages, problems."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from stockline.domain.values import CODE_MAX_LENGTH, CODE_PATTERN, Money

T = TypeVar("T")

# The length is in the pattern too; maxLength says it plainly to clients and schema tools.
CodeStr = Annotated[str, StringConstraints(strict=True, max_length=CODE_MAX_LENGTH,
                                           pattern=CODE_PATTERN),
                    Field(examples=["RUN-PEG41-42-BLK"])]
# PostgreSQL cannot store U+0000 in text or jsonb: refused here, on every backend alike.
NO_NUL = r"^[^\x00]*$"
Text200 = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=200,
                                           pattern=NO_NUL)]
Text100 = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=100,
                                           pattern=NO_NUL)]
Text500 = Annotated[str, StringConstraints(strict=True, max_length=500, pattern=NO_NUL)]
Quantity = Annotated[int, Field(strict=True, ge=1, le=1_000_000)]
Count = Annotated[int, Field(strict=True, ge=0, le=1_000_000_000)]


def _in_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("must fall within the years 1 to 9999 in UTC") from None


_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_text(value: object) -> object:
    # pydantic takes a number, or a numeric string, as a Unix time: `?to=0.5` or
    # `"expires_on": 0` would pass. The contract (and the schema's format) is ISO 8601 text.
    if isinstance(value, datetime | date) or (isinstance(value, str) and _ISO_DATE.match(value)):
        return value
    raise ValueError("must be an ISO 8601 date or date-time, e.g. 2024-01-01T00:00:00Z")


# An instant with its offset, kept in UTC (as it is stored, and answered back).
Timestamp = Annotated[AwareDatetime, BeforeValidator(_iso_text), AfterValidator(_in_utc)]
_PLAIN_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _day_start(value: object) -> object:
    """A plain date (2026-11-01) stands for the start of that day in UTC."""
    if isinstance(value, str) and _PLAIN_DATE.fullmatch(value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise ValueError("not a calendar date") from None
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    return value


# A point in time given in a query (?from=, ?to=): an instant with its offset, or a plain
# date for the start of that UTC day.
Instant = Annotated[AwareDatetime, BeforeValidator(_iso_text), BeforeValidator(_day_start),
                    AfterValidator(_in_utc), WithJsonSchema({"anyOf": [
                        {"type": "string", "format": "date-time"},
                        {"type": "string", "format": "date"}]})]
# A calendar day, as ISO 8601 text (2024-12-31).
IsoDate = Annotated[date, BeforeValidator(_iso_text)]


class Body(BaseModel):
    """A request body: unknown fields (and server-owned ones) are refused, not ignored."""

    model_config = ConfigDict(extra="forbid")

    def subject(self) -> str | None:
        """The reference of the customer whose data this body carries, if any: the
        idempotency record of the request names it (by a keyed digest) so that erasing
        the customer can unlink it."""
        return None


class MoneyIn(Body):
    amount: Annotated[str, StringConstraints(strict=True, pattern=r"^\d{1,12}(\.\d{1,4})?$"),
                      Field(examples=["89.99"])]
    currency: Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Z]{3}$"),
                        Field(examples=["USD"])]

    def to_money(self) -> Money:
        return Money.parse(self.amount, self.currency)


class MoneyOut(BaseModel):
    amount: str = Field(examples=["89.99"])
    currency: str = Field(examples=["USD"])

    @classmethod
    def of(cls, money: Money | None) -> MoneyOut | None:
        return None if money is None else cls(amount=money.format(), currency=money.currency)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as ?cursor= for the next page; null on the last page.")

    @classmethod
    def model_parametrized_name(cls, params: tuple[Any, ...]) -> str:
        """A page of ``LevelOut`` is ``LevelPage`` (the name a generated client uses)."""
        (item,) = params
        return f"{item.__name__.removesuffix('Out')}Page"


class FieldError(BaseModel):
    """One refused field of a ``validation_error``."""

    field: str = Field(description="The field, dotted (lines.0.quantity), or the "
                                   "parameter's name")
    location: str | None = Field(default=None, description="body, query, path or header")
    message: str
    type: str | None = Field(default=None, description="What kind of check refused it")
    line: int | None = Field(default=None, description="A file's line (a CSV import; the "
                                                       "header is line 1)")


class ProblemLine(BaseModel):
    """One line a refusal names: of ``insufficient_stock`` (``available``, ``lot`` when a
    lot was asked for) or of ``quantity_exceeded`` (``allowed``)."""

    sku: str
    requested: int
    available: int | None = Field(default=None, description="insufficient_stock: what "
                                                            "could be taken")
    lot: str | None = Field(default=None, description="insufficient_stock: the lot asked for")
    allowed: int | None = Field(default=None, description="quantity_exceeded: at most this")


class Problem(BaseModel):
    """RFC 9457 problem details; ``code`` is stable and machine-readable. The members
    after ``code`` come with the codes that name them, and are absent otherwise."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldError] | None = Field(
        default=None, description="validation_error: every refused field")
    location_id: str | None = Field(
        default=None, description="insufficient_stock, version_conflict, location_closed: "
                                  "the location")
    lines: list[ProblemLine] | None = Field(
        default=None, description="insufficient_stock, quantity_exceeded: the lines refused")
    resource: str | None = Field(
        default=None, description="not_found, already_exists, invalid_state, "
                                  "quantity_exceeded, version_conflict of a product: the kind "
                                  "of object (product, sale, ...)")
    key: str | None = Field(default=None, description="With resource: the object's id or code")
    state: str | None = Field(default=None, description="invalid_state: its present state")
    sku: str | None = Field(default=None, description="version_conflict: the level's SKU")
    skus: list[str] | None = Field(default=None,
                                   description="product_discontinued: the SKUs refused")
    expected_version: int | None = Field(default=None,
                                         description="version_conflict: the version sent")
    current_version: int | None = Field(
        default=None, description="version_conflict: the level's (or product's) version")
    retry_after: int | None = Field(default=None,
                                    description="rate_limited: seconds to wait (as Retry-After)")
    abridged: bool | None = Field(
        default=None, description="A replayed refusal kept short: only code and detail")
    error: str | None = Field(default=None, description="The token route: the RFC 6749 error")
    error_description: str | None = Field(
        default=None, description="The token route: the RFC 6749 error description")


def close_keyed_maps(node: Any) -> None:
    """Say ``additionalProperties: false`` beside every ``patternProperties`` in ``node`` (an
    OpenAPI document): a dict with a constrained key type refuses any other key, which
    pydantic's schema leaves unsaid."""
    if isinstance(node, dict):
        if "patternProperties" in node:
            node.setdefault("additionalProperties", False)
        for value in node.values():
            close_keyed_maps(value)
    elif isinstance(node, list):
        for value in node:
            close_keyed_maps(value)


_CLEAN_NAME = re.compile(r"[A-Z][A-Za-z0-9]*")


def name_components(spec: dict[str, Any]) -> None:
    """Name each schema of an OpenAPI document by its title where its key is not a plain
    name (pydantic keys a generic model as ``Page_LevelOut_``; its title is ``LevelPage``),
    and point every reference at the new name."""
    schemas: dict[str, Any] = spec.get("components", {}).get("schemas", {})
    renamed = {}
    for key, schema in list(schemas.items()):
        title = schema.get("title", "")
        if not _CLEAN_NAME.fullmatch(key) and _CLEAN_NAME.fullmatch(title) and (
                title not in schemas):
            schemas[title] = schemas.pop(key)
            renamed[f"#/components/schemas/{key}"] = f"#/components/schemas/{title}"
    if renamed:
        _point(spec, renamed)


def _point(node: Any, renamed: dict[str, str]) -> None:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str) and node["$ref"] in renamed:
            node["$ref"] = renamed[node["$ref"]]
        for value in node.values():
            _point(value, renamed)
    elif isinstance(node, list):
        for value in node:
            _point(value, renamed)


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the problem statuses a route can answer."""
    base = {401, 422, 503}
    return {s: {"model": Problem, "content": {"application/problem+json": {}},
                "description": "Problem details (RFC 9457)"}
            for s in sorted(base | set(statuses))}


def partial_schema(never_null: frozenset[str]) -> Callable[[dict[str, Any]], None]:
    """The JSON schema of a partial body (PATCH): at least one field, no defaults, and no
    null for the fields that cannot be cleared."""
    def shape(schema: dict[str, Any]) -> None:
        schema["minProperties"] = 1
        for name, field in schema["properties"].items():
            field.pop("default", None)
            if name in never_null:
                kinds = [k for k in field.pop("anyOf", []) if k.get("type") != "null"]
                if len(kinds) == 1:
                    field.update(kinds[0])
                elif kinds:
                    field["anyOf"] = kinds
    return shape


class PartialBody(Body):
    """A PATCH body: only the fields sent change; ``null`` clears a field that may be empty.
    ``changes()`` gives the fields sent, so a new field is one declaration."""

    NEVER_NULL: ClassVar[frozenset[str]] = frozenset({"name", "status"})

    @model_validator(mode="after")
    def _sent_something(self) -> PartialBody:
        if not self.model_fields_set:
            raise ValueError("send at least one field to change")
        return self

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in sorted(self.model_fields_set)}


def _not_null(value: object) -> object:
    if value is None:
        raise ValueError("may be left out, but not null")
    return value


def _sent_fields_only(schema: dict[str, Any]) -> None:
    partial_schema(frozenset(schema["properties"]))(schema)


class SentFields(Body):
    """A body whose fields may each be left out but not sent null (None stands for "not
    sent"), at least one of them: the schema shows no null, no default, and minProperties."""

    model_config = ConfigDict(json_schema_extra=_sent_fields_only)

    @field_validator("*")
    @classmethod
    def _sent_not_null(cls, value: object) -> object:
        return _not_null(value)

    @model_validator(mode="after")
    def _sent_one(self) -> SentFields:
        if not self.model_fields_set:
            raise ValueError(f"send at least one of {', '.join(type(self).model_fields)}")
        return self


NeverNull = AfterValidator(_not_null)
