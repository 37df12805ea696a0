"""OAuth2 client credentials (RFC 6749 §4.4) and bearer tokens, on SQLite and PostgreSQL.

Each suite runs its own in-process app over the session's database, configured for the
tokens it tests: HS256 with a secret, RS256 with a key file (and its JWKS), or an external
identity provider whose JWKS a local HTTP server publishes.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from stockline.adapters.credentials import new_rsa_key_pem
from stockline.bootstrap import bootstrap
from stockline.config import Settings
from tests.conftest import ADMIN_KEY
from tests.factories import (
    admin_client,
    as_key,
    assert_problem,
    create_api_key,
    create_product,
    create_store,
    line,
    receive,
    without_credentials,
)

TOKEN = "/v1/oauth/token"
JWKS = "/.well-known/jwks.json"
SECRET = "hs256-signing-secret-for-tests-0123456789abcdef"
GRANT = {"grant_type": "client_credentials"}
ISSUER, AUDIENCE = "stockline", "stockline-api"  # the defaults of Settings


def settings_for(database_url: str, var_dir: Path, **fields: Any) -> Settings:
    # Each app's refused clients and tokens, all from 127.0.0.1, stay within its budget.
    return Settings(database_url=database_url, admin_key=ADMIN_KEY, env="test",
                    log_level="warning", var_dir=var_dir, auth_failure_limit=100_000,
                    **fields)


@asynccontextmanager
async def app_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """An admin client of an app of its own (no background jobs: tokens need none)."""
    container = bootstrap(settings)
    try:
        async with admin_client(settings, container) as client:
            yield client
    finally:
        await container.close()


@pytest.fixture(scope="module")
async def hs(database_url: str, tmp_path_factory: pytest.TempPathFactory
             ) -> AsyncIterator[httpx.AsyncClient]:
    """The app with HS256 tokens."""
    settings = settings_for(database_url, tmp_path_factory.mktemp("hs"), token_secret=SECRET)
    async with app_client(settings) as client:
        yield client


def basic(client_id: str, client_secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


async def token_request(client: httpx.AsyncClient, form: dict[str, str] | None = None,
                        headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Response:
    """POST /v1/oauth/token without the admin key: only what the test gives is sent."""
    if form is not None:
        kwargs["data"] = form
    return await without_credentials(client, "POST", TOKEN, headers, **kwargs)


async def issued_token(client: httpx.AsyncClient, key: dict[str, Any]) -> str:
    response = await token_request(client, GRANT, basic(key["id"], key["key"]))
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def assert_oauth_error(response: httpx.Response, status: int, error: str) -> dict[str, Any]:
    """A problem whose code is the RFC 6749 error, with the RFC's own fields too."""
    body = assert_problem(response, status, error)
    assert body["error"] == error and body["error_description"] == body["detail"]
    assert all(0x20 <= ord(c) < 0x7f and c not in '"\\' for c in body["error_description"])
    assert response.headers["cache-control"] == "no-store"
    return body


def mint(key: Any = SECRET, algorithm: str = "HS256", headers: dict[str, Any] | None = None,
         **claims: Any) -> str:
    """A token made outside Stockline: valid-looking claims unless the test changes them."""
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "key_NONE", "role": "admin", "iat": now,
            "nbf": now, "exp": now + 300, **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key,
                      algorithm=algorithm, headers=headers)


# -- the token endpoint ---------------------------------------------------------------------

async def test_basic_credentials_buy_a_token_that_works_as_bearer(
        hs: httpx.AsyncClient) -> None:
    key = await create_api_key(hs, "partner")
    for client_id in (key["id"], key["prefix"]):
        response = await token_request(hs, GRANT, basic(client_id, key["key"]))
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["pragma"] == "no-cache"
        body = response.json()
        assert (body["token_type"], body["expires_in"]) == ("Bearer", 900)
        assert set(body["scope"].split()) == {"catalog:read", "locations:read",
                                              "inventory:read", "events:read"}
        token = body["access_token"]
        claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience=AUDIENCE)
        assert (claims["sub"], claims["iss"], claims["role"]) == (key["id"], ISSUER, "partner")
        assert claims["exp"] - claims["iat"] == 900
        assert (await as_key(hs, token, "GET", "/v1/products", bearer=True)).status_code == 200


