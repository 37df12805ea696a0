"""Which routes answer CSV, read from the OpenAPI document (one list of the routes, their
answers and their query parameters, as the strict query check reads it): a GET whose JSON
answer holds a list of objects under ``items`` (a page) or ``rows`` (a report)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stockline.entrypoints.http.csvexport.table import Table, resolved

CSV = "text/csv"
ROW_KEYS = ("items", "rows")
CSV_ANSWER = {"schema": {"type": "string"},
              "description": "Every matching row (all pages), after a header row of the "
                             "JSON field names: nested objects as parent_child columns, "
                             "lists and free-form objects as JSON text"}


@dataclass(frozen=True, slots=True)
class ListShape:
    """What a list route answers: its rows under ``key``, their CSV columns, the query
    parameters it takes, and the name of its file."""

    key: str
    table: Table
    params: frozenset[str]
    filename: str


def shape_in(spec: dict[str, Any], method: str, template: str) -> ListShape | None:
    """The shape of the list ``method template`` answers; None when it is no list."""
    operation = spec.get("paths", {}).get(template, {}).get(method.lower())
    if method != "GET" or operation is None:
        return None
    defs = spec.get("components", {}).get("schemas", {})
    content = operation.get("responses", {}).get("200", {}).get("content", {})
    answer, _ = resolved(content.get("application/json", {}).get("schema", {}), defs)
    for key in ROW_KEYS:
        field = answer.get("properties", {}).get(key, {})
        item, _ = resolved(field.get("items", {}), defs)
        if field.get("type") == "array" and "properties" in item:
            params = frozenset(p["name"] for p in operation.get("parameters", [])
                               if p.get("in") == "query")
            name = "-".join(s for s in template.split("/")[2:] if s and "{" not in s)
            return ListShape(key, Table.of(item, defs), params, name or "export")
    return None


def list_shape(app: Any, method: str, template: str) -> ListShape | None:
    """``shape_in`` the app's OpenAPI document, kept once read."""
    shapes: dict[tuple[str, str], ListShape | None] | None = getattr(
        app.state, "csv_shapes", None)
    if shapes is None:
        shapes = app.state.csv_shapes = {}
    if (method, template) not in shapes:
        shapes[method, template] = shape_in(app.openapi(), method, template)
    return shapes[method, template]


def document_csv(spec: dict[str, Any]) -> None:
    """Declare ``text/csv`` beside JSON in the answer of every list operation."""
    for template, item in spec.get("paths", {}).items():
        if "get" in item and shape_in(spec, "GET", template) is not None:
            item["get"]["responses"]["200"]["content"][CSV] = CSV_ANSWER
