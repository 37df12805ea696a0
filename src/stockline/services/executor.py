"""Runs a use case in one transaction, with idempotency and retries of transient failures.

Every write goes through here, so the rules that hold for all of them live in one
place: the idempotency record shares the transaction of the write it guards
(a concurrent request with the same key waits on its unique index, then replays),
a business refusal is stored as the key's answer too, and nothing is committed
unless the whole use case succeeded.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from stockline.domain.errors import DomainError, Forbidden, IdempotencyKeyReused
from stockline.domain.security import Permission, Principal
from stockline.services.idempotency import RequestDigests
from stockline.services.ports import (
    IdempotencyClaim,
    StoredAnswer,
    UnitOfWork,
    UnitOfWorkFactory,
)

C = TypeVar("C")
R = TypeVar("R")
R_contra = TypeVar("R_contra", contravariant=True)


class TransientStorageError(Exception):
    """A conflict the database resolved by aborting us (deadlock, serialization): retry."""


class StorageUnavailable(Exception):
    """The database cannot be reached or is out of space: answer 503, change nothing."""


@dataclass(frozen=True, slots=True)
class Caller:
    """Who asks: ``principal`` scopes idempotency keys, ``actor`` is written to the ledger.

    ``access`` is the authenticated principal whose role and locations limit what it may
    do; None for Stockline's own jobs and tools (the demo loader, the expiry sweeper).
    """

    principal: str
    actor: str
    access: Principal | None = None


@dataclass(frozen=True, slots=True)
class Context:
    caller: Caller
    now: datetime
    digests: RequestDigests  # the keyed digests idempotency records are matched by

    @property
    def actor(self) -> str:
        return self.caller.actor

    def require(self, permission: Permission, *location_ids: str) -> None:
        """Forbidden unless the caller may do this at every location given."""
        if self.caller.access is not None:
            self.caller.access.require(permission, *location_ids)

    def may_at(self, permission: Permission, location_id: str) -> bool:
        """Whether ``require(permission, location_id)`` would let the caller through."""
        return self.caller.access is None or self.caller.access.may_at(permission, location_id)

    def allows(self, permission: Permission) -> bool:
        """Whether the caller's role has the permission (anywhere); Stockline's own jobs may."""
        return self.caller.access is None or self.caller.access.may(permission)

    def require_of(self, permission: Permission, what: str, location_id: str) -> None:
        """As ``require``, for an object the caller named by its id (a sale, a hold, ...):
        the refusal does not say where the object is, which the caller may not know."""
        access = self.caller.access
        if access is None:
            return
        access.require(permission)
        if not access.may_at(permission, location_id):
            raise Forbidden(f"{permission.value} is limited to this key's locations, and "
                            f"this {what} is not at one of them")


class Responder(Protocol[R_contra]):
    """Turns a result or a refusal into its answer, in no protocol's terms (the write
    service's operations know how: services.writes)."""

    def ok(self, result: R_contra) -> StoredAnswer: ...
    def error(self, error: DomainError) -> StoredAnswer: ...


