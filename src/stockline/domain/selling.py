"""Whether a sale fits, and the Sale it makes: the one rule every way of selling keeps.

A single sale, a group commit of many, and a hold turned into a sale all decide here, on
the levels their storage adapter has locked (and the location's status read with them):
the SQL that locks and writes differs per backend, the rule does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime

from stockline.domain.errors import InsufficientStock, ShortLine
from stockline.domain.ids import new_id
from stockline.domain.model import Level, Sale, SaleLine
from stockline.domain.rules import check_open
from stockline.domain.states import opening_fulfillment
from stockline.domain.values import Channel, LocationStatus, PaymentStatus


def take_for_sale(location_id: str, status: LocationStatus, wanted: Mapping[str, int],
                  levels: Mapping[str, Level | None], now: datetime) -> list[tuple[Level, int]]:
    """The levels after the sale takes ``wanted`` (SKU: units) from ``levels`` (SKU: the
    locked level, None for a SKU never stocked here), in SKU order.

    A closed location sells nothing (LocationClosed, whatever the stock). Every line needs
    that many units available (``on_hand - reserved``): otherwise InsufficientStock names
    every short line, and nothing is taken. Never more than is available: no oversell.
    """
    check_open(location_id, status)
    short = []
    for sku in sorted(wanted):
        level = levels.get(sku)
        available = level.available if level is not None else 0
        if available < wanted[sku]:
            short.append(ShortLine(sku, wanted[sku], available))
    if short:
        raise InsufficientStock(location_id, tuple(short))
    taken = []
    for sku in sorted(wanted):
        level = levels[sku]
        assert level is not None  # a missing level has nothing available
        taken.append((replace(level, on_hand=level.on_hand - wanted[sku],
                              version=level.version + 1, updated_at=now), wanted[sku]))
    return taken


def open_sale(*, location_id: str, lines: tuple[SaleLine, ...], currency: str,
              channel: Channel, payment_status: PaymentStatus, external_ref: str | None,
              actor: str, occurred_at: datetime, now: datetime,
              sale_id: str | None = None) -> Sale:
    """A new sale (``sale_id``: one chosen before it, else a new one), with the fulfillment
    its channel opens with."""
    return Sale(id=sale_id or new_id("sale"), location_id=location_id, currency=currency,
                lines=lines,
                channel=channel, payment_status=payment_status,
                fulfillment_status=opening_fulfillment(channel), external_ref=external_ref,
                actor=actor, occurred_at=occurred_at, created_at=now)
