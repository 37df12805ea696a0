"""Value types and the vocabularies the API speaks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum

# 1-64 of A-Z a-z 0-9 - _ . but not "." or "..", which a path or URL resolver reads as
# "this" or "parent" segments. Written without look-ahead so that every regex engine the
# pattern reaches (Python, pydantic-core, a client's JSON Schema validator) takes it.
CODE_MAX_LENGTH = 64
CODE_PATTERN = (r"^([A-Za-z0-9_-][A-Za-z0-9._-]{0,63}|\.[A-Za-z0-9_-][A-Za-z0-9._-]{0,62}"
                r"|\.\.[A-Za-z0-9._-]{1,62})$")
_CODE_RE = re.compile(CODE_PATTERN)
_CURRENCY_RE = re.compile(r"^[A-Z]{3}$")

# Amounts are kept as integers of 1/10,000 of the currency unit: exact on every database.
AMOUNT_SCALE = 10_000
MAX_AMOUNT = Decimal("1000000000000")  # one trillion per amount is past any retail sale
MAX_QUANTITY = 1_000_000_000


def is_code(value: str) -> bool:
    """A client-chosen identifier: 1-64 chars of A-Z a-z 0-9 - _ . other than "." and ".."."""
    return bool(_CODE_RE.fullmatch(value))


class LocationType(StrEnum):
    WAREHOUSE = "warehouse"
    RETAIL = "retail"


class LocationStatus(StrEnum):
    """A closed location keeps its history but takes no new sale, receipt or inbound
    transfer; it may still be counted, adjusted and emptied by transfer."""

    ACTIVE = "active"
    CLOSED = "closed"


class ProductStatus(StrEnum):
    """A discontinued product is no longer bought in (no receipt, no purchase order, no
    replenishment) but sells until its stock is gone."""

    ACTIVE = "active"
    DISCONTINUED = "discontinued"


class SupplierStatus(StrEnum):
    """A closed supplier takes no new purchase order and is no source of replenishment."""

    ACTIVE = "active"
    CLOSED = "closed"


class Reason(StrEnum):
    """Why a level changed through ``POST /v1/inventory/update``."""

    RECEIPT = "receipt"
    ADJUSTMENT = "adjustment"
    COUNT = "count"
    DAMAGE = "damage"
    LOSS = "loss"
    FOUND = "found"
    RETURN = "return"


INCREASING_REASONS = frozenset({Reason.RECEIPT, Reason.FOUND, Reason.RETURN})
DECREASING_REASONS = frozenset({Reason.DAMAGE, Reason.LOSS})


class MovementType(StrEnum):
    """The kind of a ledger entry; every change of ``on_hand`` has one."""

    RECEIPT = "receipt"
    ADJUSTMENT = "adjustment"
    COUNT = "count"
    DAMAGE = "damage"
    LOSS = "loss"
    FOUND = "found"
    RETURN = "return"
    SALE = "sale"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    TRANSFER_CANCEL = "transfer_cancel"  # back to the origin (a cancel, or a close: return)
    # Written off in transit by a close (remainder lost): ``delta`` 0 at the destination,
    # whose ``in_transit`` falls; the units left the origin's on_hand when shipped.
    TRANSFER_LOST = "transfer_lost"


class Channel(StrEnum):
    POS = "pos"
    ECOMMERCE = "ecommerce"
    MARKETPLACE = "marketplace"


class SalesGroup(StrEnum):
    """What the sales report sums by: a period of the location's calendar, or an attribute
    of the sale (its location, the location's region, its channel, a line's SKU or the
    SKU's category)."""

    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    LOCATION = "location"
    REGION = "region"
    CHANNEL = "channel"
    SKU = "sku"
    CATEGORY = "category"


PERIODS = (SalesGroup.HOUR, SalesGroup.DAY, SalesGroup.WEEK, SalesGroup.MONTH)


class PaymentStatus(StrEnum):
    PENDING = "pending"
    AUTHORIZED = "authorized"
    PAID = "paid"
    REFUNDED = "refunded"
    FAILED = "failed"


class OpeningPaymentStatus(StrEnum):
    """The payment states a sale may be recorded in; the others follow a payment's outcome."""

    PENDING = "pending"
    AUTHORIZED = "authorized"
    PAID = "paid"


class FulfillmentStatus(StrEnum):
    UNFULFILLED = "unfulfilled"
    FULFILLED = "fulfilled"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class SaleStatus(StrEnum):
    COMPLETED = "completed"
    PARTIALLY_RETURNED = "partially_returned"
    RETURNED = "returned"


class ReturnReason(StrEnum):
    DAMAGED = "damaged"
    DEFECTIVE = "defective"
    WRONG_ITEM = "wrong_item"
    WRONG_SIZE = "wrong_size"
    NOT_AS_DESCRIBED = "not_as_described"
    CHANGED_MIND = "changed_mind"
    OTHER = "other"


# The unlabelled stock of a level that also holds named lots (clients' lot codes are never empty).
UNLABELLED_LOT = ""


@dataclass(frozen=True, slots=True)
class Money:
    """A non-negative decimal amount in an ISO 4217 currency."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not _CURRENCY_RE.fullmatch(self.currency):
            raise ValueError("currency must be three upper-case letters (ISO 4217)")
        if not self.amount.is_finite() or self.amount < 0 or self.amount >= MAX_AMOUNT:
            raise ValueError("amount must be a non-negative number below one trillion")
        if self.amount != self.amount.quantize(Decimal("0.0001")):
            raise ValueError("amount has more than 4 decimal places")
        if self.amount.is_signed():  # Decimal('-0'): zero, but it would print as '-0.00'
            object.__setattr__(self, "amount", abs(self.amount))

    @classmethod
    def parse(cls, amount: str, currency: str) -> Money:
        try:
            value = Decimal(amount)
        except InvalidOperation as exc:
            raise ValueError("amount must be a decimal string such as '89.99'") from exc
        return cls(value, currency)

    @classmethod
    def from_units(cls, units: int, currency: str) -> Money:
        return cls(Decimal(units) / AMOUNT_SCALE, currency)

    @property
    def units(self) -> int:
        """The amount in 1/10,000 of the currency unit, as stored."""
        return int(self.amount * AMOUNT_SCALE)

    def format(self) -> str:
        """Two decimals when that is exact ('89.90'), up to four otherwise."""
        return amount_text(self.units)

    def times(self, quantity: int) -> Money:
        return Money(self.amount * quantity, self.currency)


def amount_text(units: int) -> str:
    """An amount in 1/10,000 of the currency unit as text, as ``Money.format`` writes it:
    two decimals when that is exact, up to four otherwise; a sum of any size or sign (a
    report's total, a net of returns) too."""
    value = Decimal(units) / AMOUNT_SCALE
    cents = value.quantize(Decimal("0.01"))
    if cents == value:
        return f"{cents:f}"
    return f"{value.normalize():f}"
