"""First-expiring-first allocation of lots."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockline.domain.lots import Lot, LotPiece, allocate, split_in_order

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def lot(code: str, on_hand: int, expires: date | None = None, age_days: int = 0) -> Lot:
    return Lot(location_id="L", sku="S", lot=code, on_hand=on_hand, expires_on=expires,
               received_at=T0 - timedelta(days=age_days))


def test_first_expiring_lot_goes_first_then_lots_without_expiry_oldest_first() -> None:
    lots = [lot("NOEXP-NEW", 5, None, age_days=1), lot("LATE", 5, date(2027, 6, 1)),
            lot("NOEXP-OLD", 5, None, age_days=9), lot("SOON", 5, date(2027, 1, 1))]
    assert allocate(lots, 17) == [LotPiece("SOON", 5, date(2027, 1, 1)),
                                  LotPiece("LATE", 5, date(2027, 6, 1)),
                                  LotPiece("NOEXP-OLD", 5), LotPiece("NOEXP-NEW", 2)]


def test_empty_lots_are_skipped_and_too_little_is_refused() -> None:
    lots = [lot("A", 0, date(2026, 2, 1)), lot("B", 3)]
    assert allocate(lots, 2) == [LotPiece("B", 2)]
    with pytest.raises(ValueError, match="hold 3 of the 4"):
        allocate(lots, 4)


def test_split_in_order_takes_the_first_units() -> None:
    pieces = [LotPiece("A", 2), LotPiece("B", 3)]
    assert split_in_order(pieces, 4) == [LotPiece("A", 2), LotPiece("B", 2)]
    assert split_in_order(pieces, 0) == []


@given(st.lists(st.tuples(st.integers(0, 20), st.one_of(st.none(), st.dates())), max_size=8),
       st.integers(0, 200))
def test_allocation_takes_exactly_what_is_asked_from_what_is_there(
        spec: list[tuple[int, date | None]], wanted: int) -> None:
    lots = [lot(f"L{i}", n, d, age_days=i) for i, (n, d) in enumerate(spec)]
    total = sum(n for n, _ in spec)
    if wanted > total:
        with pytest.raises(ValueError, match="lots hold"):
            allocate(lots, wanted)
        return
    pieces = allocate(lots, wanted)
    assert sum(p.quantity for p in pieces) == wanted
    held = {x.lot: x.on_hand for x in lots}
    assert all(0 < p.quantity <= held[p.lot] for p in pieces)
    assert len({p.lot for p in pieces}) == len(pieces)
