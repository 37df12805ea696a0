"""API keys without a database: the rules of a key, creating and revoking one."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta

import pytest

from stockline.adapters.credentials import new_api_key, secret_matches, split_api_key
from stockline.domain.errors import Forbidden, InvalidInput, NotFound
from stockline.domain.keys import (
    ApiKey,
    CreateApiKey,
    KeyStatus,
    RevokeApiKey,
    check_locations,
)
from stockline.domain.security import Principal, Role
from stockline.domain.values import LocationType
from stockline.services import keys
from stockline.services.executor import Caller, Executor
from tests.fakes import FakeUnitOfWorkFactory
from tests.fakes_keys import stored_keys
from tests.unit.support import CALLER, Shop

ADMIN = Caller(principal="admin", actor="admin",
               access=Principal(id="admin", name="admin", role=Role.ADMIN))


def as_role(role: Role, locations: frozenset[str] | None = None) -> Caller:
    return Caller(principal=f"key_{role.value}", actor=role.value,
                  access=Principal(id=f"key_{role.value}", name=role.value, role=role,
                                   locations=locations))


def create(name: str = "POS 7", role: str = "store_staff", **fields_: object
           ) -> tuple[CreateApiKey, str]:
    """A CreateApiKey as the entrypoints make it, and the key they would show."""
    issued = new_api_key()
    return CreateApiKey(name=name, role=role, prefix=issued.prefix,
                        secret_hash=issued.secret_hash, **fields_), issued.key  # type: ignore[arg-type]


@pytest.fixture
async def stores(shop: Shop) -> tuple[str, str]:
    for code in ("S-1", "S-2"):
        await shop.location(code, LocationType.RETAIL)
    return "S-1", "S-2"


async def test_a_new_key_is_stored_with_the_hash_of_its_secret_only(
        executor: Executor, uows: FakeUnitOfWorkFactory, stores: tuple[str, str]) -> None:
    command, shown = create(location_ids=("S-2", "S-1", "S-2"))
    key = await executor.run(keys.create_key, command, ADMIN)
    assert key.id.startswith("key_") and len(key.id) == 30
    assert (key.prefix, key.name, key.role, key.locations) == (
        command.prefix, "POS 7", Role.STORE_STAFF, ("S-1", "S-2"))
    assert (key.revoked_at, key.last_used_at, key.expires_at) == (None, None, None)
    assert key.created_by == "admin" and key.status(key.created_at) is KeyStatus.ACTIVE
    (stored,) = stored_keys(uows).values()
    assert stored.key == key
    _, secret = split_api_key(shown) or ("", "")
    assert secret_matches(secret, stored.secret_hash)
    assert secret not in repr(stored) and shown not in repr(stored)
    # The domain object has nowhere to carry a secret or its hash.
    assert not {f.name for f in fields(ApiKey)} & {"secret", "secret_hash", "key"}


async def test_a_key_with_an_expiry_in_the_future(executor: Executor) -> None:
    when = datetime.now(UTC) + timedelta(days=30)
    key = await executor.run(keys.create_key, create(expires_at=when)[0], ADMIN)
    assert key.expires_at == when
    assert key.status(when - timedelta(seconds=1)) is KeyStatus.ACTIVE
    assert key.status(when) is KeyStatus.EXPIRED


@pytest.mark.parametrize(("fields_", "field"), [
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 101}, "name"),  # longer than an actor column holds
    ({"name": "tab\there"}, "name"),
    ({"role": "superuser"}, "role"),
    ({"role": "Admin"}, "role"),
    ({"expires_at": datetime(2020, 1, 1, tzinfo=UTC)}, "expires_at"),
    ({"expires_at": datetime(2099, 1, 1)}, "expires_at"),  # noqa: DTZ001 - no offset on purpose
    ({"location_ids": ()}, "location_ids"),
    ({"location_ids": ("not a code",)}, "location_ids"),
    ({"role": "admin", "location_ids": ("S-1",)}, "location_ids"),
    ({"role": "manager", "location_ids": ("S-1",)}, "location_ids"),
])
async def test_keys_that_break_a_rule_are_refused_and_nothing_is_stored(
        executor: Executor, uows: FakeUnitOfWorkFactory, stores: tuple[str, str],
        fields_: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        await executor.run(keys.create_key, create(**fields_)[0], ADMIN)
    assert refused.value.field == field
    assert stored_keys(uows) == {}


async def test_a_name_of_100_characters_is_fine(executor: Executor) -> None:
    key = await executor.run(keys.create_key, create(name="n" * 100)[0], ADMIN)
    assert len(key.name) == 100


async def test_an_expiry_at_this_very_moment_is_in_the_past(executor: Executor) -> None:
    executor._clock = lambda: datetime(2030, 1, 1, tzinfo=UTC)  # type: ignore[method-assign]
    with pytest.raises(InvalidInput, match="future"):
        await executor.run(keys.create_key,
                           create(expires_at=datetime(2030, 1, 1, tzinfo=UTC))[0], ADMIN)


async def test_a_key_scoped_to_an_unknown_location_is_404(
        executor: Executor, uows: FakeUnitOfWorkFactory, stores: tuple[str, str]) -> None:
    with pytest.raises(NotFound) as missing:
        await executor.run(keys.create_key, create(location_ids=("S-1", "NOPE"))[0], ADMIN)
    assert (missing.value.kind, missing.value.key) == ("location", "NOPE")
    assert stored_keys(uows) == {}


@pytest.mark.parametrize("role", [Role.MANAGER, Role.WAREHOUSE_STAFF, Role.STORE_STAFF,
                                  Role.PARTNER])
async def test_only_keys_manage_may_create_or_revoke_keys(
        executor: Executor, uows: FakeUnitOfWorkFactory, role: Role) -> None:
    existing = await executor.run(keys.create_key, create()[0], ADMIN)
    with pytest.raises(Forbidden, match="keys:manage"):
        await executor.run(keys.create_key, create(role="partner")[0], as_role(role))
    with pytest.raises(Forbidden, match="keys:manage"):
        await executor.run(keys.revoke_key, RevokeApiKey(key_id=existing.id), as_role(role))
    assert list(stored_keys(uows)) == [existing.id]
    assert stored_keys(uows)[existing.id].key.revoked_at is None


async def test_stockline_itself_may_manage_keys(executor: Executor) -> None:
    key = await executor.run(keys.create_key, create(role="admin")[0], CALLER)
    assert (key.role, key.created_by) == (Role.ADMIN, CALLER.principal)


async def test_revoking_stamps_the_time_once(
        executor: Executor, uows: FakeUnitOfWorkFactory) -> None:
    key = await executor.run(keys.create_key, create()[0], ADMIN)
    revoked = await executor.run(keys.revoke_key, RevokeApiKey(key_id=key.id), ADMIN)
    assert revoked.revoked_at is not None
    assert revoked.status(datetime.now(UTC)) is KeyStatus.REVOKED
    assert stored_keys(uows)[key.id].key == revoked
    again = await executor.run(keys.revoke_key, RevokeApiKey(key_id=key.id), ADMIN)
    assert again == revoked  # idempotent: the first revocation stands
    assert stored_keys(uows)[key.id].key.revoked_at == revoked.revoked_at


async def test_revoking_an_unknown_key_is_404(executor: Executor) -> None:
    with pytest.raises(NotFound):
        await executor.run(keys.revoke_key, RevokeApiKey(key_id="key_NOPE"), ADMIN)


async def test_a_stored_revocation_or_expiry_wins_over_activity() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    key = ApiKey(id="key_1", prefix="p", name="n", role=Role.PARTNER, locations=None,
                 expires_at=now - timedelta(days=1), last_used_at=None, revoked_at=None,
                 created_by="admin", created_at=now - timedelta(days=2))
    assert key.status(now) is KeyStatus.EXPIRED
    assert key.revoked(now).status(now) is KeyStatus.REVOKED


def test_a_location_scope_is_sorted_and_deduplicated() -> None:
    assert check_locations(Role.PARTNER, ["B", "A", "B"]) == ("A", "B")
    assert check_locations(Role.PARTNER, None) is None
    assert check_locations(Role.ADMIN, None) is None
