"""Data migrations on both backends: 0006 repairs opening hours the API could not answer."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from importlib import import_module
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from stockline.adapters.database import open_database
from stockline.adapters.migrate import upgrade
from stockline.adapters.queries import Queries
from stockline.config import Settings
from stockline.entrypoints.http.errors import refusal_problem
from stockline.entrypoints.http.schemas.catalog import LocationOut

BEFORE_0018: str = import_module(
    "stockline.migrations.versions.0018_protocol_neutral_answers").down_revision


@pytest.fixture
async def empty_url(settings: Settings, tmp_path: Path) -> AsyncIterator[str]:
    """A new database with no schema, on the backend of ``settings``."""
    if settings.is_sqlite:
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrations.db'}"
        return
    server = make_url(settings.database_url)
    name = f"stockline_mig_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server.set(drivername="postgresql")
                                  .render_as_string(hide_password=False))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def test_opening_hours_stored_by_the_old_demo_are_repaired(empty_url: str) -> None:
    database = open_database(empty_url)
    try:
        await upgrade(database.write, "0005")
        old = {"mon-fri": "05:00-23:00", "sat": "06:00-18:00", "sun": "closed",
               "utc_offset": -5}
        fine = {"mon": "09:00-17:00"}
        async with database.write.begin() as conn:
            for code, hours in (("OLD-1", old), ("FINE-1", fine)):
                await conn.execute(text(
                    "INSERT INTO locations (code, type, name, operating_hours, created_at) "
                    "VALUES (:code, 'warehouse', :code, :hours, :at)"),
                    {"code": code, "hours": json.dumps(hours), "at": datetime.now(UTC)})
        await upgrade(database.write)
        queries = Queries(database.read)
        repaired = await queries.location("OLD-1")
        untouched = await queries.location("FINE-1")
    finally:
        await database.dispose()
    assert repaired is not None and untouched is not None
    assert dict(repaired.operating_hours or {}) == {
        "mon": "05:00-23:00", "tue": "05:00-23:00", "wed": "05:00-23:00",
        "thu": "05:00-23:00", "fri": "05:00-23:00", "sat": "06:00-18:00", "sun": "closed",
        "utc_offset": "-05:00"}
    assert dict(untouched.operating_hours or {}) == fine
    LocationOut.of(repaired, 0)  # what listing the location answers: it no longer fails


async def test_idempotency_records_made_before_0007_keep_no_fingerprint_or_answer(
        empty_url: str) -> None:
    """Their plain SHA-256 fingerprints could be searched offline for a customer's
    reference, and their answers may hold a webhook's secret: 0007 drops both."""
    database = open_database(empty_url)
    try:
        await upgrade(database.write, "0006")
        async with database.write.begin() as conn:
            await conn.execute(text(
                "INSERT INTO idempotency_keys (principal, key, fingerprint, status_code, "
                "response_body, created_at) VALUES ('p', 'k', :fp, 201, :body, :at)"),
                {"fp": "a" * 64, "body": b'{"secret":"whsec_kept_in_clear"}',
                 "at": datetime.now(UTC)})
        await upgrade(database.write, "0007")
        async with database.write.connect() as conn:
            row = (await conn.execute(text(
                "SELECT fingerprint, subject, status_code, response_body "
                "FROM idempotency_keys WHERE key = 'k'"))).one()
    finally:
        await database.dispose()
    assert (row.fingerprint, row.subject, row.status_code, bytes(row.response_body)) == (
        "unkeyed", None, 201, b"")


async def test_returns_taken_before_0015_are_valued_at_their_sale_s_average_price(
        empty_url: str) -> None:
    database = open_database(empty_url)
    at = datetime.now(UTC)
    rows = {"sale": "INSERT INTO sales (id, location_id, status, channel, payment_status, "
                    "currency, total_amount, units, actor, occurred_at, created_at) VALUES "
                    "('S1', 'L1', 'partially_returned', 'pos', 'paid', 'USD', 500000, 4, "
                    "'t', :at, :at)",
            "lines": "INSERT INTO sale_lines (sale_id, line_no, sku, quantity, "
                     "unit_price_amount) VALUES ('S1', 1, 'X', 3, 100000), "
                     "('S1', 2, 'X', 1, 200000)",
            "return": "INSERT INTO sale_returns (id, sale_id, location_id, restock, reason, "
                      "actor, created_at) VALUES ('R1', 'S1', 'L1', true, 'wrong_size', 't', "
                      ":at)",
            "return_lines": "INSERT INTO sale_return_lines (return_id, line_no, sku, "
                            "quantity) VALUES ('R1', 1, 'X', 2)"}
    try:
        await upgrade(database.write, "0010")
        async with database.write.begin() as conn:
            await conn.execute(text("INSERT INTO locations (code, type, name, created_at) "
                                    "VALUES ('L1', 'retail', 'L1', :at)"), {"at": at})
            for statement in rows.values():
                await conn.execute(text(statement), {"at": at})
        await upgrade(database.write)
        async with database.read.connect() as conn:
            amount = (await conn.execute(text(
                "SELECT amount FROM sale_return_lines WHERE return_id = 'R1'"))).scalar_one()
    finally:
        await database.dispose()
    assert amount == 250_000  # 2 units at (3 x 10.00 + 1 x 20.00) / 4 = 12.50


async def test_answers_kept_before_0018_replay_the_same_in_no_protocol_s_terms(
        empty_url: str) -> None:
    """0018 keeps an applied write's document as it was, and a refusal as its detail, code
    and data (REST puts its problem fields back in front: the same bytes as before)."""
    problem = (b'{"type":"urn:stockline:problem:insufficient_stock","title":"Insufficient '
               b'stock","status":409,"detail":"not enough","code":"insufficient_stock",'
               b'"location_id":"S-1","lines":[{"sku":"A","requested":3,"available":1}]}')
    rows = {"sold": (201, b'{"id":"sale_1"}'), "short": (409, problem),
            "erased": (409, b"")}
    database = open_database(empty_url)
    try:
        await upgrade(database.write, BEFORE_0018)
        async with database.write.begin() as conn:
            for key, (status, body) in rows.items():
                await conn.execute(text(
                    "INSERT INTO idempotency_keys (principal, key, fingerprint, status_code, "
                    "response_body, created_at) VALUES ('p', :key, 'f', :status, :body, :at)"),
                    {"key": key, "status": status, "body": body, "at": datetime.now(UTC)})
        await upgrade(database.write)
        async with database.write.connect() as conn:
            kept = {row.key: (row.outcome, bytes(row.response_body)) for row in (
                await conn.execute(text("SELECT key, outcome, response_body "
                                        "FROM idempotency_keys"))).all()}
    finally:
        await database.dispose()
    assert kept["sold"] == ("ok", b'{"id":"sale_1"}')
    assert kept["erased"] == ("erased", b"")
    assert kept["short"][0] == "insufficient_stock"
    assert refusal_problem(*kept["short"]) == (409, problem)
