"""The dashboard's page, its sign-in and sign-out, and its scripts and styles.

The page is one HTML document rendered here (the signed-in principal, the CSRF token)
with a small script of this package that reads and writes through the REST API and
follows the event stream, both with the session cookie. Nothing is loaded from elsewhere.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from string import Template
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from stockline.adapters.authentication import AuthenticationFailed
from stockline.adapters.sessions import Session
from stockline.domain.security import Principal
from stockline.entrypoints.access import Throttled, guarded
from stockline.entrypoints.http.errors import ProblemError
from stockline.entrypoints.http.session import (
    SESSION_COOKIE,
    check_csrf,
    same_origin,
    session_cookie,
)

HERE = Path(__file__).parent
PATH = "/dashboard"
MAX_FORM_BYTES = 4096
_TEMPLATES = {name: Template((HERE / "templates" / f"{name}.html").read_text())
              for name in ("signin", "app")}

router = APIRouter(include_in_schema=False)
assets = StaticFiles(directory=HERE / "static")
# The sign-in and sign-out forms (declared, so that the routes' body is expected).
FORM: dict[str, Any] = {"requestBody": {"content": {"application/x-www-form-urlencoded": {}}}}


def _signin_page(message: str = "", status: int = 200) -> HTMLResponse:
    alert = (f'<p class="alert" role="alert">{html.escape(message)}</p>' if message else "")
    return HTMLResponse(_TEMPLATES["signin"].substitute(alert=alert), status_code=status)


def _app_page(session: Session, principal: Principal) -> HTMLResponse:
    me = {"name": principal.name, "role": principal.role.value,
          "locations": sorted(principal.locations) if principal.locations is not None
          else None}
    return HTMLResponse(_TEMPLATES["app"].substitute(
        csrf=html.escape(session.csrf_token), name=html.escape(principal.name),
        role=html.escape(principal.role.value),
        me=html.escape(json.dumps(me, separators=(",", ":")))))


async def _session(request: Request) -> tuple[Session, Principal] | None:
    """The request's session and its principal, confirmed (None: no usable session)."""
    value = session_cookie(request.scope)
    container = request.app.state.container
    session = await container.sessions.open(value) if value is not None else None
    if session is None:
        return None
    try:
        principal = await container.authenticator.confirm(session.principal)
    except AuthenticationFailed:
        return None
    return session, principal.own_locations_only()


@router.get(PATH, name="dashboard")
async def page(request: Request) -> Response:
    """The dashboard for a signed-in browser; the sign-in form otherwise."""
    found = await _session(request)
    if found is None:
        return _signin_page()
    return _app_page(*found)


@router.post(f"{PATH}/session", openapi_extra=FORM)
async def sign_in(request: Request) -> Response:
    """Trade the API key of the form for a session cookie, within the client address's
    budget of refused credentials (a refused key counts as a refused request would)."""
    if not same_origin(request.scope):
        return _signin_page("Sign in from this server's own page.", 403)
    body = await request.body()
    key = dict(parse_qsl(body[:MAX_FORM_BYTES].decode("utf-8", "replace"))).get(
        "api_key", "").strip()
    if not key:
        return _signin_page("Enter an API key.", 422)
    container = request.app.state.container
    client = request.client.host if request.client else None
    try:
        principal = await guarded(container.auth_failures, client,
                                  lambda: container.authenticator.authenticate(key),
                                  refusals=(AuthenticationFailed,))
    except Throttled as over:
        return _signin_page(str(over), 429)
    except AuthenticationFailed:
        return _signin_page("That API key is not valid (unknown, revoked or expired).", 401)
    value, session = await container.sessions.begin(principal)
    answer = RedirectResponse(PATH, status_code=303)
    answer.set_cookie(SESSION_COOKIE, value, max_age=int(
        (session.expires_at - container.authenticator.now()).total_seconds()),
        path="/", httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return answer


@router.post(f"{PATH}/sign-out", openapi_extra=FORM)
async def sign_out(request: Request) -> Response:
    """End the browser's session: its row is deleted, so a copy of its cookie is refused
    on every node from now on (its form carries the CSRF token, as every write)."""
    found = await _session(request)
    if found is not None:
        form = dict(parse_qsl((await request.body())[:MAX_FORM_BYTES].decode(
            "utf-8", "replace")))
        try:
            check_csrf(found[0], form.get("csrf_token"))
        except ProblemError:
            return _signin_page("Sign out from the dashboard's own button.", 403)
        await request.app.state.container.sessions.end(found[0])
    answer = RedirectResponse(PATH, status_code=303)
    answer.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict",
                         secure=request.url.scheme == "https")
    return answer
