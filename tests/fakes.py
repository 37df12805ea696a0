"""In-memory fakes of every port in ``stockline.services.ports``, for unit tests.

They keep the semantics the SQL adapters have, as far as the services can tell:

- One transaction at a time (like SQLite's ``BEGIN IMMEDIATE``): a unit of work holds
  the factory's lock from ``__aenter__`` to ``__aexit__``, works on a private copy of
  the committed store, and only ``commit`` makes that copy the committed store.
  Leaving the block without commit, or ``rollback``, discards the changes.
- ``savepoint()`` snapshots the transaction's store and restores it if its block raises.
- The guards and constraints of the schema: ``change`` only when the result keeps
  ``on_hand - reserved >= 0`` and reserved, in transit and incoming non-negative (and the
  version matches when one is given), lots never below 0, every change of a level bumps
  its version, ``create`` answers None for an existing level, levels and sales refer to
  existing locations and products, ``on_hand >= reserved >= 0``, sale lines have a
  positive quantity. What the database would refuse raises ``IntegrityError`` here.
- Outbox rows keep the event's ``data()`` as it would be stored: JSON, serialized when
  appended.

Stored objects are never mutated in place and callers always get copies, so a use case
that changes an object it read without writing it back changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from types import TracebackType
from typing import Any

import orjson

from stockline.domain.events import Event
from stockline.domain.lots import Lot
from stockline.domain.model import LedgerEntry, Level, Location, Product, Sale, SaleReturn
from stockline.domain.values import LocationStatus, ProductStatus
from stockline.services.ports import (
    ERASED,
    IdempotencyClaim,
    IdempotencyRecord,
    StoredAnswer,
)
from tests.fakes_counting import FakeCounting
from tests.fakes_customers import FakeCustomers
from tests.fakes_keys import FakeApiKeys
from tests.fakes_purchasing import FakePurchaseOrders, FakeSuppliers
from tests.fakes_reservations import FakeReservations
from tests.fakes_transfers import FakeTransfers
from tests.fakes_webhooks import FakeWebhooks


class IntegrityError(Exception):
    """What the database would refuse: a broken constraint or foreign key (a bug: 500)."""


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    id: int
    type: str
    location_id: str | None
    sku: str | None
    data: dict[str, Any]
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class _IdempotencyRow:
    fingerprint: str
    created_at: datetime
    response: StoredAnswer | None = None
    subject: str | None = None


@dataclass(slots=True)
class FakeStore:
    """The rows of every table. Values are replaced, never mutated, so a copy is cheap."""

    products: dict[str, Product] = field(default_factory=dict)
    locations: dict[str, Location] = field(default_factory=dict)
    levels: dict[tuple[str, str], Level] = field(default_factory=dict)
    lots: dict[tuple[str, str, str], Lot] = field(default_factory=dict)
    ledger: list[LedgerEntry] = field(default_factory=list)
    sales: dict[str, Sale] = field(default_factory=dict)
    outbox: list[OutboxRecord] = field(default_factory=list)
    idempotency: dict[tuple[str, str], _IdempotencyRow] = field(default_factory=dict)
    # Documents of the other areas, by table then key: transfers, reservations, ...
    documents: dict[str, dict[Any, Any]] = field(default_factory=dict)

    def copy(self) -> FakeStore:
        return FakeStore(dict(self.products), dict(self.locations), dict(self.levels),
                         dict(self.lots), list(self.ledger), dict(self.sales),
                         list(self.outbox), dict(self.idempotency),
                         {name: dict(rows) for name, rows in self.documents.items()})

    def table(self, name: str) -> dict[Any, Any]:
        """The rows of a document table (values are replaced, never mutated)."""
        return self.documents.setdefault(name, {})


def _product_copy(product: Product) -> Product:
    return replace(product, attributes=dict(product.attributes))


class FakeProducts:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    async def get(self, sku: str, *, for_update: bool = False) -> Product | None:
        product = self._uow.store.products.get(sku)
        return _product_copy(product) if product else None

    async def add(self, product: Product) -> bool:
        products = self._uow.store.products
        if product.sku in products:
            return False
        products[product.sku] = _product_copy(product)
        return True

    async def update(self, product: Product) -> None:
        products = self._uow.store.products
        if product.sku in products:  # like UPDATE ... WHERE: a missing row is no error
            created_at = products[product.sku].created_at
            products[product.sku] = replace(_product_copy(product), created_at=created_at)

    async def exists(self, sku: str) -> bool:
        return sku in self._uow.store.products

    async def existing(self, skus: Sequence[str]) -> set[str]:
        return {sku for sku in skus if sku in self._uow.store.products}

    async def statuses(self, skus: Sequence[str]) -> dict[str, ProductStatus]:
        products = self._uow.store.products
        return {sku: products[sku].status for sku in skus if sku in products}


class FakeLocations:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    async def get(self, code: str, *, for_update: bool = False) -> Location | None:
        location = self._uow.store.locations.get(code)
        return replace(location) if location else None

    async def update(self, location: Location) -> None:
        locations = self._uow.store.locations
        if location.code in locations:
            before = locations[location.code]
            locations[location.code] = replace(location, type=before.type,
                                               created_at=before.created_at)

    async def on_hand_units(self, code: str) -> int:
        return sum(lv.on_hand for (loc, _), lv in self._uow.store.levels.items() if loc == code)

    async def add(self, location: Location) -> bool:
        locations = self._uow.store.locations
        if location.code in locations:
            return False
        locations[location.code] = replace(location)
        return True

    async def exists(self, code: str) -> bool:
        return code in self._uow.store.locations


class FakeLevels:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def _levels(self) -> dict[tuple[str, str], Level]:
        return self._uow.store.levels

    def _write(self, level: Level) -> Level:
        if (not level.on_hand >= level.reserved >= 0 or level.in_transit < 0
                or level.incoming < 0):
            raise IntegrityError(f"CHECK constraint failed for {level}")
        self._levels()[(level.location_id, level.sku)] = level
        return replace(level)

    def _insert(self, level: Level) -> Level:
        store = self._uow.store
        if (level.location_id, level.sku) in store.levels:
            raise IntegrityError(f"duplicate level {level.location_id}/{level.sku}")
        if level.location_id not in store.locations or level.sku not in store.products:
            raise IntegrityError(f"FOREIGN KEY constraint failed for {level}")
        return self._write(level)

    def _current(self, location_id: str, sku: str,
                 expected_version: int | None = None) -> Level | None:
        level = self._levels().get((location_id, sku))
        if level is None or expected_version not in (None, level.version):
            return None
        return level

    async def get(self, location_id: str, sku: str, *, for_update: bool = False) -> Level | None:
        level = self._levels().get((location_id, sku))
        return replace(level) if level else None

    async def lock_many(self, keys: Sequence[tuple[str, str]]
                        ) -> dict[tuple[str, str], Level]:
        levels = self._levels()
        return {key: replace(levels[key]) for key in sorted(set(keys)) if key in levels}

    async def lock_for_sale(self, keys: Sequence[tuple[str, str]]
                            ) -> tuple[dict[tuple[str, str], Level], dict[str, LocationStatus]]:
        found = await self.lock_many(keys)
        return found, {loc: self._uow.store.locations[loc].status for loc, _ in found}

    async def change_for_sale(self, location_id: str, sku: str, *, now: datetime,
                              quantity: int, from_reserved: bool = False
                              ) -> tuple[Level, LocationStatus] | None:
        level = await self.change(location_id, sku, now=now, on_hand=-quantity,
                                  reserved=-quantity if from_reserved else 0)
        if level is None:
            return None
        return level, self._uow.store.locations[location_id].status

    async def save_many(self, levels: Sequence[Level]) -> None:
        for level in levels:
            current = self._current(level.location_id, level.sku)
            assert current is not None, "save_many writes levels that lock_many found"
            self._write(replace(current, on_hand=level.on_hand, reserved=level.reserved,
                                version=level.version, updated_at=level.updated_at))

    async def change(self, location_id: str, sku: str, *, now: datetime, on_hand: int = 0,
                     reserved: int = 0, in_transit: int = 0, incoming: int = 0,
                     expected_version: int | None = None) -> Level | None:
        level = self._current(location_id, sku, expected_version)
        if level is None:
            return None
        after = replace(level, on_hand=level.on_hand + on_hand,
                        reserved=level.reserved + reserved,
                        in_transit=level.in_transit + in_transit,
                        incoming=level.incoming + incoming, version=level.version + 1,
                        updated_at=now)
        if (after.on_hand < after.reserved or after.reserved < 0 or after.in_transit < 0
                or after.incoming < 0):
            return None  # the guard of the one UPDATE statement
        return self._write(after)

    async def ensure(self, location_id: str, sku: str, *, now: datetime) -> None:
        if (location_id, sku) not in self._levels():
            self._insert(Level(location_id=location_id, sku=sku, version=1, updated_at=now))

    async def mark_lotted(self, location_id: str, sku: str) -> None:
        level = self._current(location_id, sku)
        assert level is not None
        self._write(replace(level, lotted=True))

    async def get_many(self, location_id: str, skus: Sequence[str], *,
                       for_update: bool = False) -> dict[str, Level]:
        levels = self._levels()
        return {sku: replace(levels[(location_id, sku)]) for sku in sorted(set(skus))
                if (location_id, sku) in levels}

    async def create_many(self, location_id: str, quantities: Mapping[str, int], *,
                          now: datetime) -> list[Level]:
        return [self._insert(Level(location_id=location_id, sku=sku, on_hand=quantities[sku],
                                   version=1, updated_at=now))
                for sku in sorted(quantities) if (location_id, sku) not in self._levels()]

    async def create(self, location_id: str, sku: str, on_hand: int, *,
                     now: datetime) -> Level | None:
        if (location_id, sku) in self._levels():
            return None
        return self._insert(Level(location_id=location_id, sku=sku, on_hand=on_hand,
                                  version=1, updated_at=now))

    async def set_on_hand(self, location_id: str, sku: str, on_hand: int, *,
                          now: datetime) -> Level:
        level = self._current(location_id, sku)
        assert level is not None, "set_on_hand needs a level the caller has locked"
        return self._write(replace(level, on_hand=on_hand, version=level.version + 1,
                                   updated_at=now))

    async def set_settings(self, location_id: str, sku: str, *, reorder_point: int | None,
                           reorder_quantity: int | None, safety_stock: int | None,
                           now: datetime) -> Level:
        level = self._current(location_id, sku)
        if level is None:  # an upsert: an empty level with these settings
            level = self._insert(Level(location_id=location_id, sku=sku, version=0))
        return self._write(replace(level, reorder_point=reorder_point,
                                   reorder_quantity=reorder_quantity, safety_stock=safety_stock,
                                   version=level.version + 1, updated_at=now))


class FakeLots:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    def _lots(self) -> dict[tuple[str, str, str], Lot]:
        return self._uow.store.lots

    async def list(self, location_id: str, sku: str, *, for_update: bool = False) -> list[Lot]:
        return sorted((lot for (loc, s, _), lot in self._lots().items()
                       if loc == location_id and s == sku), key=lambda x: x.lot)

    async def add(self, location_id: str, sku: str, lot: str, quantity: int, *,
                  expires_on: date | None, now: datetime) -> None:
        if (location_id, sku) not in self._uow.store.levels:
            raise IntegrityError(f"FOREIGN KEY constraint failed for lot {lot}")
        key = (location_id, sku, lot)
        held = self._lots().get(key)
        if held is None:
            self._lots()[key] = Lot(location_id=location_id, sku=sku, lot=lot,
                                    on_hand=quantity, expires_on=expires_on, received_at=now)
        else:
            self._lots()[key] = replace(held, on_hand=held.on_hand + quantity,
                                        expires_on=held.expires_on or expires_on)

    async def take(self, location_id: str, sku: str, lot: str, quantity: int) -> bool:
        key = (location_id, sku, lot)
        held = self._lots().get(key)
        if held is None or held.on_hand < quantity:
            return False
        self._lots()[key] = replace(held, on_hand=held.on_hand - quantity)
        return True


class FakeLedger:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    async def append(self, entries: Sequence[LedgerEntry]) -> None:
        ledger = self._uow.store.ledger
        for entry in entries:
            ledger.append(replace(entry, id=len(ledger) + 1,
                                  recorded_at=entry.recorded_at or entry.occurred_at))


class FakeSales:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    async def add(self, sale: Sale, *, customer_ref: str | None = None) -> None:
        store = self._uow.store
        if sale.id in store.sales:
            raise IntegrityError(f"duplicate sale id {sale.id}")
        if sale.location_id not in store.locations:
            raise IntegrityError(f"FOREIGN KEY constraint failed: location {sale.location_id}")
        if any(line.quantity <= 0 for line in sale.lines):
            raise IntegrityError("CHECK constraint failed: sale_lines.quantity_positive")
        _ = sale.total, sale.units  # computed into the sales row, as the SQL adapter does
        store.sales[sale.id] = replace(sale)
        if customer_ref is not None:
            self._uow.customers.link(sale.id, customer_ref)

    async def add_many(self, made: Sequence[tuple[Sale, str | None]]) -> None:
        for sale, customer_ref in made:
            await self.add(sale, customer_ref=customer_ref)

    async def record_batch(self, levels: Sequence[Level], made: Sequence[tuple[Sale, str | None]],
                           entries: Sequence[LedgerEntry], events: Sequence[Event]) -> None:
        await self._uow.levels.save_many(levels)
        await self.add_many(made)
        await self._uow.ledger.append(entries)
        await self._uow.outbox.append(events)

    async def get(self, sale_id: str, *, for_update: bool = False) -> Sale | None:
        sale = self._uow.store.sales.get(sale_id)
        return replace(sale) if sale else None

    async def add_return(self, sale_return: SaleReturn, status: str) -> None:
        store = self._uow.store
        sale = store.sales.get(sale_return.sale_id)
        if sale is None:
            raise IntegrityError(f"FOREIGN KEY constraint failed: sale {sale_return.sale_id}")
        if any(line.quantity <= 0 for line in sale_return.lines):
            raise IntegrityError("CHECK constraint failed: sale_return_lines.quantity_positive")
        store.sales[sale.id] = replace(sale, returns=(*sale.returns, sale_return),
                                       status=status)

    async def set_statuses(self, *, before: Sale, after: Sale) -> bool:
        store = self._uow.store
        sale = store.sales.get(after.id)
        if sale is None or (sale.payment_status, sale.fulfillment_status) != (
                before.payment_status, before.fulfillment_status):
            return False
        store.sales[sale.id] = replace(sale, payment_status=after.payment_status,
                                       fulfillment_status=after.fulfillment_status)
        return True


class FakeOutbox:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    async def append(self, events: Sequence[Event]) -> None:
        outbox = self._uow.store.outbox
        for event in events:
            data = orjson.loads(orjson.dumps(event.data()))
            outbox.append(OutboxRecord(id=len(outbox) + 1, type=event.type,
                                       location_id=event.location_id, sku=event.sku,
                                       data=data, occurred_at=event.occurred_at))


class FakeIdempotency:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    async def claim(self, principal: str, key: str, fingerprint: str, now: datetime, *,
                    subject: str | None = None) -> bool:
        rows = self._uow.store.idempotency
        if (principal, key) in rows:
            return False
        rows[(principal, key)] = _IdempotencyRow(fingerprint, now, subject=subject)
        return True

    async def claim_many(self, wanted: Sequence[tuple[str, IdempotencyClaim]],
                         now: datetime) -> set[tuple[str, str]]:
        return {(principal, c.key) for principal, c in wanted
                if await self.claim(principal, c.key, c.fingerprint, now, subject=c.subject)}

    async def forget(self, subject: str) -> int:
        rows = self._uow.store.idempotency
        mine = [k for k, row in rows.items() if row.subject == subject]
        for k in mine:
            response = rows[k].response
            rows[k] = replace(rows[k], fingerprint=ERASED, subject=None, response=(
                StoredAnswer(response.outcome, b"") if response is not None else None))
        return len(mine)

    async def complete_many(self, answers: Sequence[tuple[str, str, StoredAnswer]]) -> None:
        for principal, key, response in answers:
            await self.complete(principal, key, response)

    async def get(self, principal: str, key: str) -> IdempotencyRecord | None:
        row = self._uow.store.idempotency.get((principal, key))
        if row is None or row.response is None:
            return None
        return IdempotencyRecord(row.fingerprint, row.response)

    async def complete(self, principal: str, key: str, response: StoredAnswer) -> None:
        rows = self._uow.store.idempotency
        if (principal, key) in rows:
            rows[(principal, key)] = replace(
                rows[(principal, key)],
                response=StoredAnswer(response.outcome, response.for_replay))


class FakeUnitOfWork:
    """One transaction over the factory's committed store."""

    def __init__(self, factory: FakeUnitOfWorkFactory) -> None:
        self._factory = factory
        self._store: FakeStore | None = None
        self.products = FakeProducts(self)
        self.locations = FakeLocations(self)
        self.levels = FakeLevels(self)
        self.lots = FakeLots(self)
        self.ledger = FakeLedger(self)
        self.sales = FakeSales(self)
        self.outbox = FakeOutbox(self)
        self.transfers = FakeTransfers(self)
        self.reservations = FakeReservations(self)
        self.suppliers = FakeSuppliers(self)
        self.purchase_orders = FakePurchaseOrders(self)
        self.webhooks = FakeWebhooks(self)
        self.api_keys = FakeApiKeys(self)
        self.customers = FakeCustomers(self)
        self.idempotency = FakeIdempotency(self)
        self.counting = FakeCounting(self)

    @property
    def store(self) -> FakeStore:
        assert self._store is not None, "use the unit of work inside 'async with'"
        return self._store

    async def __aenter__(self) -> FakeUnitOfWork:
        await self._factory.lock.acquire()
        self._factory.transactions += 1
        self._store = self._factory.committed.copy()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self._store = None  # whatever was not committed is gone
        self._factory.lock.release()

    async def commit(self) -> None:
        if self._factory.commit_failures:
            raise self._factory.commit_failures.pop(0)
        self._factory.committed = self.store
        self._factory.commits += 1
        self._store = self.store.copy()

    async def rollback(self) -> None:
        self._store = self._factory.committed.copy()

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        snapshot = self.store.copy()
        try:
            yield
        except BaseException:
            self._store = snapshot
            raise


