"""Shared field types: codes, money, pages, problems."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
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


class FieldError(BaseModel):
    field: str
    location: str | None = None
    message: str
    type: str | None = None


class Problem(BaseModel):
    """RFC 9457 problem details; ``code`` is stable and machine-readable."""

    model_config = ConfigDict(extra="allow")
    type: str
    title: str
    status: int
    detail: str
    code: str
    errors: list[FieldError] | None = None


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


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for the problem statuses a route can answer."""
    base = {401, 422, 503}
    return {s: {"model": Problem, "content": {"application/problem+json": {}},
                "description": "Problem details (RFC 9457)"}
            for s in sorted(base | set(statuses))}
