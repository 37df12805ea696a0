"""Lots (batches): which stock leaves first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from stockline.domain.values import UNLABELLED_LOT


@dataclass(frozen=True, slots=True, kw_only=True)
class Lot:
    location_id: str
    sku: str
    lot: str  # UNLABELLED_LOT for stock that came without a lot code
    on_hand: int
    expires_on: date | None
    received_at: datetime


@dataclass(frozen=True, slots=True)
class LotPiece:
    """A quantity of one lot, as taken from or put into a level."""

    lot: str
    quantity: int
    expires_on: date | None = None


def fefo_order(lot: Lot) -> tuple[bool, date, datetime, str]:
    """First expiring first; lots without expiry after, oldest received first."""
    return (lot.expires_on is None, lot.expires_on or date.max, lot.received_at, lot.lot)


def allocate(lots: Sequence[Lot], quantity: int) -> list[LotPiece]:
    """Take ``quantity`` from ``lots`` first-expiring-first. The lots must hold enough."""
    pieces: list[LotPiece] = []
    remaining = quantity
    for lot in sorted(lots, key=fefo_order):
        if remaining == 0:
            break
        take = min(lot.on_hand, remaining)
        if take > 0:
            pieces.append(LotPiece(lot.lot, take, lot.expires_on))
            remaining -= take
    if remaining:
        raise ValueError(f"lots hold {quantity - remaining} of the {quantity} asked for")
    return pieces


def split_in_order(pieces: Sequence[LotPiece], quantity: int) -> list[LotPiece]:
    """The first ``quantity`` units of ``pieces``, in their order (partial receipts)."""
    taken: list[LotPiece] = []
    remaining = quantity
    for piece in pieces:
        if remaining == 0:
            break
        take = min(piece.quantity, remaining)
        if take > 0:
            taken.append(LotPiece(piece.lot, take, piece.expires_on))
            remaining -= take
    return taken


def is_unlabelled(lot: str) -> bool:
    return lot == UNLABELLED_LOT