class FakeUnitOfWorkFactory:
    """Makes units of work over one in-memory database, and lets tests look inside it.

    ``products``, ``locations`` and ``levels`` seed the committed store (levels as rows
    only: no ledger entries are made for them). ``commit_failures`` holds exceptions for
    the next commits to raise, in order, before they apply anything.
    """

    def __init__(self, *, products: Iterable[Product] = (), locations: Iterable[Location] = (),
                 levels: Iterable[Level] = ()) -> None:
        self.committed = FakeStore()
        self.committed.products.update({p.sku: _product_copy(p) for p in products})
        self.committed.locations.update({loc.code: replace(loc) for loc in locations})
        self.committed.levels.update({(lv.location_id, lv.sku): replace(lv) for lv in levels})
        self.lock = asyncio.Lock()
        self.transactions = 0
        self.commits = 0
        self.commit_failures: list[BaseException] = []

    def __call__(self) -> FakeUnitOfWork:
        return FakeUnitOfWork(self)

    # What is committed, for assertions.

    def level(self, location_id: str, sku: str) -> Level | None:
        level = self.committed.levels.get((location_id, sku))
        return replace(level) if level else None

    def product(self, sku: str) -> Product | None:
        product = self.committed.products.get(sku)
        return _product_copy(product) if product else None

    def ledger(self, location_id: str | None = None,
               sku: str | None = None) -> list[LedgerEntry]:
        return [e for e in self.committed.ledger
                if location_id in (None, e.location_id) and sku in (None, e.sku)]

    def events(self, *types: str) -> list[OutboxRecord]:
        return [r for r in self.committed.outbox if not types or r.type in types]

    def event_types(self) -> list[str]:
        return [r.type for r in self.committed.outbox]

    @property
    def sales(self) -> list[Sale]:
        return list(self.committed.sales.values())

    def idempotency_keys(self) -> set[tuple[str, str]]:
        return set(self.committed.idempotency)

