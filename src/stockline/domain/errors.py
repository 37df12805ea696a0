"""Domain errors: they carry data, never an HTTP status (the HTTP layer maps them)."""

from __future__ import annotations

from dataclasses import dataclass


class DomainError(Exception):
    """A request the rules refuse. Subclasses say why, with the data to act on."""


@dataclass(slots=True)
class NotFound(DomainError):
    kind: str
    key: str

    def __str__(self) -> str:
        return f"{self.kind} '{self.key}' does not exist"


@dataclass(slots=True)
class AlreadyExists(DomainError):
    kind: str
    key: str

    def __str__(self) -> str:
        return f"{self.kind} '{self.key}' already exists"


@dataclass(frozen=True, slots=True)
class ShortLine:
    sku: str
    requested: int
    available: int
    lot: str | None = None


@dataclass(slots=True)
class InsufficientStock(DomainError):
    location_id: str
    lines: tuple[ShortLine, ...]

    def __str__(self) -> str:
        skus = ", ".join(f"{s.sku} (requested {s.requested}, available {s.available})"
                         for s in self.lines)
        return f"not enough stock at '{self.location_id}' for {skus}"


@dataclass(frozen=True, slots=True)
class ExcessLine:
    sku: str
    requested: int
    allowed: int


@dataclass(slots=True)
class QuantityExceeded(DomainError):
    """More than a document allows: returning more than was sold, receiving more than sent."""

    kind: str
    key: str
    lines: tuple[ExcessLine, ...]

    def __str__(self) -> str:
        skus = ", ".join(f"{x.sku} (requested {x.requested}, at most {x.allowed})"
                         for x in self.lines)
        return f"too much for {self.kind} '{self.key}': {skus}"


@dataclass(slots=True)
class VersionConflict(DomainError):
    location_id: str
    sku: str
    expected: int
    actual: int

    def __str__(self) -> str:
        return (f"level {self.location_id}/{self.sku} is at version {self.actual}, "
                f"not the expected {self.expected}")


@dataclass(slots=True)
class InvalidState(DomainError):
    kind: str
    key: str
    state: str
    action: str

    def __str__(self) -> str:
        return f"cannot {self.action} {self.kind} '{self.key}' in state '{self.state}'"


@dataclass(slots=True)
class InvalidInput(DomainError):
    """Well-formed input that a business rule refuses (e.g. a receipt with a negative delta)."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


@dataclass(slots=True)
class Forbidden(DomainError):
    """The caller is who it says, but its role or location scope does not allow this."""

    reason: str

    def __str__(self) -> str:
        return self.reason


@dataclass(slots=True)
class IdempotencyKeyReused(DomainError):
    key: str

    def __str__(self) -> str:
        return f"Idempotency-Key '{self.key}' was used with a different request"


@dataclass(slots=True)
class IdempotencyKeyInUse(DomainError):
    key: str

    def __str__(self) -> str:
        return f"a request with Idempotency-Key '{self.key}' is still being processed"


@dataclass(slots=True)
class StaleVersion(DomainError):
    """A compare-and-set on a document (a product) found it at another version."""

    kind: str
    key: str
    expected: int
    actual: int

    def __str__(self) -> str:
        return (f"{self.kind} '{self.key}' is at version {self.actual}, "
                f"not the expected {self.expected}")


@dataclass(slots=True)
class LocationClosed(DomainError):
    """The location is closed: it takes no new sale, receipt or inbound transfer."""

    location_id: str

    def __str__(self) -> str:
        return (f"location '{self.location_id}' is closed: it takes no new sales, receipts "
                "or inbound transfers until it is reopened")


@dataclass(slots=True)
class ProductDiscontinued(DomainError):
    """Discontinued products are no longer bought in (received or ordered)."""

    skus: tuple[str, ...]

    def __str__(self) -> str:
        listed = ", ".join(f"'{sku}'" for sku in self.skus)
        return (f"product {listed} is discontinued: it can no longer be received or ordered"
                if len(self.skus) == 1 else
                f"products {listed} are discontinued: they can no longer be received or "
                "ordered")