Handler = Callable[[UnitOfWork, C, Context], Awaitable[R]]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Executor:
    def __init__(self, uow_factory: UnitOfWorkFactory, *, attempts: int = 5,
                 clock: Callable[[], datetime] = utcnow,
                 on_commit: Callable[[], None] | None = None,
                 digests: RequestDigests | None = None) -> None:
        """``digests``: keyed with the server's secret; without one (tools and tests that
        keep no record across processes), with a secret of this executor's own."""
        self._uow_factory = uow_factory
        self.digests = digests or RequestDigests.with_random_secret()
        self._attempts = attempts
        self._clock = clock
        # A hint to whoever forwards committed changes (the outbox relay): look now.
        self._on_commit = on_commit or (lambda: None)

    async def run(self, handler: Handler[C, R], command: C, caller: Caller) -> R:
        """Run a use case and commit; a refusal raises its DomainError and changes nothing."""
        for attempt in range(1, self._attempts + 1):
            try:
                async with self._uow_factory() as uow:
                    ctx = Context(caller, self._clock(), self.digests)
                    result = await handler(uow, command, ctx)
                    await uow.commit()
                    self._on_commit()
                    return result
            except TransientStorageError:
                if attempt == self._attempts:
                    raise
                await _backoff(attempt)
        raise AssertionError("unreachable")

    async def run_batch(self, handler: Handler[C, R], commands: Sequence[C],
                        caller: Caller) -> list[R | DomainError]:
        """Run many commands in one transaction and one commit, each all-or-nothing.

        Every command gets its own savepoint: a refusal rolls back that command alone
        and stands in its place in the answer, in the order given.
        """
        for attempt in range(1, self._attempts + 1):
            try:
                return await self._run_batch_once(handler, commands, caller)
            except TransientStorageError:
                if attempt == self._attempts:
                    raise
                await _backoff(attempt)
        raise AssertionError("unreachable")

    async def _run_batch_once(self, handler: Handler[C, R], commands: Sequence[C],
                              caller: Caller) -> list[R | DomainError]:
        async with self._uow_factory() as uow:
            ctx = Context(caller, self._clock(), self.digests)
            outcomes = await each_on_its_own(handler, uow, commands, ctx)
            await uow.commit()
        self._on_commit()
        return outcomes

    async def respond(self, handler: Handler[C, R], command: C, caller: Caller,
                      responder: Responder[R],
                      claim: IdempotencyClaim | None = None) -> StoredAnswer:
        """Run a use case and answer; with a claim, the answer is kept for replays."""
        if claim is None:
            try:
                return responder.ok(await self.run(handler, command, caller))
            except DomainError as error:
                return responder.error(error)
        for attempt in range(1, self._attempts + 1):
            try:
                return await self._respond_once(handler, command, caller, responder, claim)
            except TransientStorageError:
                if attempt == self._attempts:
                    raise
                await _backoff(attempt)
        raise AssertionError("unreachable")

    async def _respond_once(self, handler: Handler[C, R], command: C, caller: Caller,
                            responder: Responder[R], claim: IdempotencyClaim) -> StoredAnswer:
        ctx = Context(caller, self._clock(), self.digests)
        async with self._uow_factory() as uow:
            if not await uow.idempotency.claim(caller.principal, claim.key, claim.fingerprint,
                                               ctx.now, subject=claim.subject):
                return await _replay(uow, caller, claim, responder)
            try:
                async with uow.savepoint():
                    response = responder.ok(await handler(uow, command, ctx))
            except DomainError as error:
                response = responder.error(error)
            await uow.idempotency.complete(caller.principal, claim.key, response)
            await uow.commit()
            self._on_commit()
            return response


async def each_on_its_own(handler: Handler[C, R], uow: UnitOfWork, commands: Sequence[C],
                          ctx: Context) -> list[R | DomainError]:
    """Run the commands in order in one transaction, each in its own savepoint: a refusal
    rolls back that command alone and stands in its place in the answer."""
    outcomes: list[R | DomainError] = []
    for command in commands:
        try:
            async with uow.savepoint():
                outcomes.append(await handler(uow, command, ctx))
        except DomainError as error:
            outcomes.append(error)
    return outcomes


async def _replay(uow: UnitOfWork, caller: Caller, claim: IdempotencyClaim,
                  responder: Responder[R]) -> StoredAnswer:
    record = await uow.idempotency.get(caller.principal, claim.key)
    if record is None:  # claimed and released in between: the caller may simply retry
        raise TransientStorageError("idempotency record vanished")
    if not claim.matches(record.fingerprint):
        return responder.error(IdempotencyKeyReused(claim.key))
    return StoredAnswer(record.answer.outcome, record.answer.body, replayed=True)


async def _backoff(attempt: int) -> None:
    await asyncio.sleep(random.uniform(0, 0.005 * 2**attempt))
