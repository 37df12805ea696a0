"""Who may do what, where: roles, permissions, and the location scope of a principal."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from stockline.domain.errors import Forbidden


class Role(StrEnum):
    ADMIN = "admin"
    MANAGER = "manager"
    WAREHOUSE_STAFF = "warehouse_staff"
    STORE_STAFF = "store_staff"
    PARTNER = "partner"


class Permission(StrEnum):
    CATALOG_READ = "catalog:read"
    CATALOG_WRITE = "catalog:write"
    LOCATIONS_READ = "locations:read"
    LOCATIONS_WRITE = "locations:write"
    INVENTORY_READ = "inventory:read"
    INVENTORY_RECEIVE = "inventory:receive"
    INVENTORY_COUNT = "inventory:count"
    INVENTORY_ADJUST = "inventory:adjust"
    INVENTORY_SETTINGS = "inventory:settings"
    LEDGER_READ = "ledger:read"
    FEEDBACK_READ = "feedback:read"
    SALES_READ = "sales:read"
    SALES_WRITE = "sales:write"
    RETURNS_WRITE = "returns:write"
    TRANSFERS_READ = "transfers:read"
    TRANSFERS_SHIP = "transfers:ship"
    TRANSFERS_RECEIVE = "transfers:receive"
    TRANSFERS_CANCEL = "transfers:cancel"
    RESERVATIONS_READ = "reservations:read"
    RESERVATIONS_WRITE = "reservations:write"
    SUPPLIERS_READ = "suppliers:read"
    SUPPLIERS_WRITE = "suppliers:write"
    PURCHASING_READ = "purchasing:read"
    PURCHASING_WRITE = "purchasing:write"
    PURCHASING_RECEIVE = "purchasing:receive"
    REPLENISHMENT_READ = "replenishment:read"
    EVENTS_READ = "events:read"
    WEBHOOKS_MANAGE = "webhooks:manage"
    KEYS_MANAGE = "keys:manage"
    AUDIT_READ = "audit:read"
    CUSTOMERS_READ = "customers:read"
    CUSTOMERS_WRITE = "customers:write"
    CUSTOMERS_ERASE = "customers:erase"
    OPERATIONS_READ = "operations:read"
    RECONCILE = "admin:reconcile"


class Scope(StrEnum):
    """``any``: every location; ``own``: only the principal's locations (all when unscoped)."""

    ANY = "any"
    OWN = "own"


P = Permission
_EVERYTHING = dict.fromkeys(Permission, Scope.ANY)
_READS_OF_STOCK = {P.CATALOG_READ: Scope.ANY, P.LOCATIONS_READ: Scope.ANY,
                   P.INVENTORY_READ: Scope.ANY}

GRANTS: Mapping[Role, Mapping[Permission, Scope]] = {
    Role.ADMIN: _EVERYTHING,
    # All stock and sales operations and reports; no keys, webhooks or audit trail.
    Role.MANAGER: {p: s for p, s in _EVERYTHING.items()
                   if p not in (P.KEYS_MANAGE, P.WEBHOOKS_MANAGE, P.AUDIT_READ, P.RECONCILE)},
    # Receipts, counts, adjustments, transfers and purchase receipts at its locations.
    Role.WAREHOUSE_STAFF: {
        **_READS_OF_STOCK,
        P.INVENTORY_RECEIVE: Scope.OWN, P.INVENTORY_COUNT: Scope.OWN,
        P.INVENTORY_ADJUST: Scope.OWN, P.LEDGER_READ: Scope.OWN,
        P.TRANSFERS_READ: Scope.OWN, P.TRANSFERS_SHIP: Scope.OWN,
        P.TRANSFERS_RECEIVE: Scope.OWN, P.TRANSFERS_CANCEL: Scope.OWN,
        P.SUPPLIERS_READ: Scope.ANY, P.PURCHASING_READ: Scope.OWN,
        P.PURCHASING_RECEIVE: Scope.OWN, P.REPLENISHMENT_READ: Scope.OWN,
        P.EVENTS_READ: Scope.OWN,
    },
    # Sales, returns, reservations, counts and incoming transfers at its stores.
    Role.STORE_STAFF: {
        **_READS_OF_STOCK,
        P.INVENTORY_COUNT: Scope.OWN, P.LEDGER_READ: Scope.OWN,
        P.SALES_READ: Scope.OWN, P.SALES_WRITE: Scope.OWN, P.RETURNS_WRITE: Scope.OWN,
        P.RESERVATIONS_READ: Scope.OWN, P.RESERVATIONS_WRITE: Scope.OWN,
        P.TRANSFERS_READ: Scope.OWN, P.TRANSFERS_RECEIVE: Scope.OWN,
        P.REPLENISHMENT_READ: Scope.OWN, P.EVENTS_READ: Scope.OWN,
    },
    # Read-only catalog and availability (optionally of some locations only); no sales
    # history, no costs.
    Role.PARTNER: {
        P.CATALOG_READ: Scope.ANY, P.LOCATIONS_READ: Scope.OWN,
        P.INVENTORY_READ: Scope.OWN, P.EVENTS_READ: Scope.OWN,
    },
}

