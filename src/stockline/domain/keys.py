"""API keys: who may call Stockline without a person behind it, with which role, where.

A key is shown to its creator once, at creation; Stockline keeps only a hash of its
secret and a visible prefix to find it by. A key acts with one role, optionally limited
to some locations, until it expires or is revoked. Revoking is final.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from stockline.domain.errors import Forbidden, InvalidInput
from stockline.domain.security import (
    GRANTS,
    PRINCIPAL_TEXT_MAX_LENGTH,
    Permission,
    Principal,
    Role,
    Scope,
)
from stockline.domain.values import is_code

# A key's name is the actor of each of its writes: no longer than a principal's name.
NAME_MAX_LENGTH = PRINCIPAL_TEXT_MAX_LENGTH
MAX_LOCATIONS = 500


class KeyStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


# -- commands -------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class CreateApiKey:
    """Make a key. The entrypoint makes the secret and passes only its prefix and hash:
    the secret itself never reaches the services or storage."""

    name: str
    role: str
    location_ids: tuple[str, ...] | None = None
    expires_at: datetime | None = None
    rate_limit: float | None = None  # requests a second; None: the role's
    prefix: str
    secret_hash: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RevokeApiKey:
    key_id: str


# -- the key --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKey:
    """A key as anyone may see it: never its secret, nor the secret's hash."""

    id: str
    prefix: str
    name: str
    role: Role
    locations: tuple[str, ...] | None  # None: every location
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    created_by: str
    created_at: datetime
    rate_limit: float | None = None  # requests a second; None: the role's limit

    def status(self, now: datetime) -> KeyStatus:
        if self.revoked_at is not None:
            return KeyStatus.REVOKED
        if self.expires_at is not None and self.expires_at <= now:
            return KeyStatus.EXPIRED
        return KeyStatus.ACTIVE

    def revoked(self, now: datetime) -> ApiKey:
        """Revoked from ``now`` on; a key revoked already keeps its first revocation."""
        if self.revoked_at is not None:
            return self
        return replace(self, revoked_at=now)


def check_name(name: str) -> str:
    """1-100 characters (``NAME_MAX_LENGTH``), not only spaces, no control characters."""
    if not name.strip():
        raise InvalidInput("name", "must not be empty")
    if len(name) > NAME_MAX_LENGTH:
        raise InvalidInput("name", f"at most {NAME_MAX_LENGTH} characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise InvalidInput("name", "must not contain control characters")
    return name


def check_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InvalidInput("role", f"unknown role '{role}'; known: "
                                   f"{', '.join(r.value for r in Role)}") from None


def limits_locations(role: Role) -> bool:
    """Whether a location scope changes anything for this role (some grant is 'own')."""
    return any(scope is Scope.OWN for scope in GRANTS[role].values())


def check_locations(role: Role, location_ids: Sequence[str] | None) -> tuple[str, ...] | None:
    """None for every location; otherwise at least one location code, each once.

    An empty list is refused rather than read as "every location": a key meant for no
    location must not end up with all of them. A scope is refused for roles that act at
    every location anyway (admin, manager), where it would promise a limit that does
    not exist.
    """
    if location_ids is None:
        return None
    if not location_ids:
        raise InvalidInput("location_ids", "leave it out for every location, or name one")
    if len(location_ids) > MAX_LOCATIONS:
        raise InvalidInput("location_ids", f"at most {MAX_LOCATIONS} locations")
    bad = [code for code in location_ids if not is_code(code)]
    if bad:
        raise InvalidInput("location_ids", f"'{bad[0]}' is not a location code")
    if not limits_locations(role):
        raise InvalidInput("location_ids", f"the {role.value} role acts at every location; "
                                           "a location scope applies to the warehouse_staff, "
                                           "store_staff and partner roles")
    return tuple(sorted(set(location_ids)))


MAX_RATE_LIMIT = 100_000.0


def check_rate_limit(rate: float | None) -> float | None:
    """None (the role's limit) or a positive number of requests a second."""
    if rate is None:
        return None
    if not 0 < rate <= MAX_RATE_LIMIT:
        raise InvalidInput("rate_limit", f"requests a second, more than 0 and at most "
                                         f"{MAX_RATE_LIMIT:g}")
    return float(rate)


def check_expiry(expires_at: datetime | None, now: datetime) -> datetime | None:
    if expires_at is None:
        return None
    if expires_at.tzinfo is None:
        raise InvalidInput("expires_at", "must carry a UTC offset")
    if expires_at <= now:
        raise InvalidInput("expires_at", "must be in the future")
    return expires_at


def check_grant(creator: Principal, role: Role, locations: tuple[str, ...] | None) -> None:
    """A creator may hand out no more than it holds: keys:manage at every location of the
    new key's scope, no permission its own role lacks, and no unscoped key when its own
    keys:manage is limited to its locations."""
    creator.require(Permission.KEYS_MANAGE, *(locations or ()))
    beyond = set(GRANTS[role]) - set(GRANTS[creator.role])
    if beyond:
        raise Forbidden(f"the {creator.role.value} role may not create a {role.value} key "
                        f"(it would {sorted(p.value for p in beyond)[0]})")
    if locations is None and creator.visible(Permission.KEYS_MANAGE) is not None:
        raise Forbidden("keys:manage is limited to this key's locations: give the new key "
                        "location_ids among them")
