"""A list's rows as CSV: the columns come from the JSON schema of the list's item model, so
an empty list still has its header, and every row of a list has the same columns.

A nested object with declared fields becomes one column per field, named ``parent_child``
(money ``{amount, currency}`` as ``price_amount`` and ``price_currency``); a list, or an
object of free-form keys (``attributes``, an event's ``data``), is one cell of JSON text.
Text that a spreadsheet would run as a formula gets a leading ``'`` (OWASP's advice on CSV
injection); numbers, and text that is a plain number (a negative amount), are kept as they
are.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

# What a spreadsheet takes as the start of a formula (OWASP, "CSV Injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?[0-9]+(\.[0-9]+)?")
JsonSchema = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Table:
    """The columns of a list's CSV: each a header and the path to its value in an item."""

    paths: tuple[tuple[str, ...], ...]

    @property
    def header(self) -> list[str]:
        return ["_".join(path) for path in self.paths]

    @classmethod
    def of(cls, item: JsonSchema, defs: JsonSchema) -> Table:
        model, ref = resolved(item, defs)
        return cls(tuple(_paths(model, defs, (), frozenset({ref or ""}))))

    def encode(self, items: Iterable[Mapping[str, Any]], *, header: bool = False) -> bytes:
        """These items as CSV rows (after the header row, when asked for), in UTF-8."""
        out = io.StringIO()
        writer = csv.writer(out)
        if header:
            writer.writerow(self.header)
        writer.writerows([cell(_at(item, path)) for path in self.paths] for item in items)
        return out.getvalue().encode()


def cell(value: Any) -> str | int | float:
    """One value as a CSV cell: JSON's own spelling of null and booleans, JSON text for a
    list or an object, text that could start a formula escaped."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    text = str(value)
    if text.startswith(FORMULA_START) and not PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def _at(item: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = item
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _paths(schema: JsonSchema, defs: JsonSchema, prefix: tuple[str, ...],
           seen: frozenset[str]) -> Iterable[tuple[str, ...]]:
    for name, field in schema.get("properties", {}).items():
        target, ref = resolved(field, defs)
        if "properties" in target and ref not in seen:  # a model: one column per field
            # (a model within itself is one cell, or its columns would never end)
            yield from _paths(target, defs, (*prefix, name), seen | {ref or ""})
        else:
            yield (*prefix, name)


def resolved(schema: JsonSchema, defs: JsonSchema) -> tuple[JsonSchema, str | None]:
    """The schema a field's value takes when it is not null: through ``$ref`` and an
    ``anyOf`` of one type and null. A union of several types stays as it is."""
    ref = None
    while True:
        if "$ref" in schema:
            ref = schema["$ref"]
            schema = defs[ref.rsplit("/", 1)[-1]]
            continue
        choices = [s for s in schema.get("anyOf", schema.get("allOf", []))
                   if s.get("type") != "null"]
        if len(choices) != 1:
            return schema, ref
        schema = choices[0]
