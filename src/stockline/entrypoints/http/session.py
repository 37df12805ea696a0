"""The dashboard's session cookie as a credential of the API, for this server's own pages.

A request that carries neither X-API-Key, Authorization nor a stream ticket may carry the
session cookie instead. It is accepted only from this server's own origin (a page of
another origin, even on the same site, cannot use it), and for a write (any method but
GET, HEAD and OPTIONS) only with the session's CSRF token in ``X-CSRF-Token``: 403
otherwise. The session must still have its row (not signed out, its key not revoked:
``adapters.sessions``). The principal is the one the key authenticated as at sign-in,
confirmed on every request by the same ``Authenticator.confirm`` a stream ticket goes
through, with every grant limited to the key's own locations (``Principal.own_only``):
the dashboard of a store's key reads its stores only, whatever its role may read
elsewhere over the API.
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie

from starlette.types import Scope

from stockline.adapters.authentication import AuthenticationFailed, Authenticator
from stockline.adapters.sessions import Session, Sessions, csrf_matches
from stockline.domain.security import Principal
from stockline.entrypoints.http.errors import FORBIDDEN, ProblemError

SESSION_COOKIE = "stockline_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_REFUSED = ("a write made with the dashboard's session needs its CSRF token in the "
                "X-CSRF-Token header")
FOREIGN = "the session cookie is accepted from this server's own pages only"
ENDED = "the session is not valid or has ended: sign in again"
SESSION_STATE = "dashboard_session"  # request state: the session a request came with


def _header(scope: Scope, name: bytes) -> str | None:
    values = [value for key, value in scope.get("headers", ()) if key == name]
    return values[0].decode("latin-1") if len(values) == 1 else None


def session_cookie(scope: Scope) -> str | None:
    """The session cookie's value a request carries (None: none)."""
    raw = b"; ".join(value for key, value in scope.get("headers", ()) if key == b"cookie")
    if SESSION_COOKIE.encode() not in raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw.decode("latin-1"))
    except CookieError:
        return None
    morsel = jar.get(SESSION_COOKIE)
    return morsel.value if morsel is not None else None


def own_origin(scope: Scope) -> str | None:
    """This server's origin as the request names it (scheme and Host)."""
    host = _header(scope, b"host")
    if host is None:
        return None
    scheme = {"ws": "http", "wss": "https"}.get(scope.get("scheme", "http"),
                                                 scope.get("scheme", "http"))
    return f"{scheme}://{host}"


def same_origin(scope: Scope) -> bool:
    """The request comes from a page of this server, or from no page at all (a typed
    URL). Browsers say so in Sec-Fetch-Site, which no page can set; without it, the Origin
    must be this server's (none: a plain GET). The page's no-referrer policy makes a
    browser send ``Origin: null`` on its forms, so Sec-Fetch-Site is read first."""
    site = _header(scope, b"sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = _header(scope, b"origin")
    if origin is None:
        return bool(scope["type"] == "http")
    return origin == own_origin(scope)


async def session_principal(scope: Scope, value: str, sessions: Sessions,
                            authenticator: Authenticator) -> Principal:
    """The principal of the session cookie ``value``: AuthenticationFailed when it is not
    valid, has ended, or is not from this origin; a 403 for a write without the CSRF
    token. The session is kept in the request's state (an open stream checks it again)."""
    if not same_origin(scope):
        raise AuthenticationFailed(FOREIGN)
    session = await sessions.open(value)
    if session is None:
        raise AuthenticationFailed(ENDED)
    if scope["type"] == "http" and scope.get("method") not in SAFE_METHODS:
        check_csrf(session, _header(scope, CSRF_HEADER.encode()))
    scope.setdefault("state", {})[SESSION_STATE] = session
    return (await authenticator.confirm(session.principal)).own_locations_only()


def session_of(scope: Scope) -> Session | None:
    """The session the request came with (None: it came with another credential)."""
    found = scope.get("state", {}).get(SESSION_STATE)
    return found if isinstance(found, Session) else None


def check_csrf(session: Session, given: str | None) -> None:
    if not csrf_matches(session, given):
        raise ProblemError(FORBIDDEN, CSRF_REFUSED)
