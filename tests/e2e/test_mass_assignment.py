"""Mass assignment: no write body may set a field the server owns.

Every write operation of the OpenAPI document that takes a JSON body is sent a body made
of server-owned fields only: each must be refused by name (422), and nothing may change.
A new write route is covered as soon as it is in the document.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from stockline.adapters.database import open_database
from stockline.adapters.tables import events, outbox
from stockline.config import Settings
from stockline.entrypoints.http.app import create_app
from tests.factories import assert_problem, error_fields

SERVER_OWNED = {"id": "x_1", "on_hand": 1000, "reserved": 0, "available": 1000,
                "in_transit": 0, "version": 99, "actor": "mallory", "created_at":
                "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
                "status": "completed", "total": {"amount": "0", "currency": "USD"},
                "created_by": "mallory", "revoked_at": None, "last_used_at": None,
                "secret_hash": "0" * 64, "prefix": "abc", "erased_at": None}


SPEC = create_app().openapi()


def _write_operations() -> list[tuple[str, str]]:
    spec = SPEC
    found = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            content = operation.get("requestBody", {}).get("content", {})
            if method in ("post", "put", "patch") and "application/json" in content:
                found.append((method.upper(), path))
    return sorted(found)


WRITES = _write_operations()


def test_the_document_has_the_write_routes() -> None:
    assert ("POST", "/v1/sales/record") in WRITES and len(WRITES) >= 15


@pytest.mark.parametrize(("method", "path"), WRITES, ids=[f"{m} {p}" for m, p in WRITES])
async def test_server_owned_fields_are_refused_by_name_and_change_nothing(
        client: httpx.AsyncClient, settings: Settings, method: str, path: str) -> None:
    url = re.sub(r"\{[^}]+\}", "X-1", path)  # an id that is well-formed everywhere
    before = await _events(settings.database_url)
    response = await client.request(method, url, json=SERVER_OWNED)
    problem = assert_problem(response, 422, "validation_error")
    named = set(error_fields(problem))
    refused = {f for f in SERVER_OWNED if f in named}
    # A field of that name the body legitimately has is checked by its type instead;
    # every other server-owned field must be named as not allowed.
    body_fields = _body_fields(path, method)
    assert refused >= set(SERVER_OWNED) - body_fields, (path, sorted(named))
    assert await _events(settings.database_url) == before


async def _events(url: str) -> int:
    """Events logged so far: in the outbox or moved on by the relay (their sum does not
    depend on when the relay runs)."""
    database = open_database(url)
    try:
        async with database.write.connect() as conn:
            waiting = (await conn.execute(select(func.count()).select_from(outbox))).scalar()
            logged = (await conn.execute(select(func.count()).select_from(events))).scalar()
    finally:
        await database.dispose()
    return int(waiting or 0) + int(logged or 0)


def _body_fields(path: str, method: str) -> set[str]:
    spec = SPEC
    content = spec["paths"][path][method.lower()]["requestBody"]["content"]
    schema: dict[str, Any] = content["application/json"]["schema"]
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return set(schema.get("properties", {}))
