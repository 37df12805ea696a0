"""What the use cases need from storage. Adapters implement these; tests fake them."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol

from stockline.domain.customers import CustomerDetails
from stockline.domain.documents import PurchaseOrder, Reservation, Supplier, Transfer
from stockline.domain.events import Event
from stockline.domain.keys import ApiKey
from stockline.domain.model import LedgerEntry, Level, Location, Product, Sale, SaleReturn
from stockline.domain.values import ProductStatus
from stockline.domain.webhooks import Delivery, Webhook
from stockline.services.counting_ports import CountingRepository
from stockline.services.imports.ports import ImportRepository
from stockline.services.ports_stock import LevelRepository, LotRepository


class ProductRepository(Protocol):
    async def get(self, sku: str, *, for_update: bool = False) -> Product | None: ...
    async def add(self, product: Product) -> bool:
        """Insert; False when the SKU exists already."""
        ...
    async def update(self, product: Product) -> None: ...
    async def exists(self, sku: str) -> bool: ...
    async def existing(self, skus: Sequence[str]) -> set[str]:
        """Which of these SKUs exist."""
        ...
    async def statuses(self, skus: Sequence[str]) -> dict[str, ProductStatus]:
        """The status of each of these SKUs that exists."""
        ...


class LocationRepository(Protocol):
    async def get(self, code: str, *, for_update: bool = False) -> Location | None: ...
    async def update(self, location: Location) -> None:
        """Write every field but its code, type and creation time."""
        ...
    async def on_hand_units(self, code: str) -> int:
        """The sum of ``on_hand`` over the location's levels."""
        ...
    async def add(self, location: Location) -> bool:
        """Insert; False when the code exists already (as a warehouse or a store)."""
        ...
    async def exists(self, code: str) -> bool: ...


class LedgerRepository(Protocol):
    async def append(self, entries: Sequence[LedgerEntry]) -> None: ...


class SaleRepository(Protocol):
    async def add(self, sale: Sale, *, customer_ref: str | None = None) -> None:
        """The sale and its lines; ``customer_ref`` goes only to the sale's row."""
        ...

    async def add_many(self, made: Sequence[tuple[Sale, str | None]]) -> None:
        """Several sales at once, each with its customer reference (or None)."""
        ...

    async def record_batch(self, levels: Sequence[Level], made: Sequence[tuple[Sale, str | None]],
                           entries: Sequence[LedgerEntry], events: Sequence[Event]) -> None:
        """A batch's whole write: the new stock of levels locked with ``lock_many``, the
        sales with their customer references, the ledger entries and the events."""
        ...

    async def get(self, sale_id: str, *, for_update: bool = False) -> Sale | None:
        """The sale with its lines and returns; ``for_update`` serialises returns of it."""
        ...

    async def add_return(self, sale_return: SaleReturn, status: str) -> None:
        """Record a return and the sale's new status."""
        ...

    async def set_statuses(self, *, before: Sale, after: Sale) -> bool:
        """``after``'s payment and fulfillment, if the sale is still in ``before``'s."""
        ...


class TransferRepository(Protocol):
    async def add(self, transfer: Transfer) -> None: ...

    async def get(self, transfer_id: str, *, for_update: bool = False) -> Transfer | None:
        """The transfer with its lines and their lots; ``for_update`` locks it."""
        ...

    async def update(self, transfer: Transfer) -> None:
        """Store status, timestamps and the received/cancelled quantities of lines and lots."""
        ...


class ReservationRepository(Protocol):
    async def add(self, reservation: Reservation) -> None: ...

    async def get(self, reservation_id: str, *,
                  for_update: bool = False) -> Reservation | None: ...

    async def update(self, reservation: Reservation) -> bool:
        """Store status, sale id and updated_at of a hold that is still active.

        Every transition leaves 'active', so the write is conditional on the stored
        status: False (and nothing stored) when another transaction moved it first.
        """
        ...

    async def holding(self, location_id: str, sku: str) -> list[Reservation]:
        """The active holds at the location with a line of ``sku``, newest first, each
        locked for this transaction."""
        ...

    async def expired(self, now: datetime, limit: int) -> list[str]:
        """Ids of active holds past their expiry, oldest first (for the sweeper).

        Holds another transaction has locked right now (being committed, released or
        expired) are skipped, so several sweepers can run at once.
        """
        ...


