"""API key secrets and access tokens: what verifies, and what is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import pytest

from stockline.adapters.credentials import (
    TokenError,
    TokenIssuer,
    hash_secret,
    new_api_key,
    new_rsa_key_pem,
    secret_matches,
    split_api_key,
)
from stockline.bootstrap import token_issuer
from stockline.config import Settings


def test_a_new_key_is_found_by_its_prefix_and_checked_by_its_hash() -> None:
    issued = new_api_key()
    assert issued.key.startswith(f"sk_{issued.prefix}_")
    prefix, secret = split_api_key(issued.key) or ("", "")
    assert prefix == issued.prefix
    assert secret_matches(secret, issued.secret_hash)
    assert not secret_matches(secret + "x", issued.secret_hash)
    assert issued.secret_hash == hash_secret(secret) and secret not in issued.secret_hash


@pytest.mark.parametrize("key", ["", "sk_", "sk__x", "pk_abc_def", "sk_abc", "anything"])
def test_keys_not_in_our_format_are_not_split(key: str) -> None:
    assert split_api_key(key) is None


@pytest.fixture(params=["HS256", "RS256"])
def issuer(request: pytest.FixtureRequest) -> TokenIssuer:
    if request.param == "HS256":
        return TokenIssuer(issuer="stockline", audience="stockline-api",
                           ttl=timedelta(minutes=15), secret="s" * 48)
    return TokenIssuer(issuer="stockline", audience="stockline-api", ttl=timedelta(minutes=15),
                       private_key_pem=new_rsa_key_pem())


def test_an_issued_token_verifies_with_its_claims(issuer: TokenIssuer) -> None:
    token, ttl = issuer.issue(subject="key_1", role="store_staff", locations=["S1"],
                              now=datetime.now(UTC))
    claims = issuer.verify(token)
    assert (claims.subject, claims.role, claims.locations, ttl) == (
        "key_1", "store_staff", ["S1"], 900)


def test_expired_tokens_are_refused(issuer: TokenIssuer) -> None:
    token, _ = issuer.issue(subject="k", role="admin", locations=None,
                            now=datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(TokenError, match="expired"):
        issuer.verify(token)


def test_tokens_for_another_audience_or_issuer_are_refused(issuer: TokenIssuer) -> None:
    for other in (TokenIssuer(issuer="stockline", audience="someone-else",
                              ttl=timedelta(minutes=5), secret="t" * 48),
                  TokenIssuer(issuer="evil", audience="stockline-api",
                              ttl=timedelta(minutes=5), secret="t" * 48)):
        token, _ = other.issue(subject="k", role="admin", locations=None, now=datetime.now(UTC))
        with pytest.raises(TokenError):
            issuer.verify(token)


def test_alg_none_and_forged_signatures_are_refused(issuer: TokenIssuer) -> None:
    claims = {"iss": "stockline", "aud": "stockline-api", "sub": "k", "role": "admin",
              "exp": int((datetime.now(UTC) + timedelta(minutes=5)).timestamp())}
    unsigned = jwt.encode(claims, key=None, algorithm="none")
    with pytest.raises(TokenError):
        issuer.verify(unsigned)
    forged = jwt.encode(claims, "not-the-secret" * 4, algorithm="HS256")
    with pytest.raises(TokenError):
        issuer.verify(forged)
    token, _ = issuer.issue(subject="k", role="admin", locations=None, now=datetime.now(UTC))
    head, body, signature = token.split(".")
    tampered = f"{head}.{body[:-2]}AA.{signature}"
    with pytest.raises(TokenError):
        issuer.verify(tampered)


def test_rs256_publishes_its_public_key_and_hs256_none() -> None:
    rs = TokenIssuer(issuer="i", audience="a", ttl=timedelta(minutes=1),
                     private_key_pem=new_rsa_key_pem())
    (key,) = rs.jwks()["keys"]
    assert (key["kty"], key["alg"], key["kid"]) == ("RSA", "RS256", rs.key_id)
    token, _ = rs.issue(subject="k", role="admin", locations=None, now=datetime.now(UTC))
    public = jwt.PyJWK(key).key
    assert jwt.decode(token, public, algorithms=["RS256"], audience="a")["sub"] == "k"
    hs = TokenIssuer(issuer="i", audience="a", ttl=timedelta(minutes=1), secret="x" * 48)
    assert hs.jwks() == {"keys": []}


@pytest.mark.parametrize(("leeway", "accepted"), [(30, True), (0, False)])
def test_a_token_expired_ten_seconds_ago_passes_only_within_the_configured_leeway(
        leeway: int, accepted: bool) -> None:
    settings = Settings(token_secret="t" * 48, token_ttl_seconds=60,
                        token_leeway_seconds=leeway)
    issuer = token_issuer(settings)
    assert issuer is not None
    token, _ = issuer.issue(subject="k", role="admin", locations=None,
                            now=datetime.now(UTC) - timedelta(seconds=70))
    if accepted:
        assert issuer.verify(token).subject == "k"
    else:
        with pytest.raises(TokenError, match="expired"):
            issuer.verify(token)


@pytest.mark.parametrize("leeway", [-1, 301])
def test_the_token_leeway_is_bounded(leeway: int) -> None:
    with pytest.raises(ValueError, match="token_leeway_seconds"):
        Settings(token_leeway_seconds=leeway)
