"""Dashboard sessions: the signed cookie stands for the principal it was issued to until it
expires (never past the credential's own expiry); an altered or foreign cookie is nobody's;
the CSRF token is the session's own; the cookie counts from this server's pages only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stockline.adapters.sessions import SessionSigner, csrf_matches
from stockline.domain.security import Permission, Principal, Role
from stockline.entrypoints.http.session import same_origin, session_cookie

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
STAFF = Principal(id="key_1", name="till 4", role=Role.STORE_STAFF,
                  locations=frozenset({"ST-1", "ST-2"}))


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def signer(clock: Clock, secret: bytes = b"s" * 32) -> SessionSigner:
    return SessionSigner(secret, ttl=timedelta(hours=8), clock=clock)


def test_a_cookie_opens_to_its_principal_and_csrf_token() -> None:
    clock = Clock()
    value, issued = signer(clock).issue(STAFF)
    opened = signer(clock).open(value)
    assert opened is not None
    assert opened.principal == STAFF and opened.principal.locations == STAFF.locations
    assert opened.csrf_token == issued.csrf_token
    assert opened.expires_at == NOW + timedelta(hours=8)
    assert value.count(".") == 1  # a body and its signature


def test_a_session_ends_at_its_time_or_its_credential_s_expiry() -> None:
    clock = Clock()
    value, _ = signer(clock).issue(STAFF)
    clock.now = NOW + timedelta(hours=8)
    assert signer(clock).open(value) is None
    short = Principal(id="key_2", name="x", role=Role.MANAGER,
                      expires_at=NOW + timedelta(minutes=5))
    clock.now = NOW
    value, session = signer(clock).issue(short)
    assert session.expires_at == NOW + timedelta(minutes=5)
    clock.now = NOW + timedelta(minutes=5)
    assert signer(clock).open(value) is None


@pytest.mark.parametrize("alter", [
    lambda v: v[:-2] + ("AA" if not v.endswith("AA") else "BB"),  # the signature
    lambda v: ("f" if v[0] != "f" else "g") + v[1:],  # the body
    lambda v: v.split(".")[0],  # no signature
    lambda v: v + "." + v,  # two of them
    lambda v: "x" * 5000,  # too long to be ours
])
def test_an_altered_cookie_is_nobody_s(alter: object) -> None:
    clock = Clock()
    value, _ = signer(clock).issue(STAFF)
    assert signer(clock).open(alter(value)) is None  # type: ignore[operator]


def test_another_server_s_cookie_is_nobody_s() -> None:
    clock = Clock()
    value, _ = signer(clock, b"a" * 32).issue(STAFF)
    assert signer(clock, b"b" * 32).open(value) is None


def test_each_session_has_its_own_csrf_token() -> None:
    clock = Clock()
    _, one = signer(clock).issue(STAFF)
    _, two = signer(clock).issue(STAFF)
    assert one.csrf_token != two.csrf_token
    assert csrf_matches(one, one.csrf_token)
    assert not csrf_matches(one, two.csrf_token)
    assert not csrf_matches(one, None) and not csrf_matches(one, "")


def _scope(kind: str = "http", **headers: str) -> dict[str, object]:
    return {"type": kind, "scheme": "http", "headers": [
        (b"host", b"shop.example:8000"),
        *((k.replace("_", "-").encode(), v.encode()) for k, v in headers.items())]}


@pytest.mark.parametrize(("scope", "expected"), [
    (_scope(), True),  # a typed URL: no Origin
    (_scope(sec_fetch_site="same-origin", origin="null"), True),  # a form, no referrer
    (_scope(sec_fetch_site="same-site"), False),  # another port or subdomain
    (_scope(sec_fetch_site="cross-site"), False),
    (_scope(origin="http://shop.example:8000"), True),
    (_scope(origin="http://evil.example"), False),
    (_scope(origin="null"), False),
    (_scope("websocket"), False),  # a handshake names its page
    (_scope("websocket", origin="http://shop.example:8000"), True),
])
def test_the_cookie_counts_from_this_server_s_pages_only(scope: dict[str, object],
                                                        expected: bool) -> None:
    assert same_origin(scope) is expected


def test_the_session_cookie_is_read_among_others() -> None:
    scope = {"headers": [(b"cookie", b"theme=dark; stockline_session=abc.def; x=1")]}
    assert session_cookie(scope) == "abc.def"
    assert session_cookie({"headers": [(b"cookie", b"theme=dark")]}) is None


def test_a_session_s_principal_reads_its_own_locations_only() -> None:
    own = STAFF.own_locations_only()
    assert STAFF.may_at(Permission.INVENTORY_READ, "ST-9")  # the key, over the API
    assert not own.may_at(Permission.INVENTORY_READ, "ST-9")
    assert own.may_at(Permission.INVENTORY_READ, "ST-1")
    assert own.narrow(Permission.INVENTORY_READ, None) == STAFF.locations
    assert own.grant(Permission.SALES_READ) == STAFF.grant(Permission.SALES_READ)
    assert not own.may(Permission.KEYS_MANAGE)  # nothing granted that the role lacks
    manager = Principal(id="key_m", name="m", role=Role.MANAGER).own_locations_only()
    assert manager.visible(Permission.INVENTORY_READ) is None  # no locations: all of them