class SupplierRepository(Protocol):
    async def add(self, supplier: Supplier) -> bool:
        """Insert with its products; False when the code exists already."""
        ...

    async def get(self, code: str, *, for_update: bool = False) -> Supplier | None: ...

    async def update(self, supplier: Supplier) -> None:
        """Write its name, contact, lead time, status and ``updated_at`` (not its products)."""
        ...


class PurchaseOrderRepository(Protocol):
    async def add(self, order: PurchaseOrder) -> None: ...

    async def get(self, order_id: str, *, for_update: bool = False) -> PurchaseOrder | None: ...

    async def update(self, order: PurchaseOrder) -> None:
        """Store status, timestamps and received quantities."""
        ...


class WebhookRepository(Protocol):
    async def add(self, webhook: Webhook) -> None: ...

    async def get(self, webhook_id: str, *, for_update: bool = False) -> Webhook | None:
        """The subscription, deleted ones included; ``for_update`` locks it."""
        ...

    async def update(self, webhook: Webhook) -> None:
        """Store status, paused reason and updated_at."""
        ...

    async def schedule_pending(self, webhook_id: str, at: datetime | None) -> int:
        """Set when the undelivered deliveries are due: ``at`` on resume, None on pause
        (a paused subscription's deliveries wait, due at no time). The count set."""
        ...

    async def discard_pending(self, webhook_id: str) -> int:
        """Remove the undelivered deliveries (and their attempts) of a deleted
        subscription; delivered ones stay in the log. The count removed."""
        ...

    async def get_delivery(self, webhook_id: str, delivery_id: int) -> Delivery | None:
        """A delivery of this subscription (None for another subscription's)."""
        ...

    async def hold_retention(self) -> None:
        """Keep the event log's retention from pruning until this transaction ends, so an
        event found in the log stays there for a delivery made pending. Take it before
        locking a subscription (the relay takes the same two locks in that order)."""
        ...

    async def requeue(self, delivery_id: int, at: datetime) -> bool:
        """Make a delivery pending and due at ``at`` (delivered ones are sent again).

        False, and nothing changed, when its event is no longer in the event log:
        retention pruned it, so there is nothing left to send.
        """
        ...


class Destinations(Protocol):
    """Where requests that users aim (webhook deliveries) may go; not storage, but the
    network: resolving a name is I/O."""

    async def check(self, url: str) -> None:
        """Raise ``DestinationRefused`` when the URL's host is, or resolves to, an address
        that is not allowed; ``Unresolvable`` when it resolves to nothing now."""
        ...


class ApiKeyRepository(Protocol):
    async def add(self, key: ApiKey, secret_hash: str) -> None:
        """Insert a key with the hash of its secret (the secret itself is never stored)."""
        ...

    async def get(self, key_id: str, *, for_update: bool = False) -> ApiKey | None: ...

    async def revoke(self, key_id: str, at: datetime) -> None:
        """Set ``revoked_at`` unless the key is revoked already, and end the dashboard
        sessions it signed in (in the same transaction)."""
        ...


class Outbox(Protocol):
    async def append(self, events: Sequence[Event]) -> None: ...


# The outcome of a write that was applied (any other outcome is a refusal's code).
OK = "ok"


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """The answer to a write as it was first given, kept for idempotent replays, in no
    protocol's terms: ``outcome`` is OK or the refusal's code (domain.refusals), ``body``
    the result's JSON document (Operation.document) or the refusal's (services.answers).
    Each entrypoint renders it (REST: the route's status and the body, or problem+json)."""

    outcome: str
    body: bytes
    replayed: bool = False
    # What a replay answers instead of ``body``, when that must not be kept: a secret shown
    # once, or a refusal's long lists (a refusal costs its sender nothing to repeat).
    kept: bytes | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == OK

    @property
    def for_replay(self) -> bytes:
        """The body the idempotency record keeps."""
        return self.body if self.kept is None else self.kept


