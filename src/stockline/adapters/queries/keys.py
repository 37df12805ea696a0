"""The read side of API keys: never the secret's hash."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select

from stockline.adapters.queries.base import Page, QueryBase, older_than_cursor, page_of, time_and_id
from stockline.adapters.repositories.keys import PUBLIC_COLUMNS, api_key_from_row
from stockline.adapters.tables import api_keys
from stockline.domain.keys import ApiKey

K = api_keys.c


class KeyQueries(QueryBase):
    async def api_key(self, key_id: str) -> ApiKey | None:
        row = await self._first(select(*PUBLIC_COLUMNS).where(K.id == key_id))
        return api_key_from_row(row) if row else None

    async def api_keys(self, *, role: str | None, revoked: bool | None, limit: int,
                       cursor: str | None) -> Page[ApiKey]:
        """Keys, newest first; ``revoked`` True: only revoked ones, False: only the others."""
        conditions: list[ColumnElement[bool]] = []
        if role is not None:
            conditions.append(K.role == role)
        if revoked is not None:
            conditions.append(K.revoked_at.is_not(None) if revoked else K.revoked_at.is_(None))
        conditions += older_than_cursor(cursor, K.created_at, K.id)
        rows = await self._all(select(*PUBLIC_COLUMNS).where(*conditions)
                               .order_by(K.created_at.desc(), K.id.desc()).limit(limit + 1))
        return page_of([api_key_from_row(r) for r in rows], limit,
                       lambda k: time_and_id(k.created_at, k.id))