async def test_credentials_in_the_form_body_work_too(hs: httpx.AsyncClient) -> None:
    key = await create_api_key(hs, "partner")
    response = await token_request(hs, {**GRANT, "client_id": key["id"],
                                        "client_secret": key["key"]})
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert (await as_key(hs, token, "GET", "/v1/products", bearer=True)).status_code == 200


async def test_a_token_acts_with_the_keys_role_and_locations(hs: httpx.AsyncClient) -> None:
    store = (await create_store(hs))["code"]
    key = await create_api_key(hs, "store_staff", location_ids=[store])
    token = await issued_token(hs, key)
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience=AUDIENCE)
    assert (claims["role"], claims["locations"]) == ("store_staff", [store])
    partner = await issued_token(hs, await create_api_key(hs, "partner"))
    sale = {"location_id": store, "lines": [line("SKU-ANY")]}
    assert_problem(await as_key(hs, partner, "POST", "/v1/sales/record", json=sale,
                                bearer=True), 403, "forbidden")
    assert_problem(await as_key(hs, token, "GET", "/v1/api-keys", bearer=True),
                   403, "forbidden")


async def test_using_a_key_for_a_token_counts_as_a_use(hs: httpx.AsyncClient) -> None:
    key = await create_api_key(hs, "partner")
    await issued_token(hs, key)
    assert (await hs.get(f"/v1/api-keys/{key['id']}")).json()["last_used_at"] is not None


@pytest.mark.parametrize("case", ["wrong secret", "unknown client", "another key's id",
                                  "not a key", "revoked", "basic garbage", "basic no colon",
                                  "bearer scheme", "no credentials", "body wrong secret"])
async def test_a_client_that_does_not_authenticate_is_401_invalid_client(
        hs: httpx.AsyncClient, case: str) -> None:
    key = await create_api_key(hs, "partner")
    other = await create_api_key(hs, "partner")
    if case == "revoked":
        assert (await hs.delete(f"/v1/api-keys/{key['id']}")).status_code == 200
    headers = {
        "wrong secret": basic(key["id"], key["key"][:-2] + "xx"),
        "unknown client": basic("key_UNKNOWN", key["key"]),
        "another key's id": basic(other["id"], key["key"]),
        "not a key": basic(key["id"], "hunter2"),
        "revoked": basic(key["id"], key["key"]),
        "basic garbage": {"Authorization": "Basic %%%not-base64"},
        "basic no colon": {"Authorization": "Basic " + base64.b64encode(b"abc").decode()},
        "bearer scheme": {"Authorization": f"Bearer {key['key']}"},
    }.get(case)
    form = dict(GRANT)
    if case == "body wrong secret":
        form |= {"client_id": key["id"], "client_secret": other["key"]}
    response = await token_request(hs, form, headers)
    assert_oauth_error(response, 401, "invalid_client")
    assert response.headers["www-authenticate"].startswith("Basic")