# The fingerprint of a record whose customer was erased: no request matches it again.
ERASED = "erased"


@dataclass(frozen=True, slots=True)
class IdempotencyClaim:
    """A key and the keyed digests of the request it is sent with (services.idempotency):
    ``fingerprint`` of the whole request; ``subject`` of the reference of the customer it
    names, if any, so that erasing the customer can find the record."""

    key: str
    fingerprint: str
    subject: str | None = None
    # Digests of the same request as earlier versions took it: a retry sent before an
    # upgrade and repeated after it still replays (kept no longer than the records are).
    also: tuple[str, ...] = ()

    def matches(self, fingerprint: str) -> bool:
        return fingerprint == self.fingerprint or fingerprint in self.also


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    fingerprint: str
    answer: StoredAnswer


class IdempotencyStore(Protocol):
    async def claim(self, principal: str, key: str, fingerprint: str, now: datetime, *,
                    subject: str | None = None) -> bool:
        """Insert the key; False when it exists. Blocks while another transaction holds it."""
        ...

    async def get(self, principal: str, key: str) -> IdempotencyRecord | None: ...

    async def complete(self, principal: str, key: str, response: StoredAnswer) -> None: ...

    async def claim_many(self, wanted: Sequence[tuple[str, IdempotencyClaim]],
                         now: datetime) -> set[tuple[str, str]]:
        """Claim (principal, claim) pairs; the (principal, key) pairs taken."""
        ...

    async def forget(self, subject: str) -> int:
        """Unlink every record of a request that named ``subject``: its fingerprint becomes
        ERASED (no retry matches it, whatever customer it names) and its answer and subject
        are dropped; how many records changed."""
        ...

    async def complete_many(self, answers: Sequence[tuple[str, str, StoredAnswer]]
                            ) -> None: ...


class CustomerRepository(Protocol):
    async def remember(self, details: CustomerDetails, now: datetime, *,
                       update_contact: bool) -> None:
        """Add the customer; with ``update_contact``, also replace an existing customer's
        contact when ``details`` has one."""
        ...

    async def erase(self, ref: str, pseudonym: str, now: datetime) -> int | None:
        """Replace ``ref`` by ``pseudonym`` on the customer and its sales and drop its
        contact; the number of sales changed, None when ``ref`` is unknown."""
        ...


class UnitOfWork(Protocol):
    """One database transaction. Only ``commit`` makes its changes visible."""

    @property
    def products(self) -> ProductRepository: ...
    @property
    def locations(self) -> LocationRepository: ...
    @property
    def levels(self) -> LevelRepository: ...
    @property
    def lots(self) -> LotRepository: ...
    @property
    def ledger(self) -> LedgerRepository: ...
    @property
    def sales(self) -> SaleRepository: ...
    @property
    def transfers(self) -> TransferRepository: ...
    @property
    def reservations(self) -> ReservationRepository: ...
    @property
    def suppliers(self) -> SupplierRepository: ...
    @property
    def purchase_orders(self) -> PurchaseOrderRepository: ...
    @property
    def webhooks(self) -> WebhookRepository: ...
    @property
    def api_keys(self) -> ApiKeyRepository: ...
    @property
    def customers(self) -> CustomerRepository: ...
    @property
    def outbox(self) -> Outbox: ...
    @property
    def idempotency(self) -> IdempotencyStore: ...
    @property
    def imports(self) -> ImportRepository: ...
    @property
    def counting(self) -> CountingRepository: ...

    async def __aenter__(self) -> UnitOfWork: ...
    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None: ...
    async def commit(self) -> None: ...
    async def rollback(self) -> None: ...
    def savepoint(self) -> AbstractAsyncContextManager[None]:
        """A nested transaction: rolled back alone if its block raises."""
        ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...
