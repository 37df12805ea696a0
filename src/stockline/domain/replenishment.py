"""Replenishment: which levels need stock, how much, and where it should come from.

Pure rules over plain data (levels as they are, supplier offers); the read side gathers
the data and these functions decide. What is not replenished at all is left out by the
read side before the rules see it: levels of discontinued products (no longer bought in),
levels of closed locations (they take no stock), and offers of closed suppliers.

How much (``order_quantity``)
    A level is *low* when ``available <= reorder_point`` (the same test as
    ``GET /v1/inventory?below_reorder_point=true`` and the ``inventory.low_stock`` event):
    the reorder point says *when* to order. Its *position* is ``available + on_order``,
    where ``on_order = in_transit + incoming`` (stock already on its way by transfer or
    purchase order). A low level is ordered up to the larger of two targets: strictly
    above its reorder point and safety stock, and enough to sell at its pace (its
    ``daily_velocity``, ``domain.cover``) until the order arrives and for
    ``cover_days`` (a setting) after, on top of the safety stock::

        horizon   = lead_time_days + cover_days
        target    = max(reorder_point + safety_stock + 1,
                        safety_stock + ceil(daily_velocity * horizon))
        shortfall = target - (available + on_order)

    ``lead_time_days`` is that of the SKU's best supplier offer (below), 0 when there is
    none. A level that sells nothing is ordered to the first target alone, as before
    sales were counted. A level whose shortfall is 0 or less is *covered* by what is on
    order and gets no suggestion. With a ``reorder_quantity`` (the pack or lot size to
    buy in), the quantity is the smallest multiple of it that covers the shortfall (an
    (s, nQ) policy: one reorder quantity when that suffices, more when stock has fallen
    far below the reorder point); without one it is the shortfall itself. A missing
    safety stock counts as 0.

Where from (``choose_source``)
    A location's *surplus* of a SKU is ``available - reorder_point - safety_stock``
    (missing settings count as 0): what it can give without falling to its own reorder
    point. The other locations with a surplus are *ranked* nearest first: those of the
    level's own region before the others, then by distance (great-circle, when both
    locations have coordinates; a location without them comes after those with), then
    the most surplus, then the smaller code. Then, in this order:

    1. a transfer from the first ranked location whose surplus covers the whole quantity;
    2. else the cheapest supplier of the SKU whose lead time is known (ties: the shorter
       lead time, then the supplier code). Stockline keeps no exchange rates: costs are
       compared by their amount, so a SKU's offers should share a currency;
    3. else a partial transfer from the first ranked location; the suggestion still asks
       for the whole quantity and ``source.surplus`` says how much of it that location
       can give;
    4. else no source (``None``).

    Each level is judged on its own: one location's surplus may be suggested to several
    levels that lack the SKU.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from stockline.domain.cover import units_over
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Place:
    """Where a location is: its region, and its coordinates when known."""

    region: str | None = None
    latitude: float | None = None
    longitude: float | None = None


NOWHERE = Place()
EARTH_RADIUS_KM = 6371.0


def distance_km(a: Place, b: Place) -> float | None:
    """The great-circle (haversine) distance; None unless both places have coordinates."""
    if a.latitude is None or a.longitude is None or b.latitude is None or b.longitude is None:
        return None
    phi1, phi2 = math.radians(a.latitude), math.radians(b.latitude)
    dphi, dlam = phi2 - phi1, math.radians(b.longitude - a.longitude)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlam / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def on_order(level: Level) -> int:
    """Stock already on its way to the level: in transit by transfer, or on purchase orders."""
    return level.in_transit + level.incoming


def surplus(level: Level) -> int:
    """What a location can spare of a SKU without falling to its own reorder point."""
    return level.available - (level.reorder_point or 0) - (level.safety_stock or 0)


def order_quantity(level: Level, daily_velocity: float = 0.0, horizon_days: int = 0) -> int:
    """Units to bring in for a low level; 0 when it is not low or is covered by what is on
    order (see the module's docstring for the rule)."""
    if level.reorder_point is None or level.available > level.reorder_point:
        return 0
    safety = level.safety_stock or 0
    target = max(level.reorder_point + safety + 1,
                 safety + units_over(daily_velocity, horizon_days))
    shortfall = target - (level.available + on_order(level))
    if shortfall <= 0:
        return 0
    pack = level.reorder_quantity or 0
    if pack > 0:
        return -(-shortfall // pack) * pack  # the smallest multiple of the pack that covers it
    return shortfall


def ranked_donors(level: Level, stocks: Iterable[Level],
                  places: Mapping[str, Place] | None = None) -> list[Level]:
    """The other locations with a surplus of the level's SKU, nearest first: same region,
    then distance (known before unknown), then the most surplus, then the code."""
    here = (places or {}).get(level.location_id, NOWHERE)

    def rank(donor: Level) -> tuple[bool, bool, float, int, str]:
        there = (places or {}).get(donor.location_id, NOWHERE)
        km = distance_km(here, there)
        return (here.region is None or there.region != here.region, km is None, km or 0.0,
                -surplus(donor), donor.location_id)

    return sorted((s for s in stocks if s.sku == level.sku
                   and s.location_id != level.location_id and surplus(s) > 0), key=rank)


def best_donor(level: Level, stocks: Iterable[Level],
               places: Mapping[str, Place] | None = None) -> Level | None:
    """The first ranked donor (``ranked_donors``), if any."""
    ranked = ranked_donors(level, stocks, places)
    return ranked[0] if ranked else None


def best_offer(sku: str, offers: Iterable[Offer]) -> Offer | None:
    """The cheapest offer of the SKU with a known lead time (ties: shorter lead time, then
    the supplier code)."""
    known = [o for o in offers if o.sku == sku and o.lead_time_days is not None]
    if not known:
        return None
    return min(known, key=lambda o: (o.cost.amount, o.lead_time_days, o.supplier_id))


def choose_source(level: Level, quantity: int, stocks: Iterable[Level],
                  offers: Iterable[Offer],
                  places: Mapping[str, Place] | None = None) -> SuggestionSource | None:
    """Where ``quantity`` units for ``level`` should come from (see the module's docstring)."""
    ranked = ranked_donors(level, stocks, places)
    whole = next((d for d in ranked if surplus(d) >= quantity), None)
    if whole is not None:
        return _transfer(whole)
    offer = best_offer(level.sku, offers)
    if offer is not None:
        return SuggestionSource(type=SUPPLIER, id=offer.supplier_id, unit_cost=offer.cost,
                                lead_time_days=offer.lead_time_days)
    return _transfer(ranked[0]) if ranked else None


def _transfer(donor: Level) -> SuggestionSource:
    return SuggestionSource(type=TRANSFER, id=donor.location_id, surplus=surplus(donor))


def suggest(level: Level, stocks: Iterable[Level], offers: Iterable[Offer], *,
            daily_velocity: float = 0.0, cover_days: int = 0,
            places: Mapping[str, Place] | None = None) -> Suggestion | None:
    """The suggestion for one level, or None when it is not low or already covered.

    ``stocks`` are levels of the same SKU elsewhere (other SKUs and the level itself are
    ignored); ``offers`` are the suppliers' offers (other SKUs are ignored); ``places``
    say where locations are (a location missing from it is nowhere in particular).
    """
    offers = list(offers)
    best = best_offer(level.sku, offers)
    lead = (best.lead_time_days or 0) if best is not None else 0
    quantity = order_quantity(level, daily_velocity, lead + cover_days)
    if quantity <= 0:
        return None
    assert level.reorder_point is not None  # a level with an order quantity is low
    return Suggestion(location_id=level.location_id, sku=level.sku, available=level.available,
                      reorder_point=level.reorder_point,
                      reorder_quantity=level.reorder_quantity,
                      safety_stock=level.safety_stock, on_order=on_order(level),
                      quantity=quantity, daily_velocity=daily_velocity,
                      source=choose_source(level, quantity, stocks, offers, places))