async def test_the_form_is_checked_before_anything_is_issued(hs: httpx.AsyncClient) -> None:
    key = await create_api_key(hs, "partner")
    auth = basic(key["id"], key["key"])
    assert_oauth_error(await token_request(hs, {}, auth), 400, "invalid_request")
    assert_oauth_error(await token_request(hs, {"grant_type": ""}, auth), 400,
                       "invalid_request")  # an empty parameter counts as left out
    for grant in ("password", "authorization_code", "refresh_token", "CLIENT_CREDENTIALS"):
        assert_oauth_error(await token_request(hs, {"grant_type": grant}, auth), 400,
                           "unsupported_grant_type")
    assert_oauth_error(await token_request(hs, headers=auth, json=GRANT), 400,
                       "invalid_request")
    assert_oauth_error(await token_request(hs, headers=auth), 400, "invalid_request")
    repeated = {**auth, "Content-Type": "application/x-www-form-urlencoded"}
    assert_oauth_error(await token_request(
        hs, headers=repeated, content=b"grant_type=client_credentials&grant_type=password"),
        400, "invalid_request")
    assert_oauth_error(await token_request(hs, headers=repeated, content=b"grant_type=%ff%fe"),
                       400, "invalid_request")
    both = await token_request(hs, {**GRANT, "client_secret": key["key"]}, auth)
    assert_oauth_error(both, 400, "invalid_request")
    differing = await token_request(hs, {**GRANT, "client_id": "key_OTHER"}, auth)
    assert_oauth_error(differing, 400, "invalid_request")
    same = await token_request(hs, {**GRANT, "client_id": key["id"]}, auth)
    assert same.status_code == 200, same.text


async def test_a_scope_beyond_the_keys_role_is_refused(hs: httpx.AsyncClient) -> None:
    key = await create_api_key(hs, "partner")
    auth = basic(key["id"], key["key"])
    ok = await token_request(hs, {**GRANT, "scope": "catalog:read inventory:read"}, auth)
    assert ok.status_code == 200, ok.text
    assert_oauth_error(await token_request(hs, {**GRANT, "scope": "catalog:read sales:write"},
                                           auth), 400, "invalid_scope")


async def test_only_post_is_allowed_on_the_token_route(hs: httpx.AsyncClient) -> None:
    response = await without_credentials(hs, "GET", TOKEN)
    assert response.status_code == 405 and "POST" in response.headers["allow"]


# -- bearer tokens that are refused ------------------------------------------------------------

@pytest.mark.parametrize("case", ["expired", "wrong signature", "wrong audience",
                                  "wrong issuer", "alg none", "no exp", "unknown key",
                                  "tampered role", "not yet valid"])
async def test_bad_tokens_are_401(hs: httpx.AsyncClient, case: str) -> None:
    key = await create_api_key(hs, "partner")
    sub, now = key["id"], int(time.time())
    token = {
        "expired": lambda: mint(sub=sub, iat=now - 3600, nbf=now - 3600, exp=now - 120),
        "wrong signature": lambda: mint("another-secret-of-the-same-length-0123456789",
                                        sub=sub),
        "wrong audience": lambda: mint(sub=sub, aud="someone-else"),
        "wrong issuer": lambda: mint(sub=sub, iss="https://evil.example"),
        "alg none": lambda: mint(None, "none", sub=sub),
        "no exp": lambda: mint(sub=sub, exp=None),
        "unknown key": lambda: mint(sub="key_00000000000000000000000000"),
        "tampered role": lambda: "",  # made below from an issued token
        "not yet valid": lambda: mint(sub=sub, nbf=now + 3600, iat=now + 3600,
                                      exp=now + 7200),
    }[case]()
    if case == "tampered role":
        token = _tampered(await issued_token(hs, key), role="admin")
    # A sound token of the same key is accepted: the refusal is about the token.
    assert (await as_key(hs, mint(sub=sub), "GET", "/v1/products", bearer=True)
            ).status_code == 200
    refused = await as_key(hs, token, "GET", "/v1/products", bearer=True)
    assert_problem(refused, 401, "unauthorized")
    assert refused.headers["www-authenticate"] == 'Bearer error="invalid_token"'


def _tampered(token: str, **changes: Any) -> str:
    head, body, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims.update(changes)
    raw = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{head}.{raw}.{signature}"


