"""What the logs may say of a URL, a query string and a database error."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.exc import IntegrityError

from stockline.adapters.logging import database_error_text, redact


@pytest.mark.parametrize(("given", "logged"), [
    ("api_key=sk_live_1&limit=5", "api_key=***&limit=5"),
    ("/v1/events/ws?ticket=t1&types=sale.recorded", "/v1/events/ws?ticket=***&types=sale.recorded"),
    ('"WebSocket /v1/events/ws?api_key=sk_1" 403', '"WebSocket /v1/events/ws?api_key=***" 403'),
    ("POST https://h.example/hook?Token=abc&x=1 \"HTTP/1.1 200\"",
     "POST https://h.example/hook?Token=***&x=1 \"HTTP/1.1 200\""),
    ("customer_ref=LOYALTY-1&contact=jo%40example.com", "customer_ref=***&contact=***"),
    ("access_token=a&refresh_token=b&client_secret=c", "access_token=***&refresh_token=***"
                                                       "&client_secret=***"),
    ("postgresql://stock:pw@db:5432/x?password=pw", "postgresql://***@db:5432/x?password=***"),
    ("sku=A-1&location_id=S1&limit=5", "sku=A-1&location_id=S1&limit=5"),
    ("/v1/products", "/v1/products"),
])
def test_credential_and_personal_values_are_redacted(given: str, logged: str) -> None:
    assert redact(given) == logged


def test_a_database_error_is_described_without_its_message() -> None:
    driver = asyncpg.CheckViolationError("new row violates check constraint \"ck\"")
    driver.sqlstate, driver.constraint_name, driver.table_name = "23514", "ck", "customers"
    driver.detail = "Failing row contains (LOYALTY-1, jo.q@example.com)."
    wrapped = IntegrityError("INSERT INTO customers VALUES ($1, $2)",
                             ("LOYALTY-1", "jo.q@example.com"), driver)
    for error in (driver, wrapped):
        said = database_error_text(error)
        assert said is not None and "SQLSTATE 23514" in said and "constraint ck" in said
        assert "LOYALTY-1" not in said and "example.com" not in said
    assert "[SQL: INSERT INTO customers VALUES ($1, $2)]" in str(database_error_text(wrapped))
    assert database_error_text(ValueError("x")) is None
