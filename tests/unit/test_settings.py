"""Production settings refuse missing, short, guessable or half-given secrets, and
`stockline serve` says so in a sentence, not a traceback."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from stockline.bootstrap import session_signer
from stockline.config import Settings
from stockline.domain.security import Principal, Role


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test passes counts: no STOCKLINE_* variable of the machine."""
    for name in list(os.environ):
        if name.startswith("STOCKLINE_"):
            monkeypatch.delenv(name)


def strong() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("certificate")
    key.write_text("key")
    return cert, key


def production(**fields: Any) -> Settings:
    given: dict[str, Any] = {"admin_key": strong(), "token_secret": strong(),
                             "idempotency_secret": strong(), "session_secret": strong(),
                             **fields}
    return Settings(env="production", **{k: v for k, v in given.items() if v is not None})


def refused(**fields: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        production(**fields)
    message = str(caught.value)
    assert "production settings refused" in message
    return message


def test_production_accepts_strong_secrets_and_a_whole_tls_pair(
        tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    settings = production(ssl_certfile=cert, ssl_keyfile=key)
    assert settings.env == "production" and settings.ssl_certfile == cert


def test_development_needs_no_secrets() -> None:
    settings = Settings()
    assert (settings.env, settings.admin_key, settings.token_secret) == (
        "development", None, None)


def test_production_refuses_a_missing_admin_key() -> None:
    with pytest.raises(ValidationError, match="STOCKLINE_ADMIN_KEY must be set"):
        Settings(env="production", token_secret=strong())


def test_production_refuses_a_short_admin_key() -> None:
    assert "STOCKLINE_ADMIN_KEY must be set to at least 32" in refused(admin_key=strong()[:31])


def test_production_refuses_a_short_token_secret() -> None:
    assert "STOCKLINE_TOKEN_SECRET must be at least 32" in refused(token_secret=strong()[:31])


def test_production_refuses_no_token_signing_key() -> None:
    with pytest.raises(ValidationError, match="access tokens need a signing key"):
        Settings(env="production", admin_key=strong())


def test_production_refuses_no_idempotency_secret_or_a_short_one() -> None:
    for given in (None, strong()[:31]):
        assert "STOCKLINE_IDEMPOTENCY_SECRET must be set to at least 32" in refused(
            idempotency_secret=given)


def test_production_accepts_an_rsa_key_file_instead_of_a_token_secret(tmp_path: Path) -> None:
    pem = tmp_path / "signing.pem"
    pem.write_text("PEM")
    settings = Settings(env="production", admin_key=strong(), token_private_key_file=pem,
                        idempotency_secret=strong(), session_secret=strong())
    assert settings.token_secret is None


@pytest.mark.parametrize("half", ["ssl_certfile", "ssl_keyfile"])
def test_production_refuses_half_a_tls_pair(half: str,
                                            tls_files: tuple[Path, Path]) -> None:
    path = tls_files[0] if half == "ssl_certfile" else tls_files[1]
    assert "STOCKLINE_SSL_CERTFILE and STOCKLINE_SSL_KEYFILE go together" in refused(
        **{half: path})


def test_production_refuses_tls_files_that_are_not_there(tmp_path: Path) -> None:
    message = refused(ssl_certfile=tmp_path / "none.pem", ssl_keyfile=tmp_path / "no.key")
    assert "STOCKLINE_SSL_CERTFILE names no readable file" in message
    assert "STOCKLINE_SSL_KEYFILE names no readable file" in message


@pytest.mark.parametrize("weak", ["a" * 40, "abababababababababababababababababab",
                                  "changeme-changeme-changeme-changeme-1234",
                                  "test-admin-key-test-admin-key-test-admin-key"])
def test_production_refuses_long_but_guessable_secrets(weak: str) -> None:
    assert "STOCKLINE_ADMIN_KEY is too easy to guess" in refused(admin_key=weak)
    assert "STOCKLINE_TOKEN_SECRET is too easy to guess" in refused(token_secret=weak)
    assert "STOCKLINE_IDEMPOTENCY_SECRET is too easy to guess" in refused(
        idempotency_secret=weak)


def test_production_refuses_one_secret_for_two_purposes() -> None:
    same = strong()
    assert "STOCKLINE_TOKEN_SECRET must differ" in refused(admin_key=same, token_secret=same)
    assert "STOCKLINE_IDEMPOTENCY_SECRET must differ" in refused(admin_key=same,
                                                                idempotency_secret=same)


def test_every_problem_is_named_at_once() -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(env="production", admin_key="short", ssl_keyfile=Path("key.pem"))
    message = str(caught.value)
    for problem in ("STOCKLINE_ADMIN_KEY must be set", "access tokens need a signing key",
                    "go together"):
        assert problem in message


# -- stockline serve ------------------------------------------------------------------------

def serve(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("STOCKLINE_")}
    environment.update({"STOCKLINE_VAR_DIR": str(tmp_path / "var"),
                        "STOCKLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'never.db'}", **env})
    return subprocess.run([sys.executable, "-m", "stockline.entrypoints.cli", "serve",
                           "--port", "1"], env=environment, capture_output=True, text=True,
                          timeout=60, check=False)


def test_serve_in_production_with_weak_settings_exits_with_the_reasons(tmp_path: Path) -> None:
    done = serve(tmp_path, STOCKLINE_ENV="production", STOCKLINE_ADMIN_KEY="tiny-Secret-42")
    assert done.returncode == 2, done
    output = " ".join((done.stdout + done.stderr).split())
    assert "the settings are refused" in output
    assert "STOCKLINE_ADMIN_KEY must be set to at least 32 characters" in output
    assert "access tokens need a signing key" in output
    assert "Traceback" not in output and "tiny-Secret-42" not in output  # never echoed
    assert not (tmp_path / "never.db").exists()


def test_serve_in_production_without_a_session_secret_exits_with_the_reason(
        tmp_path: Path) -> None:
    done = serve(tmp_path, STOCKLINE_ENV="production", STOCKLINE_ADMIN_KEY=strong(),
                 STOCKLINE_TOKEN_SECRET=strong(), STOCKLINE_IDEMPOTENCY_SECRET=strong())
    assert done.returncode == 2, done
    output = " ".join((done.stdout + done.stderr).split())
    assert "STOCKLINE_SESSION_SECRET must be set to at least 32 characters" in output
    assert "ADMIN_KEY" not in output and "Traceback" not in output
    assert not (tmp_path / "var" / "session_secret").exists()


def test_serve_with_half_a_tls_pair_exits_with_the_reason(tmp_path: Path,
                                                          tls_files: tuple[Path, Path]) -> None:
    done = serve(tmp_path, STOCKLINE_SSL_CERTFILE=str(tls_files[0]))
    assert done.returncode == 2, done
    output = " ".join((done.stdout + done.stderr).split())
    assert "TLS cannot start" in output and "go together" in output
    assert "Traceback" not in output


def test_serve_with_an_unusable_certificate_exits_with_the_reason(
        tmp_path: Path, tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files  # not PEM at all
    done = serve(tmp_path, STOCKLINE_SSL_CERTFILE=str(cert), STOCKLINE_SSL_KEYFILE=str(key))
    assert done.returncode == 2, done
    output = " ".join((done.stdout + done.stderr).split())
    assert "cannot load the certificate" in output and "Traceback" not in output


def test_production_refuses_a_weak_or_shared_session_secret() -> None:
    shared = strong()
    assert "STOCKLINE_SESSION_SECRET must differ" in refused(idempotency_secret=shared,
                                                             session_secret=shared)
    assert "STOCKLINE_SESSION_SECRET is too easy" in refused(session_secret="a" * 40)
    assert production(session_secret=strong()).session_secret is not None


def test_production_refuses_a_missing_or_short_session_secret() -> None:
    for given in (None, strong()[:31]):
        message = refused(session_secret=given)
        assert "STOCKLINE_SESSION_SECRET must be set to at least 32 characters" in message
        assert "the same on every node" in message


def test_development_makes_its_own_session_secret(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path)
    assert settings.session_secret is None
    one, two = session_signer(settings), session_signer(settings)
    value, _ = one.issue(Principal(id="k", name="k", role=Role.MANAGER))
    assert two.open(value) is not None  # every worker of the node reads the same secret
    assert (tmp_path / "session_secret").stat().st_mode & 0o077 == 0


def test_a_session_secret_needs_16_characters() -> None:
    with pytest.raises(ValidationError, match="at least 16 characters"):
        Settings(session_secret="short")
