"""In-memory fake of the API key repository (see tests/fakes.py for the shared rules).

Keys live in ``uow.store.table("api_keys")`` by id, each with the hash of its secret, as
the table keeps them. The constraints of the table hold: unique ids and unique prefixes.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from stockline.domain.keys import ApiKey


class IntegrityError(Exception):
    """What the database would refuse (tests.fakes has its own: it imports this module)."""


@dataclass(frozen=True, slots=True)
class StoredKey:
    key: ApiKey
    secret_hash: str


class FakeApiKeys:
    def __init__(self, uow: Any) -> None:
        self._uow = uow

    def _rows(self) -> dict[str, StoredKey]:
        rows: dict[str, StoredKey] = self._uow.store.table("api_keys")
        return rows

    async def add(self, key: ApiKey, secret_hash: str) -> None:
        rows = self._rows()
        if key.id in rows:
            raise IntegrityError(f"duplicate api key id {key.id}")
        if any(r.key.prefix == key.prefix for r in rows.values()):
            raise IntegrityError(f"duplicate api key prefix {key.prefix}")
        rows[key.id] = StoredKey(replace(key), secret_hash)

    async def get(self, key_id: str, *, for_update: bool = False) -> ApiKey | None:
        row = self._rows().get(key_id)
        return replace(row.key) if row else None

    async def revoke(self, key_id: str, at: datetime) -> None:
        row = self._rows().get(key_id)
        if row is not None and row.key.revoked_at is None:
            self._rows()[key_id] = replace(row, key=replace(row.key, revoked_at=at))


def stored_keys(uows: Any) -> dict[str, StoredKey]:
    """The committed keys of a FakeUnitOfWorkFactory, by id."""
    return dict(uows.committed.table("api_keys"))
