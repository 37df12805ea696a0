"""Replenishment: which levels need stock, how much, and where it should come from.

Pure rules over plain data (levels as they are, supplier offers); the read side gathers
the data and these functions decide.

How much (``order_quantity``)
    A level is *low* when ``available <= reorder_point`` (the same test as
    ``GET /v1/inventory?below_reorder_point=true`` and the ``inventory.low_stock`` event).
    Its *position* is ``available + on_order``, where ``on_order = in_transit + incoming``
    (stock already on its way by transfer or purchase order). A low level needs the
    *shortfall* that lifts its position strictly above ``reorder_point + safety_stock``::

        shortfall = reorder_point + safety_stock + 1 - (available + on_order)

    A level whose shortfall is 0 or less is *covered* by what is on order and gets no
    suggestion. With a ``reorder_quantity`` (the pack or lot size to buy in), the quantity
    is the smallest multiple of it that covers the shortfall (an (s, nQ) policy: one
    reorder quantity when that suffices, more when stock has fallen far below the reorder
    point); without one it is the shortfall itself. A missing safety stock counts as 0.

Where from (``choose_source``)
    A location's *surplus* of a SKU is ``available - reorder_point - safety_stock``
    (missing settings count as 0): what it can give without falling to its own reorder
    point. Then, in this order:

    1. a transfer from the other location with the most surplus, if that surplus covers
       the whole quantity;
    2. else the cheapest supplier of the SKU whose lead time is known (ties: the shorter
       lead time, then the supplier code). Stockline keeps no exchange rates: costs are
       compared by their amount, so a SKU's offers should share a currency;
    3. else a partial transfer from the location with the most (positive) surplus; the
       suggestion still asks for the whole quantity and ``source.surplus`` says how much
       of it that location can give;
    4. else no source (``None``).

    Ties between locations go to the smaller location code. Each level is judged on its
    own: one location's surplus may be suggested to several levels that lack the SKU.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from stockline.domain.documents import Suggestion, SuggestionSource
from stockline.domain.model import Level
from stockline.domain.values import Money

SUPPLIER = "supplier"
TRANSFER = "transfer"


@dataclass(frozen=True, slots=True, kw_only=True)
class Offer:
    """What one supplier asks for one SKU, and how long it takes to deliver (if known)."""

    supplier_id: str
    sku: str
    cost: Money
    lead_time_days: int | None


def on_order(level: Level) -> int:
    """Stock already on its way to the level: in transit by transfer, or on purchase orders."""
    return level.in_transit + level.incoming


def surplus(level: Level) -> int:
    """What a location can spare of a SKU without falling to its own reorder point."""
    return level.available - (level.reorder_point or 0) - (level.safety_stock or 0)


def order_quantity(level: Level) -> int:
    """Units to bring in for a low level; 0 when it is not low or is covered by what is on
    order (see the module's docstring for the rule)."""
    if level.reorder_point is None or level.available > level.reorder_point:
        return 0
    target = level.reorder_point + (level.safety_stock or 0) + 1
    shortfall = target - (level.available + on_order(level))
    if shortfall <= 0:
        return 0
    pack = level.reorder_quantity or 0
    if pack > 0:
        return -(-shortfall // pack) * pack  # the smallest multiple of the pack that covers it
    return shortfall


def best_donor(level: Level, stocks: Iterable[Level]) -> Level | None:
    """The other location with the most positive surplus of the level's SKU (ties: the
    smaller location code)."""
    donors = [s for s in stocks if s.sku == level.sku and s.location_id != level.location_id
              and surplus(s) > 0]
    if not donors:
        return None
    return min(donors, key=lambda s: (-surplus(s), s.location_id))


def best_offer(sku: str, offers: Iterable[Offer]) -> Offer | None:
    """The cheapest offer of the SKU with a known lead time (ties: shorter lead time, then
    the supplier code)."""
    known = [o for o in offers if o.sku == sku and o.lead_time_days is not None]
    if not known:
        return None
    return min(known, key=lambda o: (o.cost.amount, o.lead_time_days, o.supplier_id))


def choose_source(level: Level, quantity: int, stocks: Iterable[Level],
                  offers: Iterable[Offer]) -> SuggestionSource | None:
    """Where ``quantity`` units for ``level`` should come from (see the module's docstring)."""
    donor = best_donor(level, stocks)
    if donor is not None and surplus(donor) >= quantity:
        return _transfer(donor)
    offer = best_offer(level.sku, offers)
    if offer is not None:
        return SuggestionSource(type=SUPPLIER, id=offer.supplier_id, unit_cost=offer.cost,
                                lead_time_days=offer.lead_time_days)
    return _transfer(donor) if donor is not None else None


def _transfer(donor: Level) -> SuggestionSource:
    return SuggestionSource(type=TRANSFER, id=donor.location_id, surplus=surplus(donor))


def suggest(level: Level, stocks: Iterable[Level], offers: Iterable[Offer]) -> Suggestion | None:
    """The suggestion for one level, or None when it is not low or already covered.

    ``stocks`` are levels of the same SKU elsewhere (other SKUs and the level itself are
    ignored); ``offers`` are the suppliers' offers (other SKUs are ignored).
    """
    quantity = order_quantity(level)
    if quantity <= 0:
        return None
    assert level.reorder_point is not None  # a level with an order quantity is low
    return Suggestion(location_id=level.location_id, sku=level.sku, available=level.available,
                      reorder_point=level.reorder_point,
                      reorder_quantity=level.reorder_quantity,
                      safety_stock=level.safety_stock, on_order=on_order(level),
                      quantity=quantity, source=choose_source(level, quantity, stocks, offers))
