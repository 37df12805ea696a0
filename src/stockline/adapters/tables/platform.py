"""The tables around the trade: the outbox and the event log, idempotency records,
webhooks, API keys, the audit trail and customers."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from stockline.adapters.tables.base import Code, Json, SerialId, UTCDateTime, metadata

outbox = Table(
    "outbox", metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    Column("type", String(48), nullable=False),
    Column("location_id", Code),
    Column("sku", Code),
    Column("payload", Text, nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    # The W3C traceparent of the request that wrote the row (tracing on; else null).
    Column("traceparent", String(64)),
)


idempotency_keys = Table(
    "idempotency_keys", metadata,
    Column("principal", String(100), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    # A keyed digest (services.idempotency) of the customer reference the request named:
    # erasing the customer finds its records by it, and unlinks them.
    Column("subject", String(64), index=True),
    # "ok" or the refusal's code, and the result's or refusal's JSON document: the answer in
    # no protocol's terms (services.ports.StoredAnswer), replayed alike over any of them.
    Column("outcome", String(40)),
    Column("response_body", LargeBinary),
    Column("created_at", UTCDateTime, nullable=False, index=True),
)


# The public event log. ``id`` is assigned by the one relay, in the order it moves committed
# outbox rows: gap-free, and never visible to a reader before the ids below it.
events = Table(
    "events", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("type", String(48), nullable=False),
    Column("location_id", Code),
    Column("sku", Code),
    Column("payload", Text, nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("logged_at", UTCDateTime, nullable=False, index=True),
    Column("traceparent", String(64)),  # the outbox row's: never in the event's JSON
    Index(None, "location_id", "id"),
    Index(None, "sku", "id"),
)


# One row per relay: who holds the lease, how far ids, publishing and pruning have got.
relay_state = Table(
    "relay_state", metadata,
    Column("name", String(32), primary_key=True),
    Column("holder", String(100)),
    Column("lease_expires_at", UTCDateTime),
    Column("last_event_id", BigInteger, nullable=False, server_default="0"),
    Column("published_through", BigInteger, nullable=False, server_default="0"),
    Column("pruned_through", BigInteger, nullable=False, server_default="0"),
)


webhooks = Table(
    "webhooks", metadata,
    Column("id", String(40), primary_key=True),
    Column("url", String(2000), nullable=False),
    Column("event_types", Json, nullable=False),
    Column("location_ids", Json),
    Column("secret", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("paused_reason", String(500)),
    Column("actor", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)


webhook_deliveries = Table(
    "webhook_deliveries", metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    Column("webhook_id", String(40), ForeignKey("webhooks.id"), nullable=False),
    Column("event_id", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime),
    Column("last_attempt_at", UTCDateTime),
    Column("last_status_code", Integer),
    Column("last_error", String(500)),
    Column("delivered_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("webhook_id", "event_id"),
    Index(None, "status", "next_attempt_at"),
)


webhook_attempts = Table(
    "webhook_attempts", metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    Column("delivery_id", BigInteger, ForeignKey("webhook_deliveries.id"), nullable=False,
           index=True),
    Column("attempt", Integer, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("status_code", Integer),
    Column("error", String(500)),
    Column("duration_ms", Integer, nullable=False),
)


# API keys: the secret is shown once at creation; only its SHA-256 is kept. The prefix is
# what a key is recognised by (in lists and logs) and looked up with.
api_keys = Table(
    "api_keys", metadata,
    Column("id", String(40), primary_key=True),
    Column("prefix", String(24), nullable=False, unique=True),
    Column("secret_hash", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("role", String(24), nullable=False),
    Column("location_ids", Json),
    Column("expires_at", UTCDateTime),
    Column("last_used_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
    Column("created_by", String(100), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("rate_limit", Float),  # requests a second; NULL: the role's limit
)


# The audit trail: append-only. The application never updates or deletes a row, and
# triggers (migration 0005) refuse UPDATE and DELETE on both backends.
audit_log = Table(
    "audit_log", metadata,
    Column("id", SerialId, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False, index=True),
    Column("principal_id", String(100)),
    Column("principal_name", String(200)),
    Column("role", String(24)),
    Column("method", String(8), nullable=False),
    Column("path", String(500), nullable=False),
    Column("route", String(200)),
    Column("status", Integer, nullable=False),
    Column("outcome", String(24), nullable=False),
    Column("request_id", String(128)),
    Column("ip", String(64)),
    Column("detail", String(500)),
    # A burst of refusals from one address is one entry: how many, and when the last came.
    Column("count", Integer, nullable=False, server_default=text("1")),
    Column("last_at", UTCDateTime),
    Index(None, "principal_id", "id"),
    comment="Append-only audit trail: rows are never updated or deleted",
)


# Customers stay apart from sales lines; erasing one pseudonymizes the reference everywhere.
customers = Table(
    "customers", metadata,
    Column("ref", String(100), primary_key=True),
    Column("contact", Text),
    Column("erased_at", UTCDateTime),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)


# Tickets for event streams opened where no header can be sent (a browser's EventSource):
# single-use and short-lived, each for the principal that asked for it. Only the SHA-256 of
# a ticket is kept; redeeming one deletes its row.
stream_tickets = Table(
    "stream_tickets", metadata,
    Column("digest", String(64), primary_key=True),
    Column("principal_id", String(100), nullable=False),
    Column("principal_name", String(100), nullable=False),
    Column("role", String(24), nullable=False),
    Column("location_ids", Json),
    Column("credential_expires_at", UTCDateTime),  # when the principal's credential lapses
    Column("expires_at", UTCDateTime, nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
)


# The dashboard's browser sessions, one row each while it lasts: its cookie is checked
# against its row on every request, so signing out (or revoking the key that signed in)
# ends it on every node at once. Only the SHA-256 of the session's random id is kept.
dashboard_sessions = Table(
    "dashboard_sessions", metadata,
    Column("digest", String(64), primary_key=True),
    Column("principal_id", String(100), nullable=False, index=True),
    Column("expires_at", UTCDateTime, nullable=False, index=True),
    Column("created_at", UTCDateTime, nullable=False),
)


# The serving processes: each writes its row when it starts and again every few seconds;
# a row not seen for a while is of a process that has stopped, and is pruned.
nodes = Table(
    "nodes", metadata,
    Column("name", String(100), primary_key=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False, index=True),
)
