"""The read side of webhooks: subscriptions and their delivery log."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncConnection

from stockline.adapters.queries.base import (
    Page,
    QueryBase,
    decode_cursor,
    older_than_cursor,
    page_of,
    time_and_id,
)
from stockline.adapters.repositories.webhooks import (
    deliveries_with_types,
    delivery_columns,
    load_deliveries,
    webhook_from_row,
)
from stockline.adapters.tables import webhook_deliveries, webhooks
from stockline.domain.webhooks import Delivery, Webhook, WebhookStatus

W, D = webhooks.c, webhook_deliveries.c
DELETED = WebhookStatus.DELETED.value


class WebhookQueries(QueryBase):
    async def webhook(self, webhook_id: str) -> Webhook | None:
        """A subscription that is not deleted."""
        row = await self._first(select(webhooks).where(W.id == webhook_id, W.status != DELETED))
        return webhook_from_row(row) if row else None

    async def webhooks(self, *, status: str | None, limit: int,
                       cursor: str | None) -> Page[Webhook]:
        """Subscriptions that are not deleted, newest first."""
        conditions: list[ColumnElement[bool]] = [W.status != DELETED]
        if status is not None:
            conditions.append(W.status == status)
        conditions += older_than_cursor(cursor, W.created_at, W.id)
        rows = await self._all(select(webhooks).where(*conditions)
                               .order_by(W.created_at.desc(), W.id.desc()).limit(limit + 1))
        return page_of([webhook_from_row(r) for r in rows], limit,
                       lambda w: time_and_id(w.created_at, w.id))

    async def deliveries(self, webhook_id: str, *, status: str | None, limit: int,
                         cursor: str | None) -> Page[Delivery]:
        """A subscription's delivery log, newest event first, each with its attempts."""
        conditions: list[ColumnElement[bool]] = [D.webhook_id == webhook_id]
        if status is not None:
            conditions.append(D.status == status)
        if cursor:
            (before,) = decode_cursor(cursor, int)
            conditions.append(D.event_id < before)
        stmt = (select(*delivery_columns()).select_from(deliveries_with_types())
                .where(*conditions).order_by(D.event_id.desc()).limit(limit + 1))
        async def read(conn: AsyncConnection) -> list[Delivery]:
            return await load_deliveries(conn, list((await conn.execute(stmt)).all()))
        return page_of(await self._read(read), limit, lambda d: [d.event_id])

    async def delivery(self, webhook_id: str, delivery_id: int) -> Delivery | None:
        stmt = (select(*delivery_columns()).select_from(deliveries_with_types())
                .where(D.webhook_id == webhook_id, D.id == delivery_id))
        async def read(conn: AsyncConnection) -> Delivery | None:
            row = (await conn.execute(stmt)).first()
            return (await load_deliveries(conn, [row]))[0] if row else None
        return await self._read(read)
