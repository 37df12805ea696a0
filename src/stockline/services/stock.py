"""The one way stock changes: guarded level updates, lots, ledger rows and events.

Every flow (updates, sales, transfers, returns, reservations, purchase orders) moves stock
through these functions, so the rules hold everywhere: ``available`` never goes below 0,
every change of ``on_hand`` has its ledger entries (one per lot it touched), and a lotted
level's ``on_hand`` is always the sum of its lots.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from stockline.domain.errors import InsufficientStock, NotFound, ShortLine, VersionConflict
from stockline.domain.events import Event, InventoryChanged, LowStock
from stockline.domain.lots import LotPiece, allocate
from stockline.domain.model import LedgerEntry, Level, crossed_reorder_point
from stockline.domain.rules import check_buyable, check_open
from stockline.domain.selling import take_for_sale
from stockline.domain.values import UNLABELLED_LOT, LocationStatus, MovementType
from stockline.services.executor import Context
from stockline.services.ports import UnitOfWork


@dataclass(frozen=True, slots=True)
class Moved:
    """A change of ``on_hand`` applied to one level, and the lots it touched."""

    level: Level
    delta: int
    pieces: tuple[LotPiece, ...] = ()
    from_reserved: bool = False  # the units were held already: ``available`` did not move

    @property
    def available_change(self) -> int:
        return 0 if self.from_reserved else self.delta


async def ensure_exists(uow: UnitOfWork, location_id: str, sku: str) -> None:
    """Raise NotFound for an unknown location or SKU (location first)."""
    if not await uow.locations.exists(location_id):
        raise NotFound("location", location_id)
    if not await uow.products.exists(sku):
        raise NotFound("product", sku)


async def ensure_open(uow: UnitOfWork, location_id: str) -> None:
    """NotFound for an unknown location, LocationClosed for a closed one."""
    location = await uow.locations.get(location_id)
    if location is None:
        raise NotFound("location", location_id)
    check_open(location_id, location.status)


async def ensure_receivable(uow: UnitOfWork, location_id: str, skus: Sequence[str]) -> None:
    """Stock is received or ordered only into an open location (else LocationClosed), and
    only of active products (else ProductDiscontinued); unknown keys are NotFound."""
    await ensure_open(uow, location_id)
    statuses = await uow.products.statuses(sorted(set(skus)))
    unknown = set(skus) - statuses.keys()
    if unknown:
        raise NotFound("product", min(unknown))
    check_buyable(statuses)


async def ensure_level(uow: UnitOfWork, location_id: str, sku: str, ctx: Context) -> None:
    """An empty level for stock on its way (in transit, incoming), unless one exists."""
    if await uow.levels.get(location_id, sku) is None:
        await ensure_exists(uow, location_id, sku)
        await uow.levels.ensure(location_id, sku, now=ctx.now)


# -- taking stock -------------------------------------------------------------------------

async def take_held(uow: UnitOfWork, location_id: str, quantities: Mapping[str, int],
                    ctx: Context) -> list[Moved]:
    """Lower ``on_hand`` and ``reserved`` together by every SKU of a hold turned into a
    sale, all or none: the units were held already, so ``available`` does not move.

    Levels are updated in SKU order so that two multi-line writes cannot deadlock; each
    update is guarded (``reserved`` never below 0 nor above ``on_hand``) and reads its
    location's status: a closed location is LocationClosed. Either way the caller's
    transaction rolls back. Lotted levels give up their first-expiring lots first.
    """
    levels: list[tuple[Level, int]] = []
    short: dict[str, int] = {}
    for sku in sorted(quantities):
        quantity = quantities[sku]
        taken = await uow.levels.change_for_sale(location_id, sku, now=ctx.now,
                                                 quantity=quantity, from_reserved=True)
        if taken is None:
            short[sku] = quantity
        else:
            check_open(location_id, taken[1])  # the caller's transaction rolls back
            levels.append((taken[0], quantity))
    if short:
        raise await shortage(uow, location_id, short)
    return [Moved(level, -quantity, await _take_lots(uow, level, quantity, None),
                  from_reserved=True)
            for level, quantity in levels]


async def take_sold(uow: UnitOfWork, location_id: str, wanted: Mapping[str, int],
                    ctx: Context) -> list[Moved]:
    """Take a sale's units (SKU: quantity) from the location, all or none.

    The levels are locked in key order (two sales cannot deadlock) with their location's
    status, and ``take_for_sale`` decides (closed location, short lines): the rule a group
    commit of sales keeps too. An unknown location or product is NotFound. Lotted levels
    give up their first-expiring lots first.
    """
    found, statuses = await uow.levels.lock_for_sale([(location_id, sku) for sku in wanted])
    levels = {sku: found.get((location_id, sku)) for sku in wanted}
    status = statuses.get(location_id)
    if status is None or None in levels.values():
        status = await _sale_location(uow, location_id,
                                      [sku for sku, level in levels.items() if level is None])
    taken = take_for_sale(location_id, status, wanted, levels, ctx.now)
    await uow.levels.save_many([level for level, _ in taken])
    return [Moved(level, -quantity, await _take_lots(uow, level, quantity, None))
            for level, quantity in taken]


async def _sale_location(uow: UnitOfWork, location_id: str,
                         unstocked: Sequence[str]) -> LocationStatus:
    """The location's status, once it and the products never stocked there are known
    (NotFound: the location first; a closed location is LocationClosed before that)."""
    location = await uow.locations.get(location_id)
    if location is None:
        raise NotFound("location", location_id)
    check_open(location_id, location.status)
    for sku in sorted(unstocked):
        if not await uow.products.exists(sku):
            raise NotFound("product", sku)
    return location.status


async def take_one(uow: UnitOfWork, location_id: str, sku: str, quantity: int, ctx: Context, *,
                   lot: str | None = None, expected_version: int | None = None) -> Moved:
    """Lower one level (from a named lot if ``lot``), with an optional compare-and-set."""
    level = await uow.levels.change(location_id, sku, now=ctx.now, on_hand=-quantity,
                                    expected_version=expected_version)
    if level is None:
        existing = await uow.levels.get(location_id, sku)
        if existing is None:
            await ensure_exists(uow, location_id, sku)
        elif expected_version is not None and existing.version != expected_version:
            raise VersionConflict(location_id, sku, expected_version, existing.version)
        available = existing.available if existing is not None else 0
        raise InsufficientStock(location_id, (ShortLine(sku, quantity, available),))
    return Moved(level, -quantity, await _take_lots(uow, level, quantity, lot))


async def shortage(uow: UnitOfWork, location_id: str,
                   wanted: Mapping[str, int]) -> InsufficientStock | NotFound:
    """Why guarded changes of these SKUs failed: an unknown key, or the short lines.
    A closed location is told first (LocationClosed is raised): no stock would do there."""
    location = await uow.locations.get(location_id)
    if location is None:
        return NotFound("location", location_id)
    check_open(location_id, location.status)
    lines = []
    for sku, quantity in wanted.items():
        level = await uow.levels.get(location_id, sku)
        if level is None and not await uow.products.exists(sku):
            return NotFound("product", sku)
        lines.append(ShortLine(sku, quantity, level.available if level else 0))
    return InsufficientStock(location_id, tuple(lines))


async def _take_lots(uow: UnitOfWork, level: Level, quantity: int,
                     lot: str | None) -> tuple[LotPiece, ...]:
    if not level.lotted:
        if lot is not None:
            raise InsufficientStock(level.location_id,
                                    (ShortLine(level.sku, quantity, 0, lot=lot),))
        return ()
    lots = await uow.lots.list(level.location_id, level.sku, for_update=True)
    if lot is None:
        pieces = allocate(lots, quantity)  # a lotted level's lots hold all its on_hand
    else:
        held = next((x for x in lots if x.lot == lot), None)
        if held is None or held.on_hand < quantity:
            raise InsufficientStock(level.location_id, (ShortLine(
                level.sku, quantity, held.on_hand if held else 0, lot=lot),))
        pieces = [LotPiece(lot, quantity, held.expires_on)]
    for piece in pieces:
        taken = await uow.lots.take(level.location_id, level.sku, piece.lot, piece.quantity)
        assert taken, "the lots are locked by this transaction"
    return tuple(pieces)


# -- putting stock ------------------------------------------------------------------------

async def put_stock(uow: UnitOfWork, location_id: str, sku: str, quantity: int, ctx: Context,
                    *, lot: str | None = None, expires_on: date | None = None,
                    pieces: Sequence[LotPiece] = (),
                    arriving_from: Literal["in_transit", "incoming"] | None = None,
                    expected_version: int | None = None) -> Moved:
    """Raise ``on_hand`` (a level springs into being on its first receipt).

    ``lot``/``expires_on`` name the lot received; ``pieces`` give several lots at once
    (a transfer carrying the origin's lots). The first named lot makes the level lotted:
    what it held before becomes its unlabelled lot. ``arriving_from`` ("in_transit" or
    "incoming") lowers that column by the same quantity in the same statement: stock on
    its way arrives as one change of the level.
    """
    level = await uow.levels.change(
        location_id, sku, now=ctx.now, on_hand=quantity, expected_version=expected_version,
        in_transit=-quantity if arriving_from == "in_transit" else 0,
        incoming=-quantity if arriving_from == "incoming" else 0)
    if level is None:
        if arriving_from:
            raise AssertionError(f"level {location_id}/{sku} has less {arriving_from} than "
                                 f"the {quantity} arriving: a broken invariant")
        level = await _first_receipt(uow, location_id, sku, quantity, ctx, expected_version)
    given = list(pieces) or ([LotPiece(lot, quantity, expires_on)] if lot is not None else [])
    return Moved(level, quantity, await _put_lots(uow, level, quantity, given, ctx.now))


async def _first_receipt(uow: UnitOfWork, location_id: str, sku: str, quantity: int,
                         ctx: Context, expected_version: int | None) -> Level:
    """The receipt's guarded update found no level (or not at ``expected_version``)."""
    if await uow.levels.get(location_id, sku) is None:
        await ensure_exists(uow, location_id, sku)
        if expected_version not in (None, 0):
            raise VersionConflict(location_id, sku, expected_version, 0)
        created = await uow.levels.create(location_id, sku, quantity, now=ctx.now)
        if created is not None:
            return created
    if expected_version is None:
        # Created by another transaction since our update looked: add to it.
        level = await uow.levels.change(location_id, sku, now=ctx.now, on_hand=quantity)
        if level is not None:
            return level
    existing = await uow.levels.get(location_id, sku)
    actual = existing.version if existing is not None else 0
    raise VersionConflict(location_id, sku,
                          expected_version if expected_version is not None else actual, actual)


async def _put_lots(uow: UnitOfWork, level: Level, quantity: int, given: list[LotPiece],
                    now: datetime) -> tuple[LotPiece, ...]:
    named = any(piece.lot != UNLABELLED_LOT for piece in given)
    if not level.lotted and not named:
        return ()
    if not level.lotted:
        await uow.levels.mark_lotted(level.location_id, level.sku)
        level.lotted = True
        before = level.on_hand - quantity
        if before > 0:
            await uow.lots.add(level.location_id, level.sku, UNLABELLED_LOT, before,
                               expires_on=None, now=now)
    pieces = given or [LotPiece(UNLABELLED_LOT, quantity)]
    for piece in pieces:
        await uow.lots.add(level.location_id, level.sku, piece.lot, piece.quantity,
                           expires_on=piece.expires_on, now=now)
    return tuple(pieces)


# -- the record ---------------------------------------------------------------------------

# The ledger entries and events of one change, written together (``append_records``).
Record = tuple[list[LedgerEntry], list[Event]]


def record_change(moved: Moved, ctx: Context, *, type: MovementType, reason: str,
                  reference: str | None, occurred_at: datetime | None = None,
                  note: str | None = None) -> Record:
    """The ledger entries (one per lot touched) and events of a change of ``on_hand``."""
    level, when = moved.level, occurred_at if occurred_at is not None else ctx.now
    sign = 1 if moved.delta >= 0 else -1
    parts = [(p.lot or None, sign * p.quantity) for p in moved.pieces] or [(None, moved.delta)]
    balance = level.on_hand - moved.delta
    entries = []
    for lot, delta in parts:
        balance += delta
        entries.append(LedgerEntry(location_id=level.location_id, sku=level.sku, delta=delta,
                                   balance_after=balance, type=type, reason=reason,
                                   reference=reference, actor=ctx.actor, occurred_at=when,
                                   note=note, lot=lot, recorded_at=ctx.now))
    events = level_events(level, level.available - moved.available_change, ctx,
                          cause=type.value, reference=reference, delta=moved.delta)
    return entries, events


def level_events(level: Level, available_before: int, ctx: Context, *, cause: str,
                 reference: str | None, delta: int = 0) -> list[Event]:
    """``inventory.changed``, and ``inventory.low_stock`` when the reorder point was crossed."""
    events: list[Event] = [InventoryChanged(occurred_at=ctx.now, level=level, delta=delta,
                                            cause=cause, reference=reference,
                                            available_before=available_before)]
    if crossed_reorder_point(available_before, level):
        events.append(LowStock(occurred_at=ctx.now, level=level))
    return events


async def append_records(uow: UnitOfWork, records: Sequence[Record], *extra: Event) -> None:
    """Write the ledger entries and events of several changes, then ``extra`` events."""
    entries = [entry for batch, _ in records for entry in batch]
    events = [event for _, batch in records for event in batch]
    await uow.ledger.append(entries)
    await uow.outbox.append([*events, *extra])
