"""The one write path: every entrypoint hands an operation, a command and a caller here.

API for entrypoints (REST, GraphQL, gRPC, the CLI)::

    outcome = await container.writes.execute(operation, command, caller, key=idempotency_key)

- ``operation``: an ``Operation`` (its use case, and its result as a JSON document); the
  shared ones live in ``stockline.entrypoints.operations`` (``RECORD_SALE``,
  ``UPDATE_INVENTORY``, ``SHIP_TRANSFER``, ``RESERVE``, ...). Use those: the document is
  what a replay answers, so the same operation must keep the same document whichever
  protocol asked first.
- ``command``: the domain command (``domain.commands``), built by the entrypoint from its
  request; ``caller``: ``executor.Caller`` (``principal`` scopes the key, ``access`` the
  authenticated Principal whose role and locations the use case checks).
- ``key``: the caller's idempotency key, or None. A key's record is matched by a digest of
  the operation's name and the command (``request``/``legacy`` are for REST's own routes),
  so a key first used over gRPC and retried over REST replays the same sale.

``execute`` never raises a refusal: ``outcome.error`` is the DomainError of a write that
ran and was refused (``outcome.result`` the domain result of one that was applied), and
``outcome.answer`` (a ``StoredAnswer``) is the answer in no protocol's terms: ``ok`` and
the result's document, or the refusal's code and its document (``{"detail", "code",
...data}``, see ``domain.refusals``). A replay (``outcome.replayed``) has only
``answer``. Storage failures raise (``StorageUnavailable``, ``TransientStorageError``
after retries). Each entrypoint renders the outcome in its own terms.

Here, and only here, the idempotency claim, the group commit of sales (when it is on),
the transaction and its events (the outbox rows the use case writes) come together.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson

from stockline.domain.errors import DomainError
from stockline.services.answers import refusal
from stockline.services.batching import GroupCommit
from stockline.services.executor import Caller, Executor, Handler
from stockline.services.ports import OK, IdempotencyClaim, StoredAnswer

C = TypeVar("C")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Operation(Generic[C, R]):
    """A write any entrypoint may ask for.

    ``document``: the result as its JSON document, which an idempotency record keeps and
    every replay answers; ``shown_once``: the first answer instead, when the result carries
    a secret that must never be kept; ``subject``: the reference of the customer the
    command names, if any (erasing the customer unlinks the record)."""

    name: str
    handler: Handler[C, R]
    document: Callable[[R], bytes]
    shown_once: Callable[[R], bytes] | None = None
    subject: Callable[[C], str | None] | None = None


@dataclass(frozen=True, slots=True)
class Outcome(Generic[R]):
    answer: StoredAnswer
    result: R | None = None
    error: DomainError | None = None

    @property
    def replayed(self) -> bool:
        return self.answer.replayed


class _Answers(Generic[R]):
    """The executor's Responder for one write: answers in no protocol's terms, and keeps
    the domain result or refusal for the entrypoint."""

    def __init__(self, operation: Operation[Any, R]) -> None:
        self._operation = operation
        self.result: R | None = None
        self.refused: DomainError | None = None

    def ok(self, result: R) -> StoredAnswer:
        self.result, self.refused = result, None
        kept = self._operation.document(result)
        if self._operation.shown_once is None:
            return StoredAnswer(OK, kept)
        return StoredAnswer(OK, self._operation.shown_once(result), kept=kept)

    def error(self, error: DomainError) -> StoredAnswer:
        self.result, self.refused = None, error
        return refusal(error)


def request_of(operation: Operation[C, Any], command: C) -> bytes:
    """What identifies a request of this operation, whatever protocol carried it."""
    return operation.name.encode() + b"\n" + orjson.dumps(command, default=_plain,
                                                          option=orjson.OPT_SORT_KEYS)


def _plain(value: object) -> object:
    if isinstance(value, frozenset | set):
        return sorted(value, key=str)
    return str(value)  # Decimal and the like: their exact text


class WriteService:
    """``grouped``: the group commits of the use cases that run in one (today the sale's,
    when STOCKLINE_SALE_BATCH_ENABLED): a write of such a use case joins its batch."""

    def __init__(self, executor: Executor,
                 grouped: Mapping[Handler[Any, Any], GroupCommit[Any, Any]] | None = None
                 ) -> None:
        self._executor = executor
        self._grouped = dict(grouped or {})

    async def execute(self, operation: Operation[C, R], command: C, caller: Caller, *,
                      key: str | None = None, request: bytes | None = None,
                      legacy: bytes | None = None) -> Outcome[R]:
        """Run the write once per key (see the module's docstring). ``request``: what
        identifies the request instead of the command (a command that holds what the
        server made for it, or a whole file); ``legacy``: the request as an earlier
        version identified it, so that its records still replay."""
        claim = self.claim(operation, command, key, request, legacy) if key else None
        answers = _Answers(operation)
        grouped = self._grouped.get(operation.handler)
        if grouped is not None:
            answer = await grouped.submit(command, caller, answers, claim)
        else:
            answer = await self._executor.respond(operation.handler, command, caller,
                                                  answers, claim)
        if answer.replayed:
            return Outcome(answer)
        return Outcome(answer, answers.result, answers.refused)

    async def run(self, handler: Handler[C, R], command: C, caller: Caller) -> R:
        """Run a write that keeps no idempotency record (one idempotent by nature); a
        refusal raises its DomainError."""
        return await self._executor.run(handler, command, caller)

    def claim(self, operation: Operation[C, Any], command: C, key: str,
              request: bytes | None = None, legacy: bytes | None = None) -> IdempotencyClaim:
        digests = self._executor.digests
        subject = operation.subject(command) if operation.subject is not None else None
        made = digests.claim(key, request if request is not None
                             else request_of(operation, command), subject=subject)
        if legacy is None:
            return made
        return IdempotencyClaim(made.key, made.fingerprint, made.subject,
                                also=(digests.claim(key, legacy).fingerprint,))
