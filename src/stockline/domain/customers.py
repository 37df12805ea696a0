"""Customers: an optional reference (and contact) a sale may carry, kept apart from it.

A customer is known by a reference the retailer chooses (a loyalty card number, a shop
account id, an e-mail address) and may have a contact line. Both live only in the
customers table and the sale's ``customer_ref`` column: never in a sale's answer, an
event, a webhook, the ledger, the audit trail or a log line. Erasing a customer replaces
its reference everywhere with a random pseudonym, drops its contact and unlinks the
idempotency records of requests that named it; sales, their totals and the ledger stay
exactly as they were.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from stockline.domain.errors import InvalidInput
from stockline.domain.ids import new_id

REF_PATTERN = r"^[A-Za-z0-9._@+-]{1,100}$"
CONTACT_MAX_LENGTH = 500
PSEUDONYM_PREFIX = "erased"
_REF_RE = re.compile(REF_PATTERN)


def check_ref(ref: str) -> str:
    """A usable reference: 1-100 of A-Z a-z 0-9 . _ @ + -, not a pseudonym's shape."""
    if not _REF_RE.fullmatch(ref):
        raise InvalidInput("customer.ref", "1-100 characters of A-Z a-z 0-9 . _ @ + -")
    if ref.startswith(f"{PSEUDONYM_PREFIX}_"):
        raise InvalidInput("customer.ref", f"'{PSEUDONYM_PREFIX}_' starts the pseudonyms of "
                                           "erased customers only")
    return ref


def new_pseudonym() -> str:
    """A reference that says nothing about the customer it replaces (random, not a hash:
    it cannot be recomputed from the old reference)."""
    return new_id(PSEUDONYM_PREFIX)


@dataclass(frozen=True, slots=True, kw_only=True)
class CustomerDetails:
    """What a sale may say of its customer."""

    ref: str
    contact: str | None = None

    def __post_init__(self) -> None:
        check_ref(self.ref)
        if self.contact is not None and (len(self.contact) > CONTACT_MAX_LENGTH
                                         or "\x00" in self.contact):
            raise InvalidInput("customer.contact",
                               f"at most {CONTACT_MAX_LENGTH} characters, no NUL")


@dataclass(frozen=True, slots=True, kw_only=True)
class EraseCustomer:
    ref: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Customer:
    ref: str
    contact: str | None
    sales: int
    last_sale_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True, kw_only=True)
class Erasure:
    """What an erasure did: how many sales now carry the pseudonym instead of the ref, and
    how many idempotency records of requests naming it were unlinked. Never answered to
    the caller: the answer must not tell whether the reference was known."""

    sales: int
    records: int
    erased_at: datetime
