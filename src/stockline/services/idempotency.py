"""Keyed digests of what an idempotency record keeps of a request.

A record must tell a retry (the same request) from a reuse of its key (another one), so it
keeps a digest of the request. A plain hash could be tested offline against guesses (a
customer reference is short and often guessable) by anyone holding a copy of the
database; an HMAC under the server's secret cannot. A request that names a customer also
keeps a digest of the reference alone, so that erasing the customer finds its records and
unlinks them (IdempotencyStore.forget).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from stockline.services.ports import IdempotencyClaim

MIN_SECRET_BYTES = 16


class RequestDigests:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the idempotency secret needs {MIN_SECRET_BYTES}+ bytes")
        self._secret = secret

    @classmethod
    def with_random_secret(cls) -> RequestDigests:
        return cls(secrets.token_bytes(32))

    def _digest(self, kind: bytes, text: bytes) -> str:
        return hmac.new(self._secret, kind + b"\0" + text, hashlib.sha256).hexdigest()

    def subject(self, ref: str) -> str:
        """Names the records of a customer's requests, without its reference."""
        return self._digest(b"subject", ref.encode())

    def claim(self, key: str, request: bytes, *, subject: str | None = None) -> IdempotencyClaim:
        """``request``: what identifies the request (method, path, body); ``subject``: the
        reference of the customer it names, if any."""
        return IdempotencyClaim(key, self._digest(b"request", request),
                                subject=self.subject(subject) if subject is not None else None)
