"""OAuth2 client credentials (RFC 6749 §4.4): an API key buys a short-lived access token.

The client is an API key: ``client_id`` is the key's id (or its prefix) and
``client_secret`` the key itself, sent with HTTP Basic (preferred) or in the form body
(§2.3.1). The token (a JWT) carries the key's id as ``sub``; every request made with it
checks that the key is still usable, so revoking the key ends its tokens too.

Errors are problem+json whose ``code`` is the RFC's error code, and which also carry the
RFC's ``error`` and ``error_description`` fields, so that OAuth2 clients read them as
usual. When no signing key is configured, the server issues no tokens and answers
``unsupported_grant_type`` (400) to every request.
"""

from __future__ import annotations

import binascii
from base64 import b64decode
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

from fastapi import APIRouter, Request
from starlette.responses import Response

from stockline.adapters.credentials import TokenIssuer, secret_matches, split_api_key
from stockline.adapters.keys import KeyRecord, KeyStore
from stockline.domain.security import GRANTS, Role
from stockline.entrypoints.http.deps import NO_STORE, ContainerDep
from stockline.entrypoints.http.errors import Code, ProblemError
from stockline.entrypoints.http.schemas.common import Problem
from stockline.entrypoints.http.schemas.keys import JwksOut, TokenOut
from stockline.services.executor import utcnow

router = APIRouter(tags=["access"])

TOKEN_PATH = "/v1/oauth/token"
JWKS_PATH = "/.well-known/jwks.json"
FORM = "application/x-www-form-urlencoded"
BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="stockline", charset="UTF-8"'}

# RFC 6749 §5.2 error codes, as problem codes.
INVALID_REQUEST = Code(400, "invalid_request", "Invalid token request")
INVALID_CLIENT = Code(401, "invalid_client", "Client authentication failed")
UNSUPPORTED_GRANT_TYPE = Code(400, "unsupported_grant_type", "Unsupported grant type")
INVALID_SCOPE = Code(400, "invalid_scope", "Invalid scope")


def oauth_error(code: Code, description: str,
                headers: Mapping[str, str] | None = None) -> ProblemError:
    # error_description allows printable ASCII but '"' and '\' (RFC 6749 §5.2).
    text = "".join(c if 0x20 <= ord(c) < 0x7f and c not in '"\\' else "?"
                   for c in description)
    return ProblemError(code, text, {**NO_STORE, **(headers or {})}, error=code.code,
                        error_description=text)


_FORM_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["grant_type"],
    "properties": {
        "grant_type": {"type": "string", "enum": ["client_credentials"]},
        "client_id": {"type": "string", "description": "The API key's id or prefix (when "
                                                       "not sent with HTTP Basic)"},
        "client_secret": {"type": "string", "description": "The API key (when not sent "
                                                           "with HTTP Basic)"},
        "scope": {"type": "string", "description": "Optional, space-separated permissions; "
                                                   "each must be one the key's role holds"},
    },
    # Other parameters are ignored (RFC 6749 3.2), but none may be sent twice.
    "additionalProperties": {"type": "string"},
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "content": {"application/problem+json": {}},
             "description": description}
    for status, description in (
        (400, "invalid_request, unsupported_grant_type or invalid_scope (RFC 6749 §5.2)"),
        (401, "invalid_client: unknown client, wrong secret, or a revoked or expired key"),
        (429, "rate_limited: too many refused credentials from this address; retry after "
              "Retry-After seconds"))}


@router.post(TOKEN_PATH, response_model=TokenOut, responses=_ERRORS,
             summary="OAuth2 client credentials: an access token for an API key",
             description="RFC 6749 §4.4. Send `grant_type=client_credentials` form-encoded, "
                         "authenticating with HTTP Basic (`client_id` = the key's id or "
                         "prefix, `client_secret` = the key) or with `client_id` and "
                         "`client_secret` in the form. The token is a JWT that acts with the "
                         "key's role and locations until `expires_in` seconds pass or the key "
                         "is revoked. Errors carry the RFC's `error` and `error_description` "
                         "besides the problem fields. A server without a signing key "
                         "(STOCKLINE_TOKEN_SECRET or STOCKLINE_TOKEN_PRIVATE_KEY_FILE) issues "
                         "no tokens: 400 `unsupported_grant_type`.",
             openapi_extra={"requestBody": {"required": True, "content": {
                 FORM: {"schema": _FORM_SCHEMA}}}})
async def issue_token(request: Request, container: ContainerDep) -> Response:
    issuer = container.authenticator.tokens
    if issuer is None:
        raise oauth_error(UNSUPPORTED_GRANT_TYPE, "this server issues no access tokens: no "
                                                  "token signing key is configured")
    form = await _form(request)
    grant_type = form.get("grant_type")
    if grant_type is None:
        raise oauth_error(INVALID_REQUEST, "grant_type is missing")
    if grant_type != "client_credentials":
        raise oauth_error(UNSUPPORTED_GRANT_TYPE, "only grant_type=client_credentials is "
                                                  "supported")
    client_id, client_secret = _client_credentials(request, form)
    key = await _authenticate_client(container.authenticator.keys, client_id, client_secret)
    return _issue(issuer, key, form.get("scope"))


