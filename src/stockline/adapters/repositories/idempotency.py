"""Idempotency records: claimed in the transaction of the write they guard."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection

from stockline.adapters.dialects import upsert
from stockline.adapters.tables import idempotency_keys
from stockline.services.ports import (
    ERASED,
    IdempotencyClaim,
    IdempotencyRecord,
    StoredAnswer,
)

_COMPLETE_KEY = (idempotency_keys.update()
                 .where(idempotency_keys.c.principal == bindparam("k_principal"),
                        idempotency_keys.c.key == bindparam("k_key"))
                 .values(outcome=bindparam("v_outcome"), response_body=bindparam("v_body")))


class SqlIdempotency:
    def __init__(self, conn: AsyncConnection) -> None:
        self._conn = conn

    async def claim(self, principal: str, key: str, fingerprint: str, now: datetime, *,
                    subject: str | None = None) -> bool:
        # On PostgreSQL a concurrent claim of the same key waits here until the first
        # transaction ends: it then sees the stored answer, or takes the key if that rolled back.
        stmt = (upsert(self._conn, idempotency_keys)
                .values(principal=principal, key=key, fingerprint=fingerprint, subject=subject,
                        created_at=now)
                .on_conflict_do_nothing().returning(idempotency_keys.c.key))
        return (await self._conn.execute(stmt)).first() is not None

    async def claim_many(self, wanted: Sequence[tuple[str, IdempotencyClaim]],
                         now: datetime) -> set[tuple[str, str]]:
        """Claim (principal, claim) pairs at once; the (principal, key) pairs this
        transaction took (the others exist already)."""
        k = idempotency_keys.c
        stmt = (upsert(self._conn, idempotency_keys)
                .values([{"principal": p, "key": c.key, "fingerprint": c.fingerprint,
                          "subject": c.subject, "created_at": now}
                         for p, c in wanted])
                .on_conflict_do_nothing().returning(k.principal, k.key))
        return {(row.principal, row.key) for row in (await self._conn.execute(stmt)).all()}

    async def forget(self, subject: str) -> int:
        k = idempotency_keys.c
        result = await self._conn.execute(idempotency_keys.update().where(k.subject == subject)
                                          .values(fingerprint=ERASED, subject=None,
                                                  response_body=b""))
        return int(result.rowcount or 0)

    async def complete_many(self, answers: Sequence[tuple[str, str, StoredAnswer]]) -> None:
        await self._conn.execute(_COMPLETE_KEY, [
            {"k_principal": p, "k_key": key, "v_outcome": r.outcome, "v_body": r.for_replay}
            for p, key, r in answers])

    async def get(self, principal: str, key: str) -> IdempotencyRecord | None:
        k = idempotency_keys.c
        row = (await self._conn.execute(
            select(k.fingerprint, k.outcome, k.response_body)
            .where(k.principal == principal, k.key == key))).first()
        if row is None or row.outcome is None:
            return None
        return IdempotencyRecord(row.fingerprint,
                                 StoredAnswer(row.outcome, bytes(row.response_body)))

    async def complete(self, principal: str, key: str, response: StoredAnswer) -> None:
        k = idempotency_keys.c
        await self._conn.execute(
            idempotency_keys.update().where(k.principal == principal, k.key == key)
            .values(outcome=response.outcome, response_body=response.for_replay))
