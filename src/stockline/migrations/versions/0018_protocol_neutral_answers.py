"""Idempotency records keep a write's answer in no protocol's terms.

``status_code`` (an HTTP status) becomes ``outcome``: ``ok`` for a write that was applied,
else the refusal's code. A kept refusal loses the problem+json fields every entrypoint
adds itself (``type``, ``title``, ``status``) and keeps its detail, code and data in their
order, so that REST renders the same bytes as before and another protocol its own
answer. A record whose answer was erased with its customer keeps ``erased``.

Downgrade: a refusal gets its status and problem fields back; an applied write gets 200
(the route's own status, 201 for a creation, is not kept).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 11:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import op

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROBLEM_FIELDS = ("type", "title", "status")
# The problem codes and their HTTP statuses and titles, as the API gave them at 0017.
PROBLEMS = {
    "not_found": (404, "Not found"), "already_exists": (409, "Already exists"),
    "insufficient_stock": (409, "Insufficient stock"),
    "version_conflict": (409, "Version conflict"), "invalid_state": (409, "Invalid state"),
    "quantity_exceeded": (409, "Quantity exceeded"),
    "location_closed": (409, "Location closed"),
    "product_discontinued": (409, "Product discontinued"),
    "validation_error": (422, "Invalid request"),
    "idempotency_key_reused": (422, "Idempotency key reused"),
    "idempotency_key_in_use": (409, "Idempotency key in use"),
    "forbidden": (403, "Forbidden"),
}
ERASED = "erased"
CHUNK = 1000

keys = sa.table('idempotency_keys', sa.column('principal', sa.String),
                sa.column('key', sa.String), sa.column('status_code', sa.Integer),
                sa.column('outcome', sa.String), sa.column('response_body', sa.LargeBinary))


def _neutral(body: bytes) -> tuple[str, bytes]:
    try:
        problem = orjson.loads(body)
    except orjson.JSONDecodeError:
        return ERASED, body
    if not isinstance(problem, dict) or not isinstance(problem.get("code"), str):
        return ERASED, body
    kept = {k: v for k, v in problem.items() if k not in PROBLEM_FIELDS}
    return problem["code"], orjson.dumps(kept)


def _problem(code: str, body: bytes) -> tuple[int, bytes]:
    status, title = PROBLEMS.get(code, (500, "Internal server error"))
    try:
        kept: dict[str, Any] = orjson.loads(body)
    except orjson.JSONDecodeError:
        return status, body
    return status, orjson.dumps({"type": f"urn:stockline:problem:{code}", "title": title,
                                 "status": status, **kept})


def _rewrite(select: Any, convert: Any) -> None:
    """Rewrite the rows ``select`` finds, a chunk at a time, by primary key."""
    conn = op.get_bind()
    last = ("", "")
    while True:
        rows = conn.execute(select.where(sa.tuple_(keys.c.principal, keys.c.key) > last)
                            .order_by(keys.c.principal, keys.c.key).limit(CHUNK)).all()
        if not rows:
            return
        for row in rows:
            conn.execute(keys.update().where(keys.c.principal == row.principal,
                                             keys.c.key == row.key)
                         .values(convert(row)))
        last = (rows[-1].principal, rows[-1].key)


def upgrade() -> None:
    op.add_column('idempotency_keys', sa.Column('outcome', sa.String(length=40)))
    op.execute(keys.update().where(keys.c.status_code < 400).values(outcome="ok"))

    def convert(row: Any) -> dict[str, Any]:
        outcome, body = _neutral(bytes(row.response_body or b""))
        return {"outcome": outcome, "response_body": body}

    _rewrite(sa.select(keys.c.principal, keys.c.key, keys.c.response_body)
             .where(keys.c.status_code >= 400), convert)
    with op.batch_alter_table('idempotency_keys') as batch:
        batch.drop_column('status_code')


def downgrade() -> None:
    op.add_column('idempotency_keys', sa.Column('status_code', sa.Integer))
    op.execute(keys.update().where(keys.c.outcome == "ok").values(status_code=200))

    def convert(row: Any) -> dict[str, Any]:
        status, body = _problem(row.outcome, bytes(row.response_body or b""))
        return {"status_code": status, "response_body": body}

    _rewrite(sa.select(keys.c.principal, keys.c.key, keys.c.outcome, keys.c.response_body)
             .where(keys.c.outcome != "ok"), convert)
    with op.batch_alter_table('idempotency_keys') as batch:
        batch.drop_column('outcome')