async def test_revoking_a_key_ends_its_tokens_at_once(hs: httpx.AsyncClient) -> None:
    key = await create_api_key(hs, "partner")
    token = await issued_token(hs, key)
    assert (await as_key(hs, token, "GET", "/v1/products", bearer=True)).status_code == 200
    assert (await hs.delete(f"/v1/api-keys/{key['id']}")).status_code == 200
    assert_problem(await as_key(hs, token, "GET", "/v1/products", bearer=True), 401,
                   "unauthorized")


async def test_an_expired_keys_tokens_stop_working(hs: httpx.AsyncClient) -> None:
    expiry = time.time() + 1.5
    key = await create_api_key(hs, "partner", expires_at=_iso(expiry))
    token = await issued_token(hs, key)
    assert (await as_key(hs, token, "GET", "/v1/products", bearer=True)).status_code == 200
    await _sleep_until(expiry + 0.2)
    assert_problem(await as_key(hs, token, "GET", "/v1/products", bearer=True), 401,
                   "unauthorized")
    assert_oauth_error(await token_request(hs, GRANT, basic(key["id"], key["key"])), 401,
                       "invalid_client")


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch)) + (
        f".{int(epoch % 1 * 1e6):06d}+00:00")


async def _sleep_until(epoch: float) -> None:
    await asyncio.sleep(max(0.0, epoch - time.time()))


async def test_hs256_publishes_no_public_keys(hs: httpx.AsyncClient) -> None:
    response = await without_credentials(hs, "GET", JWKS)
    assert response.status_code == 200 and response.json() == {"keys": []}


async def test_the_routes_are_public_and_documented(hs: httpx.AsyncClient) -> None:
    paths = (await without_credentials(hs, "GET", "/openapi.json")).json()["paths"]
    operation = paths[TOKEN]["post"]
    form = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]
    assert form["schema"]["required"] == ["grant_type"]
    assert {"200", "400", "401"} <= set(operation["responses"])
    assert "security" not in operation
    assert set(paths[JWKS]) == {"get"}


async def test_without_a_signing_key_no_tokens_are_issued(client: httpx.AsyncClient) -> None:
    """The session's app has no token secret: the grant is unsupported, bearer JWTs 401."""
    key = await create_api_key(client, "partner")
    response = await token_request(client, GRANT, basic(key["id"], key["key"]))
    assert_oauth_error(response, 400, "unsupported_grant_type")
    assert "no access tokens" in response.json()["error_description"]
    assert (await without_credentials(client, "GET", JWKS)).json() == {"keys": []}
    assert_problem(await as_key(client, mint(sub=key["id"]), "GET", "/v1/products",
                                bearer=True), 401, "unauthorized")


# -- RS256 --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
async def rs(database_url: str, tmp_path_factory: pytest.TempPathFactory
             ) -> AsyncIterator[httpx.AsyncClient]:
    """The app with RS256 tokens, signed with a key file."""
    var_dir = tmp_path_factory.mktemp("rs")
    pem = var_dir / "token-key.pem"
    pem.write_bytes(new_rsa_key_pem())
    settings = settings_for(database_url, var_dir, token_private_key_file=pem)
    async with app_client(settings) as client:
        yield client


async def test_rs256_tokens_verify_with_the_published_jwks(rs: httpx.AsyncClient) -> None:
    key = await create_api_key(rs, "partner")
    token = await issued_token(rs, key)
    jwks = await without_credentials(rs, "GET", JWKS)
    assert jwks.status_code == 200 and jwks.headers["cache-control"].startswith("public")
    (published,) = jwks.json()["keys"]
    assert (published["kty"], published["alg"], published["use"]) == ("RSA", "RS256", "sig")
    assert jwt.get_unverified_header(token)["kid"] == published["kid"]
    claims = jwt.decode(token, jwt.PyJWK(published).key, algorithms=["RS256"],
                        audience=AUDIENCE, issuer=ISSUER)
    assert claims["sub"] == key["id"]
    assert (await as_key(rs, token, "GET", "/v1/products", bearer=True)).status_code == 200