@router.get(JWKS_PATH, response_model=JwksOut, summary="The public keys that sign access tokens",
            description="RFC 7517. With RS256 (STOCKLINE_TOKEN_PRIVATE_KEY_FILE) the RSA public "
                        "key, by `kid`; with HS256 an empty set (a shared secret has no "
                        "public part).")
async def get_jwks(container: ContainerDep) -> Response:
    issuer = container.authenticator.tokens
    keys = JwksOut.model_validate(issuer.jwks() if issuer else {"keys": []})
    return Response(keys.model_dump_json(), media_type="application/json",
                    headers={"Cache-Control": "public, max-age=300"})


async def _form(request: Request) -> dict[str, str]:
    """The form parameters; empty ones count as left out, repeated ones are refused."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != FORM:
        raise oauth_error(INVALID_REQUEST, f"send the parameters as {FORM} (RFC 6749 section 4.4), "
                                           f"not '{media[:100] or 'nothing'}'")
    try:
        pairs = parse_qsl((await request.body()).decode("ascii"), keep_blank_values=True,
                          max_num_fields=20, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise oauth_error(INVALID_REQUEST, "the form body is not valid form-encoded UTF-8 "
                                           "(or has too many parameters)") from None
    form: dict[str, str] = {}
    for name, value in pairs:
        if name in form:
            raise oauth_error(INVALID_REQUEST, f"parameter {name[:64]} is given more than once")
        if value:
            form[name] = value
    return form


def _client_credentials(request: Request, form: Mapping[str, str]) -> tuple[str, str]:
    """(client_id, client_secret), sent one way, never two (§2.3)."""
    authorization = request.headers.get("authorization")
    if authorization is None:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if client_id is None or secret is None:
            raise oauth_error(INVALID_CLIENT, "authenticate the client with HTTP Basic, or "
                                              "send client_id and client_secret",
                              BASIC_CHALLENGE)
        return client_id, secret
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() != "basic":
        raise oauth_error(INVALID_CLIENT, "authenticate the client with HTTP Basic",
                          BASIC_CHALLENGE)
    try:
        decoded = b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    raw_id, colon, raw_secret = decoded.partition(":")
    if not colon or not raw_id or not raw_secret:
        raise oauth_error(INVALID_CLIENT, "the Basic credentials are not "
                                          "base64(client_id:client_secret)", BASIC_CHALLENGE)
    if "client_secret" in form:
        raise oauth_error(INVALID_REQUEST, "authenticate the client one way only: HTTP Basic "
                                           "or client_secret in the body, not both")
    client_id = unquote_plus(raw_id)  # §2.3.1: form-encoded, then Basic
    if form.get("client_id", client_id) != client_id:
        raise oauth_error(INVALID_REQUEST, "client_id in the body differs from HTTP Basic's")
    return client_id, unquote_plus(raw_secret)


async def _authenticate_client(keys: KeyStore, client_id: str,
                               client_secret: str) -> KeyRecord:
    """The usable API key that is this client; invalid_client (the same answer for every
    reason, so a caller learns nothing) otherwise. Every 401 names the Basic scheme
    (RFC 9110 §15.5.2), however the client sent its credentials."""
    now = utcnow()
    parts = split_api_key(client_secret)
    key = await keys.by_prefix(parts[0]) if parts is not None else None
    if (parts is None or key is None or client_id not in (key.id, key.prefix)
            or not secret_matches(parts[1], key.secret_hash) or not key.usable(now)):
        raise oauth_error(INVALID_CLIENT, "client authentication failed: unknown client, "
                                          "wrong secret, or a revoked or expired key",
                          BASIC_CHALLENGE)
    await keys.touch(key, now)
    return key


def _issue(issuer: TokenIssuer, key: KeyRecord, scope: str | None) -> Response:
    granted = sorted(p.value for p in GRANTS[Role(key.role)])
    unknown = sorted(set((scope or "").split()) - set(granted))
    if unknown:
        raise oauth_error(INVALID_SCOPE, f"the {key.role} role does not hold {unknown[0]}; "
                                         "leave scope out for the role's permissions")
    access_token, expires_in = issuer.issue(subject=key.id, role=key.role,
                                            locations=key.location_ids, now=utcnow())
    answer = TokenOut(access_token=access_token, token_type="Bearer", expires_in=expires_in,
                      scope=" ".join(granted))
    return Response(answer.model_dump_json(), media_type="application/json", headers=NO_STORE)
