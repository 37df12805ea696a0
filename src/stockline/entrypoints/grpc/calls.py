"""Every call's admission and the rendering of its refusals.

A method is declared with ``@rpc(rule)``: before it runs, the
caller is authenticated from its metadata (``x-api-key``, or ``authorization: Bearer``)
by the same code as an HTTP request (``entrypoints.access``: the one Authenticator, the
client address's budget of refused credentials), its role held to the rule, and one token
taken from its rate limit bucket; whatever the method raises is answered as a status
(``status.refusal_of``).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import grpc
import structlog

from stockline.adapters.audit import AuditRecord, outcome_of
from stockline.adapters.authentication import AuthenticationFailed
from stockline.adapters.positions import format_position
from stockline.bootstrap import Container
from stockline.domain.security import Principal
from stockline.entrypoints.access import (
    CredentialRefused,
    Rule,
    Throttled,
    credential_headers,
    credential_in,
    guarded,
    limit_refusal,
    rule_refusal,
)
from stockline.entrypoints.grpc.status import (
    HTTP_EQUIVALENT,
    Refusal,
    abort,
    refusal_of,
    retry_later,
)
from stockline.entrypoints.http.metrics import Metrics

S = grpc.StatusCode
POSITION_METADATA = "stockline-position"
log = structlog.get_logger("stockline")
Req = TypeVar("Req")
Res = TypeVar("Res")
Svc = TypeVar("Svc", bound="Service")


@dataclass(frozen=True, slots=True)
class Call:
    """An admitted call: who makes it, and the credential it came with (an open stream
    checks it again while it lasts)."""

    principal: Principal
    credential: str
    context: Any


def peer_address(peer: str) -> str | None:
    """The client address of a gRPC peer (``ipv4:127.0.0.1:5000``, ``ipv6:[::1]:5000``)."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv4":
        return rest.rpartition(":")[0] or None
    if kind == "ipv6":
        return rest.rpartition(":")[0].strip("[]") or None
    return None


def _text_metadata(context: Any) -> list[tuple[str, str]]:
    return [(str(key).lower(), value) for key, value in context.invocation_metadata() or ()
            if isinstance(value, str)]


class Service:
    """What every servicer shares: the container, the admission and the audit of its
    calls. ``NAME``: the service's full name in the protos."""

    NAME = ""

    def __init__(self, container: Container, metrics: Metrics | None = None) -> None:
        self.container, self.metrics = container, metrics

    def observe(self, path: str, refusal: Refusal | None, seconds: float) -> None:
        if self.metrics is not None:
            code = S.OK if refusal is None else refusal.code
            self.metrics.call(path, code.name, seconds)

    def audit(self, path: str, at: datetime, context: Any, call: Call | None,
              refusal: Refusal | None, *, write: bool) -> None:
        """An audit entry for a write, and for a refused credential or permission (a
        flood of refusals from one address over its budget counted into one entry)."""
        code = S.OK if refusal is None else refusal.code
        status = HTTP_EQUIVALENT.get(code, 500)
        throttled = refusal is not None and refusal.throttled
        if not (write or throttled or status in (401, 403)):
            return
        principal = call.principal if call is not None else None
        record = AuditRecord(
            at=at, principal_id=principal.id if principal else None,
            principal_name=principal.name if principal else None,
            role=principal.role.value if principal else None, method="GRPC", path=path,
            route=path, status=status, outcome=outcome_of(status), request_id=None,
            ip=peer_address(context.peer()),
            detail=refusal.message if refusal is not None and (status == 401 or throttled)
            else None)
        trail = self.container.audit
        (trail.count_refusal if throttled else trail.record)(record)

    async def tell_position(self, context: Any) -> None:
        """A write's commit position in the trailing metadata (``stockline-position``), as
        REST's ``Stockline-Position`` header (PostgreSQL only)."""
        positions = self.container.positions
        if positions is None:
            return
        try:
            at = await positions.now()
        except Exception as exc:  # the write is committed: its answer goes out all the same
            log.warning("position_unavailable", error=str(exc)[:300])
            return
        context.set_trailing_metadata(((POSITION_METADATA, format_position(at)),))

    async def admit(self, context: Any, rule: Rule) -> Call:
        """The caller, let in by ``rule`` and its rate limit; a Refusal otherwise."""
        credential = ""

        async def attempt() -> Principal:
            nonlocal credential
            credential = credential_in(credential_headers(_text_metadata(context)))
            return await self.container.authenticator.authenticate(credential)

        try:
            principal = await guarded(self.container.auth_failures,
                                      peer_address(context.peer()), attempt)
        except Throttled as over:
            refusal = retry_later(S.RESOURCE_EXHAUSTED, str(over), "rate_limited",
                                  over.retry_after)
            refusal.throttled = True
            raise refusal from None
        except CredentialRefused as refused:
            code = S.INVALID_ARGUMENT if refused.malformed else S.UNAUTHENTICATED
            raise Refusal(code, refused.detail,
                          "bad_request" if refused.malformed else "unauthorized") from None
        except AuthenticationFailed as failed:
            raise Refusal(S.UNAUTHENTICATED, str(failed), "unauthorized") from None
        if (why := rule_refusal(principal, rule)) is not None:
            raise Refusal(S.PERMISSION_DENIED, why, "forbidden")
        decision = await self.container.limiter.check(principal.id, principal.role.value)
        if decision is not None and (why := limit_refusal(decision)) is not None:
            raise retry_later(S.RESOURCE_EXHAUSTED, why, "rate_limited", decision.retry_after)
        return Call(principal, credential, context)


Method = Callable[[Svc, Req, Call], Awaitable[Res]]


def rpc(rule: Rule, *, write: bool = False, each: bool = False) -> Callable[
        [Method[Svc, Req, Res]], Callable[[Svc, Req, Any], Awaitable[Res]]]:
    """A method of ``rule``: the caller admitted first, whatever it raises answered as a
    status. A server-streaming method writes its messages itself (``call.context.write``)
    and returns None. ``write``: every call is audited, as an HTTP write is; refused
    credentials and permissions always are. ``each``: a stream whose method audits each
    write it carries (``Service.audit``); the call itself is audited when it fails."""

    def wrap(method: Method[Svc, Req, Res]) -> Callable[[Svc, Req, Any], Awaitable[Res]]:
        @functools.wraps(method)
        async def handle(self: Svc, request: Req, context: Any) -> Res:
            at, started, call = datetime.now(UTC), time.perf_counter(), None
            path = f"/{self.NAME}/{method.__name__}"
            try:
                call = await self.admit(context, rule)
                answer = await method(self, request, call)
            except Exception as error:
                refusal = refusal_of(error)
                # Noted before the status goes out: a client reads what it caused at once.
                self.observe(path, refusal, time.perf_counter() - started)
                self.audit(path, at, context, call, refusal, write=write)
                await abort(context, refusal)
            self.observe(path, None, time.perf_counter() - started)
            self.audit(path, at, context, call, None, write=write and not each)
            if write or each:
                await self.tell_position(context)
            return answer

        return handle

    return wrap
