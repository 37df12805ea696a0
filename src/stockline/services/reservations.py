"""Reservations: holds on available stock until a sale commits them, the client releases
them or their time runs out.

- A hold takes every line out of ``available`` (``reserved`` rises) or nothing at all, by
  guarded level updates: holds never oversell.
- It lives ``ttl_seconds`` (the entrypoint settles default and maximum: ``with_ttl``).
  Past ``expires_at`` it can no longer be committed or released; the sweeper expires it.
- Every transition locks the hold's row, checks status and expiry under the lock, and
  stores the new status only if the stored one is still ``active``: a hold that expires
  while being committed ends committed or expired, never both, and its units leave
  ``reserved`` exactly once.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from stockline.domain.commands import (
    CommitReservation,
    CreateReservation,
    ExpireReservation,
    ReleaseReservation,
)
from stockline.domain.documents import Reservation, ReservationLine
from stockline.domain.errors import (
    InvalidInput,
    InvalidState,
    NotFound,
)
from stockline.domain.events import (
    Event,
    ReservationCommitted,
    ReservationCreated,
    ReservationExpired,
    ReservationReleased,
    SaleRecorded,
)
from stockline.domain.ids import new_id
from stockline.domain.model import Sale, SaleLine
from stockline.domain.security import Permission
from stockline.domain.selling import open_sale
from stockline.domain.states import (
    RESERVATIONS,
    ReservationStatus,
    check_opening_payment,
)
from stockline.domain.values import AMOUNT_SCALE, MAX_AMOUNT, Money, MovementType
from stockline.services.executor import Caller, Context, Executor
from stockline.services.ports import UnitOfWork
from stockline.services.stock import (
    append_records,
    ensure_open,
    level_events,
    record_change,
    shortage,
    take_held,
)

# Who the sweeper is, in the records it leaves (it has no API key of its own).
SWEEPER = Caller(principal="system", actor="reservation-sweeper")
_MAX_TOTAL_UNITS = MAX_AMOUNT * AMOUNT_SCALE


def with_ttl(cmd: CreateReservation, *, default: int, maximum: int) -> CreateReservation:
    """The command with its hold time settled: ``default`` when none was asked for.

    Asking for more than ``maximum`` seconds (or less than one) is InvalidInput.
    """
    ttl = cmd.ttl_seconds if cmd.ttl_seconds is not None else min(default, maximum)
    if ttl < 1:
        raise InvalidInput("ttl_seconds", "must be at least 1 second")
    if ttl > maximum:
        raise InvalidInput("ttl_seconds", f"must be at most {maximum} seconds")
    return replace(cmd, ttl_seconds=ttl)


def _check(cmd: CreateReservation) -> int:
    if not cmd.lines:
        raise InvalidInput("lines", "a reservation needs at least one line")
    if any(line.quantity <= 0 for line in cmd.lines):
        raise InvalidInput("lines", "every line needs a positive quantity")
    priced = [(line.unit_price, line.quantity) for line in cmd.lines if line.unit_price]
    if len({price.currency for price, _ in priced}) > 1:
        raise InvalidInput("lines", "all lines of a reservation must use one currency")
    if sum(price.units * quantity for price, quantity in priced) >= _MAX_TOTAL_UNITS:
        raise InvalidInput("lines", "the reservation's total is too large")
    if cmd.ttl_seconds is None or cmd.ttl_seconds < 1:
        raise InvalidInput("ttl_seconds", "a hold needs a time to live of at least 1 second")
    return cmd.ttl_seconds


async def create_reservation(uow: UnitOfWork, cmd: CreateReservation, ctx: Context
                             ) -> Reservation:
    """Hold every line at the location for ``ttl_seconds``, or nothing at all.

    Lines of one SKU are summed; levels change in SKU order (``reserved`` rises, guarded by
    ``available >= quantity``), so two holds cannot deadlock and none can oversell. When
    any line is short, InsufficientStock names every short line and nothing changes. A
    closed location holds nothing (LocationClosed).
    """
    ctx.require(Permission.RESERVATIONS_WRITE, cmd.location_id)
    ttl = _check(cmd)
    await ensure_open(uow, cmd.location_id)  # a hold is a sale in waiting
    reservation = Reservation(
        id=new_id("res"), location_id=cmd.location_id, status=ReservationStatus.ACTIVE,
        lines=tuple(ReservationLine(sku=ln.sku, quantity=ln.quantity, unit_price=ln.unit_price)
                    for ln in cmd.lines),
        channel=cmd.channel, expires_at=ctx.now + timedelta(seconds=ttl),
        external_ref=cmd.external_ref, actor=ctx.actor, created_at=ctx.now,
        updated_at=ctx.now)
    await uow.reservations.add(reservation)  # before the hot level rows are locked
    quantities = reservation.quantities()
    events: list[Event] = []
    short: dict[str, int] = {}
    for sku in sorted(quantities):
        quantity = quantities[sku]
        level = await uow.levels.change(cmd.location_id, sku, now=ctx.now, reserved=quantity)
        if level is None:
            short[sku] = quantity
        else:
            events += level_events(level, level.available + quantity, ctx,
                                   cause="reservation", reference=reservation.id)
    if short:
        raise await shortage(uow, cmd.location_id, short)
    await uow.outbox.append([*events, ReservationCreated(occurred_at=ctx.now,
                                                         reservation=reservation)])
    return reservation


async def commit_reservation(uow: UnitOfWork, cmd: CommitReservation, ctx: Context) -> Sale:
    """Turn an active hold, still within its time, into a sale, in one transaction.

    Released, committed, expired or past ``expires_at``: InvalidState, nothing changes.
    The units leave ``on_hand`` and ``reserved`` together, and the sale is the one
    ``record_sale`` makes (same ledger entries and events): the hold's lines, each at its
    own unit price, else at the product's current price (InvalidInput when it has none).
    """
    check_opening_payment(cmd.payment_status)
    reservation = await _locked(uow, cmd.reservation_id, "commit", ctx)
    lines, currency = await _priced_lines(uow, reservation)
    sale = open_sale(location_id=reservation.location_id, lines=lines, currency=currency,
                     channel=reservation.channel, payment_status=cmd.payment_status,
                     external_ref=cmd.external_ref or reservation.external_ref,
                     actor=ctx.actor, occurred_at=ctx.now, now=ctx.now)
    await uow.sales.add(sale)
    reservation.sale_id = sale.id
    await _store(uow, reservation, ReservationStatus.COMMITTED, "commit", ctx)
    # The levels last: their rows are the hot ones, locked from here until the commit.
    moved = await take_held(uow, reservation.location_id, reservation.quantities(), ctx)
    await append_records(uow, [record_change(m, ctx, type=MovementType.SALE, reason="sale",
                                             reference=sale.id, occurred_at=sale.occurred_at)
                               for m in moved],
                         SaleRecorded(occurred_at=ctx.now, sale=sale),
                         ReservationCommitted(occurred_at=ctx.now, reservation=reservation))
    return sale


async def _priced_lines(uow: UnitOfWork,
                        reservation: Reservation) -> tuple[tuple[SaleLine, ...], str]:
    prices: dict[str, Money | None] = {}
    lines = []
    for line in reservation.lines:
        price = line.unit_price
        if price is None:
            if line.sku not in prices:
                product = await uow.products.get(line.sku)
                prices[line.sku] = product.price if product else None
            price = prices[line.sku]
        if price is None:
            raise InvalidInput("lines", f"'{line.sku}' has no unit price: the reservation "
                               "line gives none and the product has no price")
        lines.append(SaleLine(sku=line.sku, quantity=line.quantity, unit_price=price))
    currencies = {line.unit_price.currency for line in lines}
    if len(currencies) > 1:
        raise InvalidInput("lines", "all lines of a sale must use one currency "
                           f"(the prices give {', '.join(sorted(currencies))})")
    if sum(line.total.units for line in lines) >= _MAX_TOTAL_UNITS:
        raise InvalidInput("lines", "the sale's total is too large")
    return tuple(lines), currencies.pop()


async def release_reservation(uow: UnitOfWork, cmd: ReleaseReservation,
                              ctx: Context) -> Reservation:
    """Give an active hold's units back to ``available`` before its time is up.

    Committed, released, expired or past ``expires_at``: InvalidState, nothing changes.
    """
    reservation = await _locked(uow, cmd.reservation_id, "release", ctx)
    await _release(uow, reservation, ctx)
    return reservation


async def release_for_count(uow: UnitOfWork, holds: list[Reservation], sku: str,
                            excess: int, ctx: Context) -> list[Reservation]:
    """Release ``holds`` (active, locked, newest first) until ``excess`` units of ``sku``
    are no longer reserved: a count found less on hand than they hold, and the count is
    the truth. Each ends ``released`` with reason ``stock_count``, as a release does
    (its units back out of ``reserved``, its events), in the count's transaction.
    """
    released: list[Reservation] = []
    for reservation in holds:
        if excess <= 0:
            break
        RESERVATIONS.check(reservation.id, reservation.status, "release")
        reservation.reason = "stock_count"
        await _release(uow, reservation, ctx, cause="stock_count")
        excess -= reservation.quantities().get(sku, 0)
        released.append(reservation)
    if excess > 0:  # reserved is the sum of live holds: these are all of them
        raise RuntimeError(f"the holds on {sku} reserve {excess} units less than its level")
    return released


async def _release(uow: UnitOfWork, reservation: Reservation, ctx: Context, *,
                   cause: str = "release") -> None:
    """The release transition of a locked, active hold: stored, unreserved, announced."""
    await _store(uow, reservation, ReservationStatus.RELEASED, "release", ctx)
    events = await _unreserve(uow, reservation, ctx, cause=cause)
    await uow.outbox.append([*events, ReservationReleased(occurred_at=ctx.now,
                                                          reservation=reservation)])


async def expire_reservation(uow: UnitOfWork, cmd: ExpireReservation,
                             ctx: Context) -> Reservation:
    """End an active hold whose time is up; its units go back to ``available``.

    The sweeper's transition, conditional on the hold being active and past
    ``expires_at`` when its row is locked: otherwise (committed or released meanwhile,
    expired by another sweeper, or not yet due) InvalidState, and nothing changes.
    """
    reservation = await _locked(uow, cmd.reservation_id, "expire", ctx)
    await _store(uow, reservation, ReservationStatus.EXPIRED, "expire", ctx)
    events = await _unreserve(uow, reservation, ctx, cause="expiry")
    await uow.outbox.append([*events, ReservationExpired(occurred_at=ctx.now,
                                                         reservation=reservation)])
    return reservation


async def _locked(uow: UnitOfWork, reservation_id: str, action: str,
                  ctx: Context) -> Reservation:
    """The hold, locked for this transaction, if ``action`` may happen to it now (and
    the caller may change holds at its location)."""
    reservation = await uow.reservations.get(reservation_id, for_update=True)
    if reservation is None:
        raise NotFound("reservation", reservation_id)
    ctx.require_of(Permission.RESERVATIONS_WRITE, "reservation", reservation.location_id)
    RESERVATIONS.check(reservation_id, reservation.status, action)
    due = ctx.now >= reservation.expires_at
    if action == "expire" and not due:
        raise InvalidState("reservation", reservation_id, reservation.status, action)
    if action != "expire" and due:  # its time is up: the sweeper is about to expire it
        raise InvalidState("reservation", reservation_id, ReservationStatus.EXPIRED, action)
    return reservation


async def _unreserve(uow: UnitOfWork, reservation: Reservation, ctx: Context, *,
                     cause: str) -> list[Event]:
    """Lower ``reserved`` by the hold's units, in SKU order (as they were raised)."""
    quantities = reservation.quantities()
    events: list[Event] = []
    for sku in sorted(quantities):
        quantity = quantities[sku]
        level = await uow.levels.change(reservation.location_id, sku, now=ctx.now,
                                        reserved=-quantity)
        if level is None:  # reserved is the sum of live holds: this one is part of it
            raise RuntimeError(f"level {reservation.location_id}/{sku} reserves less than "
                               f"the {quantity} units of live hold {reservation.id}")
        events += level_events(level, level.available - quantity, ctx, cause=cause,
                               reference=reservation.id)
    return events


