"""The audit trail as the API shows it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from stockline.adapters.queries.audit import AuditEntry


class AuditOutcome(StrEnum):
    SUCCESS = "success"
    REFUSED = "refused"
    DENIED = "denied"
    AUTH_FAILED = "auth_failed"
    ERROR = "error"


class AuditMethod(StrEnum):
    POST = "POST"
    PUT = "PUT"
    PATCH = "PATCH"
    DELETE = "DELETE"
    GET = "GET"
    HEAD = "HEAD"
    OPTIONS = "OPTIONS"
    WS = "WS"
    GRPC = "GRPC"


class AuditEntryOut(BaseModel):
    id: int = Field(description="Order of recording: a newer entry has a greater id")
    at: datetime = Field(description="When the request arrived")
    principal_id: str | None = Field(description="The key or token subject; null when "
                                                 "no credential was accepted")
    principal_name: str | None
    role: str | None
    method: str = Field(description="HTTP method, `WS` for a WebSocket handshake, or `GRPC` "
                                    "for a gRPC call (its path: `/stockline.v1.<Service>/"
                                    "<Method>`)")
    path: str = Field(description="As requested, with control characters and backslashes "
                                  "escaped (`\\n` is `\\x0a`), clipped to 500 characters")
    route: str | None = Field(description="The route template, e.g. `/v1/sales/{sale_id}`")
    status: int
    outcome: AuditOutcome = Field(description="`success` (2xx/3xx), `refused` (other 4xx), "
                                              "`denied` (403), `auth_failed` (401), "
                                              "`error` (5xx)")
    request_id: str | None = Field(description="As echoed in X-Request-ID")
    ip: str | None = Field(description="The client address")
    detail: str | None = Field(description="Why a credential was refused")
    count: int = Field(description="How many requests this entry stands for: more than one "
                                   "for a burst of requests from one address refused for "
                                   "too many failed credentials; `at` is the first's time")
    last_at: datetime | None = Field(description="When the last request of a burst came "
                                                 "(null for a single request)")

    @classmethod
    def of(cls, entry: AuditEntry) -> AuditEntryOut:
        r = entry.record
        return cls(id=entry.id, at=r.at, principal_id=r.principal_id,
                   principal_name=r.principal_name, role=r.role, method=r.method, path=r.path,
                   route=r.route, status=r.status, outcome=AuditOutcome(r.outcome),
                   request_id=r.request_id, ip=r.ip, detail=r.detail, count=r.count,
                   last_at=r.last_at)