# A principal's id and name are copied beside what it does: its id scopes its idempotency
# keys, its name is the `actor` of every ledger entry, sale, return, transfer, hold, order
# and webhook it makes. Those columns hold 100 characters; so do an id and a name.
PRINCIPAL_TEXT_MAX_LENGTH = 100

# What a partner may hear on an event stream: availability, catalog and its locations
# (opened, closed, moved), no sales.
PARTNER_EVENT_TYPES = frozenset({"inventory.changed", "inventory.low_stock", "product.changed",
                                 "location.updated"})


# Fields of an event that tell more than the object it is about: how a level moved and why
# (the ledger's delta, cause and reference, a sale's id among them). Only a principal who
# may read them over REST (GET /v1/stock-movements) hears them.
EVENT_FIELD_READS: Mapping[str, Mapping[str, Permission]] = {
    "inventory.changed": dict.fromkeys(("delta", "cause", "reference"), P.LEDGER_READ),
}


@dataclass(frozen=True, slots=True)
class EventShape:
    """The fields of each event type a principal may not hear (none: every event whole)."""

    hidden: frozenset[tuple[str, str]] = frozenset()  # (event type, field)
    types: frozenset[str] = field(init=False, compare=False, default=frozenset())

    def __post_init__(self) -> None:
        object.__setattr__(self, "types", frozenset(t for t, _ in self.hidden))

    def apply(self, event_type: str, data: dict[str, Any]) -> dict[str, Any]:
        """``data`` of an event of ``event_type`` without the fields this shape hides."""
        if event_type not in self.types:
            return data
        return {k: v for k, v in data.items() if (event_type, k) not in self.hidden}


WHOLE = EventShape()


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller. ``locations`` None: not limited to any locations.
    ``expires_at``: when its credential stops being accepted (None: not by itself).
    ``own_only``: every grant of its role limited to its own locations, those its role
    may use anywhere too (a dashboard session: the page of a store's key is about its
    stores, though the key may read stock elsewhere over the API)."""

    id: str
    name: str
    role: Role
    locations: frozenset[str] | None = None
    expires_at: datetime | None = field(default=None, compare=False)
    own_only: bool = False

    def event_shape(self) -> EventShape:
        """What of each event this principal hears: the fields its permissions let it read
        over REST. (The events it hears at all are those of the locations it may see, so
        the permission alone decides: a scoped grant covers them.)"""
        hidden = frozenset((event_type, name) for event_type, fields in EVENT_FIELD_READS.items()
                           for name, needed in fields.items() if not self.may(needed))
        return EventShape(hidden) if hidden else WHOLE

    def grant(self, permission: Permission) -> Scope | None:
        scope = GRANTS[self.role].get(permission)
        return Scope.OWN if self.own_only and scope is Scope.ANY else scope

    def own_locations_only(self) -> Principal:
        """This principal with every grant limited to its own locations."""
        return replace(self, own_only=True)

    def may(self, permission: Permission) -> bool:
        return self.grant(permission) is not None

    def may_at(self, permission: Permission, location_id: str) -> bool:
        scope = self.grant(permission)
        if scope is None:
            return False
        return scope is Scope.ANY or self.locations is None or location_id in self.locations

    def require(self, permission: Permission, *location_ids: str) -> None:
        """Forbidden unless the role has the permission at every location given."""
        if not self.may(permission):
            raise Forbidden(f"the {self.role.value} role may not {permission.value}")
        for location_id in location_ids:
            if not self.may_at(permission, location_id):
                raise Forbidden(f"{permission.value} is limited to this key's locations; "
                                f"'{location_id}' is not one of them")

    def visible(self, permission: Permission) -> frozenset[str] | None:
        """The locations whose objects this principal may see (None: all of them)."""
        if self.grant(permission) is Scope.ANY:
            return None
        return self.locations

    def narrow(self, permission: Permission,
               asked: Iterable[str] | None) -> frozenset[str] | None:
        """A list or stream filter limited to what may be seen (an empty set: nothing)."""
        allowed = self.visible(permission)
        if allowed is None:
            return frozenset(asked) if asked is not None else None
        return allowed if asked is None else allowed & frozenset(asked)