async def _store(uow: UnitOfWork, reservation: Reservation, status: ReservationStatus,
                 action: str, ctx: Context) -> None:
    reservation.status, reservation.updated_at = status, ctx.now
    if not await uow.reservations.update(reservation):  # the row lock makes this a backstop
        raise InvalidState("reservation", reservation.id, "not active", action)


# -- the sweeper --------------------------------------------------------------------------

async def _due(uow: UnitOfWork, limit: int, ctx: Context) -> list[str]:
    return await uow.reservations.expired(ctx.now, limit)


async def sweep_expired(executor: Executor, *, batch: int = 100,
                        caller: Caller = SWEEPER) -> int:
    """Expire every active hold past its time, each in its own transaction; how many.

    Safe in several processes at once: a hold that another sweeper or a commit got to
    first fails its conditional transition and is skipped, so its units leave
    ``reserved`` exactly once. A hold that fails for another reason does not stop the
    others; the first such error is raised once the pass is over.
    """
    expired = 0
    failure: Exception | None = None
    while True:
        due = await executor.run(_due, batch, caller)
        expired_now = 0
        for reservation_id in due:
            try:
                await executor.run(expire_reservation,
                                   ExpireReservation(reservation_id=reservation_id), caller)
                expired_now += 1
            except (InvalidState, NotFound):
                pass  # committed, released or expired by someone else meanwhile
            except Exception as exc:  # kept, and raised once the others are done
                failure = failure or exc
        expired += expired_now
        # A full batch may mean more are due; one that expired nothing means others
        # (another sweeper, or a failure) have these holds: the next pass will see.
        if len(due) < batch or expired_now == 0:
            break
    if failure is not None:
        raise failure
    return expired
