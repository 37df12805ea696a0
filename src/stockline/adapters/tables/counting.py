"""The tables of count tasks and staff feedback."""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, Index, String, Table, text

from stockline.adapters.tables.base import Code, UTCDateTime, metadata

count_tasks = Table(
    "count_tasks", metadata,
    Column("id", String(40), primary_key=True),
    Column("location_id", Code, ForeignKey("locations.code"), nullable=False),
    Column("sku", Code, ForeignKey("products.sku"), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", String(24), nullable=False),
    Column("reference", String(40)),
    Column("reports", BigInteger, nullable=False),
    Column("opened_by", String(100), nullable=False),
    Column("opened_at", UTCDateTime, nullable=False),
    Column("completed_by", String(100)),
    Column("completed_at", UTCDateTime),
    Column("system_quantity", BigInteger),
    Column("counted_quantity", BigInteger),
    CheckConstraint("status IN ('open', 'done')", name="status"),
    # One open task per level: a second report of the same level joins the open one.
    Index("uq_count_tasks_open_level", "location_id", "sku", unique=True,
          sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
    Index(None, "status", "opened_at", "id"),
    Index(None, "location_id", "completed_at"),
)


feedback = Table(
    "feedback", metadata,
    Column("id", String(40), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("location_id", Code, ForeignKey("locations.code")),
    Column("sku", Code, ForeignKey("products.sku")),
    Column("observed_quantity", BigInteger),
    Column("rating", BigInteger),
    Column("note", String(500)),
    Column("count_task_id", String(40), ForeignKey("count_tasks.id")),
    Column("actor", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("rating IS NULL OR (rating >= 1 AND rating <= 5)", name="rating"),
    Index(None, "created_at", "id"),
    Index(None, "location_id", "created_at"),
)
