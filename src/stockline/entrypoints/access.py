"""Who is calling and what it may do, whatever protocol carries the call.

The HTTP middleware and the gRPC server both read the credential with ``credential_in``
(``X-API-Key``, else ``Authorization: Bearer``, each sent at most once), check it within
the client address's budget of refused credentials (``guarded``), hold the caller's role
to the operation's rule (``rule_refusal``) and its rate limit (``limit_refusal``). Each
renders the refusals in its own way (problem+json, a gRPC status).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping

from stockline.adapters.auth_failures import FailureBudget
from stockline.adapters.authentication import AuthenticationFailed
from stockline.adapters.ratelimit import Decision
from stockline.domain.security import Permission, Principal

CREDENTIAL_NAMES = ("x-api-key", "authorization")
MISSING = "send an API key in X-API-Key or a bearer token"

Rule = tuple[Permission, ...]  # any one of them lets the caller's role in; () is public


class CredentialRefused(Exception):
    """No usable credential (401); ``malformed``: the request itself is wrong (400)."""

    def __init__(self, detail: str, *, malformed: bool = False) -> None:
        super().__init__(detail)
        self.detail, self.malformed = detail, malformed


class Throttled(Exception):
    """The client address has used up its budget of refused credentials (429)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many refused credentials from this address; retry in "
                         f"{retry_after} s")
        self.retry_after = retry_after


def credential_headers(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """X-API-Key and Authorization (names in lower case), each sent at most once: with
    two, which one counts would depend on who reads them (this server, a proxy, a log),
    so neither does."""
    found: dict[str, str] = {}
    for name, value in pairs:
        if name in CREDENTIAL_NAMES:
            if name in found:
                raise CredentialRefused(f"send the {name} header once, not several times",
                                        malformed=True)
            found[name] = value
    return found


def credential_in(headers: Mapping[str, str], fallback: str | None = None) -> str:
    """The key or token of ``credential_headers``' answer (``fallback`` when neither is
    sent: a WebSocket's ``?api_key=``); CredentialRefused without one."""
    given = headers.get("x-api-key")
    authorization = headers.get("authorization")
    if given is None and authorization is not None:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise CredentialRefused("the Authorization header must be 'Bearer <key or token>'")
        given = token.strip()
    if given is None:
        given = fallback
    if not given:
        raise CredentialRefused(MISSING)
    return given


async def guarded(budget: FailureBudget, address: str | None,
                  attempt: Callable[[], Awaitable[Principal]],
                  refusals: tuple[type[Exception], ...] = (CredentialRefused,
                                                           AuthenticationFailed)
                  ) -> Principal:
    """``attempt``'s principal, checked within ``address``'s budget: Throttled before the
    check when the budget is spent; a refusal (one of ``refusals``) is counted against it
    and raised again."""
    over = budget.admit(address)
    if over is not None:
        raise Throttled(over.retry_after)
    try:
        return await attempt()
    except refusals:
        await budget.spend(address)
        raise
    finally:
        budget.release(address)


def rule_refusal(principal: Principal, rule: Rule) -> str | None:
    """Why the caller's role may not call an operation of this rule (None: it may); the
    use case then checks the exact permission at every location the call touches."""
    if not rule or any(principal.may(permission) for permission in rule):
        return None
    return f"the {principal.role.value} role may not {' or '.join(p.value for p in rule)}"


def limit_refusal(decision: Decision | None) -> str | None:
    """Why a call over the caller's rate limit is refused (None: not over it)."""
    if decision is None or decision.allowed:
        return None
    return (f"over the rate limit of {decision.limit} requests at once; retry in "
            f"{decision.retry_after} s")
