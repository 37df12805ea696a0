"""API keys (SQL). The hash of a key's secret is written here and read only by
authentication (adapters/keys.py): no domain object or answer ever carries it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from stockline.adapters.tables import api_keys, dashboard_sessions
from stockline.domain.keys import ApiKey
from stockline.domain.security import Role

K = api_keys.c
# Every column but the secret's hash.
PUBLIC_COLUMNS = [c for c in api_keys.c if c.name != "secret_hash"]


def api_key_from_row(row: Any) -> ApiKey:
    return ApiKey(id=row.id, prefix=row.prefix, name=row.name, role=Role(row.role),
                  locations=tuple(row.location_ids) if row.location_ids else None,
                  expires_at=row.expires_at, last_used_at=row.last_used_at,
                  revoked_at=row.revoked_at, created_by=row.created_by,
                  created_at=row.created_at, rate_limit=row.rate_limit)


class SqlApiKeys:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, key: ApiKey, secret_hash: str) -> None:
        await self._conn.execute(api_keys.insert().values(
            id=key.id, prefix=key.prefix, secret_hash=secret_hash, name=key.name,
            role=key.role.value,
            location_ids=list(key.locations) if key.locations is not None else None,
            expires_at=key.expires_at, last_used_at=key.last_used_at,
            revoked_at=key.revoked_at, created_by=key.created_by, created_at=key.created_at,
            rate_limit=key.rate_limit))

    async def get(self, key_id: str, *, for_update: bool = False) -> ApiKey | None:
        stmt = select(*PUBLIC_COLUMNS).where(K.id == key_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self._conn.execute(stmt)).first()
        return api_key_from_row(row) if row else None

    async def revoke(self, key_id: str, at: datetime) -> None:
        await self._conn.execute(update(api_keys)
                                 .where(K.id == key_id, K.revoked_at.is_(None))
                                 .values(revoked_at=at))
        await self._conn.execute(delete(dashboard_sessions)
                                 .where(dashboard_sessions.c.principal_id == key_id))