async def test_rs256_refuses_other_keys_and_algorithm_confusion(rs: httpx.AsyncClient) -> None:
    key = await create_api_key(rs, "partner")
    (published,) = (await without_credentials(rs, "GET", JWKS)).json()["keys"]
    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = mint(impostor, "RS256", {"kid": published["kid"]}, sub=key["id"])
    public_pem = jwt.PyJWK(published).key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    # HS256 "signed" with the public key: a classic attack on servers that let the
    # token pick the algorithm (PyJWT refuses to sign with a PEM, so sign by hand).
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps({"iss": ISSUER, "aud": AUDIENCE, "sub": key["id"],
                            "exp": int(time.time()) + 300}).encode())
    mac = hmac.new(public_pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    confused = f"{head}.{body}.{_b64(mac)}"
    for token in (forged, confused, mint(sub=key["id"]), mint(None, "none", sub=key["id"])):
        assert_problem(await as_key(rs, token, "GET", "/v1/products", bearer=True), 401,
                       "unauthorized")


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


# -- an external identity provider ---------------------------------------------------------------

IDP_ISSUER, IDP_AUDIENCE, IDP_KID = "https://idp.example.test/", "stockline-prod", "idp-key-1"


class _Jwks(BaseHTTPRequestHandler):
    document = b""

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        if self.path != "/jwks.json":
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.document)))
        self.end_headers()
        self.wfile.write(self.document)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def idp_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def idp_jwks_url(idp_key: rsa.RSAPrivateKey) -> Iterator[str]:
    """The identity provider's JWKS, served over HTTP from 127.0.0.1."""
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(idp_key.public_key()))
    handler = type("Jwks", (_Jwks,), {"document": json.dumps(
        {"keys": [{**public, "kid": IDP_KID, "alg": "RS256", "use": "sig"}]}).encode()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
async def ext(database_url: str, tmp_path_factory: pytest.TempPathFactory,
              idp_jwks_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app accepting the IdP's tokens (and issuing HS256 tokens of its own)."""
    settings = settings_for(database_url, tmp_path_factory.mktemp("ext"), token_secret=SECRET,
                            external_jwks_url=idp_jwks_url, external_issuer=IDP_ISSUER,
                            external_audience=IDP_AUDIENCE)
    async with app_client(settings) as client:
        yield client


def idp_token(key: Any, **claims: Any) -> str:
    fields = {"iss": IDP_ISSUER, "aud": IDP_AUDIENCE, "sub": "alice@example.test", **claims}
    return mint(key, "RS256", {"kid": IDP_KID}, **fields)


async def test_an_idp_token_acts_with_its_role_and_locations(
        ext: httpx.AsyncClient, idp_key: rsa.RSAPrivateKey) -> None:
    mine, other = (await create_store(ext))["code"], (await create_store(ext))["code"]
    sku = (await create_product(ext))["sku"]
    for store in (mine, other):
        await receive(ext, store, sku, 5)
    staff = idp_token(idp_key, role="store_staff", locations=[mine])
    assert (await as_key(ext, staff, "GET", "/v1/products", bearer=True)).status_code == 200
    sold = await as_key(ext, staff, "POST", "/v1/sales/record", bearer=True,
                        json={"location_id": mine, "lines": [line(sku)]})
    assert sold.status_code == 201, sold.text
    assert_problem(await as_key(ext, staff, "POST", "/v1/sales/record", bearer=True,
                                json={"location_id": other, "lines": [line(sku)]}),
                   403, "forbidden")
    assert_problem(await as_key(ext, staff, "GET", "/v1/api-keys", bearer=True), 403,
                   "forbidden")
    admin = idp_token(idp_key, role="admin", sub="ops@example.test")
    created = await as_key(ext, admin, "POST", "/v1/api-keys", bearer=True,
                           json={"name": "made by the IdP's admin", "role": "partner"})
    assert created.status_code == 201, created.text
    assert created.json()["created_by"] == "ext:ops@example.test"


@pytest.mark.parametrize("case", ["wrong issuer", "wrong audience", "unknown role", "no role",
                                  "expired", "unknown kid", "other key", "alg none"])
async def test_idp_tokens_that_do_not_fit_are_401(
        ext: httpx.AsyncClient, idp_key: rsa.RSAPrivateKey, case: str) -> None:
    now = int(time.time())
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = {
        "wrong issuer": lambda: idp_token(idp_key, role="partner", iss="https://other/"),
        "wrong audience": lambda: idp_token(idp_key, role="partner", aud="another-api"),
        "unknown role": lambda: idp_token(idp_key, role="superuser"),
        "no role": lambda: idp_token(idp_key, role=None),
        "expired": lambda: idp_token(idp_key, role="partner", iat=now - 3600,
                                     nbf=now - 3600, exp=now - 120),
        "unknown kid": lambda: mint(idp_key, "RS256", {"kid": "nope"}, iss=IDP_ISSUER,
                                    aud=IDP_AUDIENCE, role="partner"),
        "other key": lambda: idp_token(stranger, role="partner"),
        "alg none": lambda: mint(None, "none", {"kid": IDP_KID}, iss=IDP_ISSUER,
                                 aud=IDP_AUDIENCE, role="partner"),
    }[case]()
    good = idp_token(idp_key, role="partner")
    assert (await as_key(ext, good, "GET", "/v1/products", bearer=True)).status_code == 200
    assert_problem(await as_key(ext, token, "GET", "/v1/products", bearer=True), 401,
                   "unauthorized")


@pytest.mark.parametrize("subject", ["s" * 97, "é" * 150, "", "tab\there", "nul\x00"])
async def test_an_idp_subject_that_cannot_be_an_actor_is_401_and_writes_nothing(
        ext: httpx.AsyncClient, idp_key: rsa.RSAPrivateKey, subject: str) -> None:
    """A subject is the actor of the token's writes and, as ``ext:<subject>``, the scope of
    its idempotency keys: 96 printable characters at most, as those columns hold."""
    store, sku = (await create_store(ext))["code"], (await create_product(ext))["sku"]
    await receive(ext, store, sku, 5)
    token = idp_token(idp_key, role="manager", sub=subject)
    sold = await without_credentials(ext, "POST", "/v1/sales/record", {
        "Authorization": f"Bearer {token}", "Idempotency-Key": "retry-1"},
        json={"location_id": store, "lines": [line(sku)]})
    assert_problem(sold, 401, "unauthorized")
    assert "subject" in sold.json()["detail"]
    assert (await ext.get(f"/v1/inventory/{store}/{sku}")).json()["on_hand"] == 5


async def test_an_idp_subject_of_96_characters_writes_as_its_actor(
        ext: httpx.AsyncClient, idp_key: rsa.RSAPrivateKey) -> None:
    store, sku = (await create_store(ext))["code"], (await create_product(ext))["sku"]
    await receive(ext, store, sku, 5)
    subject = ("ü€𝄞" * 32)[:96]
    token = idp_token(idp_key, role="manager", sub=subject)
    sale = {"location_id": store, "lines": [line(sku)]}
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "retry-1"}
    answers = [await without_credentials(ext, "POST", "/v1/sales/record", headers, json=sale)
               for _ in range(2)]
    assert [a.status_code for a in answers] == [201, 201], answers[0].text
    assert answers[1].headers["Idempotent-Replayed"] == "true"
    assert answers[0].json()["actor"] == subject
    assert (await ext.get(f"/v1/inventory/{store}/{sku}")).json()["on_hand"] == 4


async def test_own_tokens_still_work_beside_the_idp(ext: httpx.AsyncClient) -> None:
    key = await create_api_key(ext, "partner")
    token = await issued_token(ext, key)
    assert (await as_key(ext, token, "GET", "/v1/products", bearer=True)).status_code == 200
