"""Arguments checked as REST checks its query parameters: codes, instants."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime

from stockline.domain.customers import REF_PATTERN
from stockline.domain.errors import InvalidInput
from stockline.domain.values import is_code

ATTRIBUTE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
CUSTOMER_REF = re.compile(REF_PATTERN)
Instant = datetime  # an ISO 8601 date-time with its offset (DateTime)


def code_or_none(field: str, value: str | None) -> str | None:
    """A location or product code (1-64 of A-Z a-z 0-9 - _ .), or None."""
    if value is not None and not is_code(value):
        raise InvalidInput(field, "must be a code: 1-64 of A-Z a-z 0-9 - _ .")
    return value


def code(field: str, value: str) -> str:
    code_or_none(field, value)
    return value


def instant(field: str, value: datetime | None) -> datetime | None:
    """An instant with its offset, in UTC (as REST stores and answers it)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidInput(field, "must carry its offset, e.g. 2024-01-01T00:00:00Z")
    return value.astimezone(UTC)


def text_or_none(field: str, value: str | None, max_length: int) -> str | None:
    """Free text as REST's query parameters take it: at most ``max_length`` characters, no
    NUL (which no database column takes)."""
    if value is not None and (len(value) > max_length or "\x00" in value):
        raise InvalidInput(field, f"at most {max_length} characters, none of them NUL")
    return value


def attribute_filters(given: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Attribute filters as REST's ``attr.<name>=<value>``: names of 1-64 of A-Z a-z 0-9
    _ . -, values as free text of at most 200 characters."""
    found = {}
    for name, value in given:
        if not ATTRIBUTE_NAME.fullmatch(name):
            raise InvalidInput("attributes.name", "1-64 of A-Z a-z 0-9 _ . -")
        found[name] = text_or_none("attributes.value", value, 200) or ""
    return found


def document_id(field: str, value: str) -> str:
    """The id of a sale, transfer, hold or order (1-40 of A-Z a-z 0-9 _)."""
    if not (0 < len(value) <= 40 and value.isascii()
            and all(c.isalnum() or c == "_" for c in value)):
        raise InvalidInput(field, "must be an id: 1-40 of A-Z a-z 0-9 _")
    return value


def customer_ref(field: str, value: str) -> str:
    """A customer's reference, as REST takes it in a path (1-100 of A-Z a-z 0-9 . _ @ + -)."""
    if not CUSTOMER_REF.fullmatch(value):
        raise InvalidInput(field, "must be a customer reference: 1-100 of A-Z a-z 0-9 . _ @ + -")
    return value
