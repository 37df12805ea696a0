"""Transfers between locations (SQL)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from stockline.adapters.tables import transfer_line_lots, transfer_lines, transfers
from stockline.domain.documents import Transfer, TransferLine, TransferLot
from stockline.domain.states import TransferRemainder, TransferStatus
from stockline.services.transit import travel_order

T, TL, TLL = transfers.c, transfer_lines.c, transfer_line_lots.c


class SqlTransfers:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def add(self, transfer: Transfer) -> None:
        await self._conn.execute(transfers.insert().values(
            id=transfer.id, from_location_id=transfer.from_location_id,
            to_location_id=transfer.to_location_id, note=transfer.note,
            external_ref=transfer.external_ref, actor=transfer.actor,
            created_at=transfer.created_at, **_changing(transfer)))
        await self._conn.execute(transfer_lines.insert(), [
            {"transfer_id": transfer.id, "line_no": line.line_no, "sku": line.sku,
             "quantity": line.quantity, "received_quantity": line.received_quantity,
             "cancelled_quantity": line.cancelled_quantity, "lost_quantity": line.lost_quantity}
            for line in transfer.lines])
        lots = [{"transfer_id": transfer.id, "line_no": line.line_no, "lot": lot.lot,
                 "expires_on": lot.expires_on, "quantity": lot.quantity,
                 "received_quantity": lot.received_quantity,
                 "returned_quantity": lot.returned_quantity, "lost_quantity": lot.lost_quantity}
                for line in transfer.lines for lot in line.lots]
        if lots:
            await self._conn.execute(transfer_line_lots.insert(), lots)

    async def get(self, transfer_id: str, *, for_update: bool = False) -> Transfer | None:
        stmt = select(transfers).where(T.id == transfer_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = (await self._conn.execute(stmt)).first()
        if row is None:
            return None
        return (await load_transfers(self._conn, [row]))[0]

    async def update(self, transfer: Transfer) -> None:
        await self._conn.execute(transfers.update().where(T.id == transfer.id)
                                 .values(_changing(transfer)))
        await self._conn.execute(
            transfer_lines.update().where(and_(TL.transfer_id == bindparam("t_id"),
                                               TL.line_no == bindparam("t_line")))
            .values(received_quantity=bindparam("t_received"),
                    cancelled_quantity=bindparam("t_cancelled"),
                    lost_quantity=bindparam("t_lost")),
            [{"t_id": transfer.id, "t_line": line.line_no, "t_received": line.received_quantity,
              "t_cancelled": line.cancelled_quantity, "t_lost": line.lost_quantity}
             for line in transfer.lines])
        lots = [{"t_id": transfer.id, "t_line": line.line_no, "t_lot": lot.lot,
                 "t_received": lot.received_quantity, "t_returned": lot.returned_quantity,
                 "t_lost": lot.lost_quantity}
                for line in transfer.lines for lot in line.lots]
        if lots:
            await self._conn.execute(
                transfer_line_lots.update().where(and_(
                    TLL.transfer_id == bindparam("t_id"), TLL.line_no == bindparam("t_line"),
                    TLL.lot == bindparam("t_lot")))
                .values(received_quantity=bindparam("t_received"),
                        returned_quantity=bindparam("t_returned"),
                        lost_quantity=bindparam("t_lost")), lots)


def _changing(transfer: Transfer) -> dict[str, Any]:
    """The columns of a transfer's row that change over its life."""
    return {"status": transfer.status.value, "updated_at": transfer.updated_at,
            "received_at": transfer.received_at, "cancelled_at": transfer.cancelled_at,
            "closed_at": transfer.closed_at,
            "remainder": transfer.remainder.value if transfer.remainder else None}


async def load_transfers(conn: AsyncConnection, rows: Sequence[Any]) -> list[Transfer]:
    """Transfers with their lines and the lines' lots, in the order of ``rows``."""
    if not rows:
        return []
    ids = [r.id for r in rows]
    lots: dict[tuple[str, int], list[TransferLot]] = {}
    lot_rows = await conn.execute(select(transfer_line_lots)
                                  .where(TLL.transfer_id.in_(ids))
                                  .order_by(TLL.transfer_id, TLL.line_no, TLL.lot))
    for r in lot_rows.all():
        lots.setdefault((r.transfer_id, r.line_no), []).append(TransferLot(
            lot=r.lot, expires_on=r.expires_on, quantity=r.quantity,
            received_quantity=r.received_quantity, returned_quantity=r.returned_quantity,
            lost_quantity=r.lost_quantity))
    lines: dict[str, list[TransferLine]] = {i: [] for i in ids}
    line_rows = await conn.execute(select(transfer_lines).where(TL.transfer_id.in_(ids))
                                   .order_by(TL.transfer_id, TL.line_no))
    for r in line_rows.all():
        lines[r.transfer_id].append(TransferLine(
            line_no=r.line_no, sku=r.sku, quantity=r.quantity,
            received_quantity=r.received_quantity, cancelled_quantity=r.cancelled_quantity,
            lost_quantity=r.lost_quantity,
            lots=travel_order(lots.get((r.transfer_id, r.line_no), []))))
    return [Transfer(id=r.id, from_location_id=r.from_location_id,
                     to_location_id=r.to_location_id, status=TransferStatus(r.status),
                     lines=lines[r.id], note=r.note, external_ref=r.external_ref,
                     actor=r.actor, created_at=r.created_at, updated_at=r.updated_at,
                     received_at=r.received_at, cancelled_at=r.cancelled_at,
                     closed_at=r.closed_at,
                     remainder=TransferRemainder(r.remainder) if r.remainder else None)
            for r in rows]
