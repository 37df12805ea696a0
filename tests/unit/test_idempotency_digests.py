"""The digests idempotency records keep are keyed with a secret every process shares."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from pydantic import ValidationError

from stockline.bootstrap import idempotency_digests
from stockline.config import Settings
from stockline.services.idempotency import RequestDigests

REQUEST = b'POST /v1/sales/record\n{"customer":{"ref":"LOYALTY-1"}}'


def test_a_digest_is_keyed_and_names_the_customer_apart() -> None:
    one, other = RequestDigests(b"k" * 32), RequestDigests(b"j" * 32)
    claim = one.claim("key-1", REQUEST, subject="LOYALTY-1")
    assert claim.fingerprint == one.claim("key-1", REQUEST).fingerprint
    assert claim.fingerprint != other.claim("key-1", REQUEST).fingerprint
    assert claim.fingerprint != hashlib.sha256(REQUEST).hexdigest()  # not testable offline
    assert claim.subject == one.subject("LOYALTY-1") != other.subject("LOYALTY-1")
    assert claim.subject != hashlib.sha256(b"LOYALTY-1").hexdigest()
    assert one.claim("key-1", REQUEST).subject is None


def test_the_secret_is_the_setting_else_one_kept_in_var_dir(tmp_path: Path) -> None:
    kept = Settings(env="test", var_dir=tmp_path / "var")
    first, again = idempotency_digests(kept), idempotency_digests(kept)  # a restart
    assert first.subject("C-1") == again.subject("C-1")
    assert (tmp_path / "var" / "idempotency_secret").stat().st_mode & 0o077 == 0
    other_node = idempotency_digests(Settings(env="test", var_dir=tmp_path / "other"))
    assert other_node.subject("C-1") != first.subject("C-1")
    shared = "s" * 32
    nodes = [idempotency_digests(Settings(env="test", var_dir=tmp_path / name,
                                          idempotency_secret=shared)) for name in "ab"]
    assert nodes[0].subject("C-1") == nodes[1].subject("C-1")
    assert nodes[0].subject("C-1") == RequestDigests(shared.encode()).subject("C-1")


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValidationError, match="at least 16"):
        Settings(env="test", idempotency_secret="short")
