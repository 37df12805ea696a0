"""API keys and OAuth2 access tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from stockline.domain.keys import MAX_LOCATIONS, NAME_MAX_LENGTH, ApiKey, CreateApiKey, KeyStatus
from stockline.domain.security import Role
from stockline.entrypoints.http.schemas.common import NO_NUL, Body, CodeStr, Timestamp

SHOWN_ONCE = ("The API key, shown in this answer only: send it as `X-API-Key` (or "
              "`Authorization: Bearer`), or as the `client_secret` of POST /v1/oauth/token. "
              "Stockline keeps only a hash of it. null when this answer is an idempotent "
              "replay (`Idempotent-Replayed: true`): the key cannot be shown again; revoke "
              "this key and create another if it was lost.")


class ApiKeyCreate(Body):
    name: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=NAME_MAX_LENGTH,
                                           pattern=NO_NUL),
                    Field(description="What the key is for; the `actor` of each of its writes",
                          examples=["POS terminal 7"])]
    role: Annotated[Role, Field(description="What the key may do")]
    location_ids: Annotated[list[CodeStr] | None, Field(
        default=None, min_length=1, max_length=MAX_LOCATIONS,
        description="Limit the key to these locations (warehouse_staff, store_staff and "
                    "partner keys); leave out for every location")]
    expires_at: Annotated[Timestamp | None, Field(
        default=None, description="When the key stops working (in the future); leave out "
                                  "for a key that works until revoked")]
    rate_limit: Annotated[float | None, Field(
        default=None, gt=0, le=100_000, strict=False,
        description="This key's own rate limit, in requests a second (its bucket holds "
                    "STOCKLINE_RATE_LIMIT_BURST_SECONDS of it); leave out for its role's")]

    def to_command(self, *, prefix: str, secret_hash: str) -> CreateApiKey:
        return CreateApiKey(name=self.name, role=self.role.value,
                            location_ids=(tuple(self.location_ids)
                                          if self.location_ids is not None else None),
                            expires_at=self.expires_at, rate_limit=self.rate_limit,
                            prefix=prefix, secret_hash=secret_hash)


class ApiKeyOut(BaseModel):
    id: str = Field(examples=["key_01JD8Q6W1V4N5X3C2B7M9K0P8R"])
    prefix: str = Field(description="The visible part of the key: it starts `sk_<prefix>_`")
    name: str
    role: Role
    location_ids: list[str] | None = Field(description="null: every location")
    status: KeyStatus = Field(description="`active`, `expired` or `revoked`, as of this answer")
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="Its last use, to within a minute")
    revoked_at: datetime | None
    rate_limit: float | None = Field(description="Requests a second; null: the role's limit")
    created_by: str
    created_at: datetime

    @classmethod
    def of(cls, k: ApiKey, now: datetime) -> ApiKeyOut:
        return cls(id=k.id, prefix=k.prefix, name=k.name, role=k.role,
                   location_ids=list(k.locations) if k.locations is not None else None,
                   status=k.status(now), expires_at=k.expires_at, last_used_at=k.last_used_at,
                   revoked_at=k.revoked_at, rate_limit=k.rate_limit, created_by=k.created_by,
                   created_at=k.created_at)


class ApiKeyCreated(ApiKeyOut):
    key: str | None = Field(description=SHOWN_ONCE,
                            examples=["sk_3f9a1c0b7e2d_0N6jv6nq2W3yW0b1..."])

    @classmethod
    def of_new(cls, k: ApiKey, key: str | None) -> ApiKeyCreated:
        # a new key's status is as of its creation (the answer may be replayed later)
        return cls(**ApiKeyOut.of(k, k.created_at).model_dump(), key=key)

    @classmethod
    def redacted(cls, k: ApiKey) -> ApiKeyCreated:
        """What is kept for idempotent replays: everything but the key."""
        return cls.of_new(k, None)


class TokenOut(BaseModel):
    """RFC 6749 §5.1."""

    access_token: str = Field(description="A JWT; send it as `Authorization: Bearer <token>`")
    token_type: str = Field(examples=["Bearer"])
    expires_in: int = Field(description="Seconds until the token expires")
    scope: str = Field(description="The permissions the token carries (those of the key's "
                                   "role), space-separated")


class JwksOut(BaseModel):
    keys: list[dict[str, str]] = Field(description="RFC 7517 public keys (empty with HS256)")
