"""The connections webhook deliveries open, over real sockets: each goes to an address
that was vetted, found by a single look-up (no DNS rebinding between the check and the
connection), while the Host header, TLS SNI and the certificate check go by the name."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from stockline.adapters.destinations import Destinations
from stockline.domain.destinations import DestinationRefused, IPAddress


class Resolver:
    """Answers from a script, one answer per look-up (the last one repeats)."""

    def __init__(self, answers: list[list[str]]) -> None:
        self.answers, self.asked = answers, 0

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        answer = self.answers[min(self.asked, len(self.answers) - 1)]
        self.asked += 1
        return [ip_address(a) for a in answer]


class Receiver:
    """An HTTP(S) server on 127.0.0.1 recording the Host and SNI name of every request."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.hosts: list[str] = []
        self.sni: list[str | None] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.hosts.append(self.headers["Host"])
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            def record_sni(_sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
                receiver.sni.append(name)

            tls.sni_callback = record_sni
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def certificate_for(name: str, directory: Path) -> ssl.SSLContext:
    """A server context with a self-signed certificate for ``name`` only (no IP address);
    the certificate is written to ``directory/ca.pem`` for clients to trust."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (directory / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(directory / "ca.pem", directory / "key.pem")
    return context


def client(destinations: Destinations, timeout: float = 5.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=destinations.transport(httpx.Limits()), timeout=timeout)


async def test_a_name_is_looked_up_once_and_the_vetted_address_is_the_one_used(
        receiver: Receiver) -> None:
    # The first answer is public, later ones loopback: a sender that checked one answer
    # and connected by another look-up would reach the receiver on 127.0.0.1.
    rebinding = Resolver([["203.0.114.7"], ["127.0.0.1"]])
    destinations = Destinations(allow_private=False, timeout_seconds=5, resolve=rebinding)
    async with client(destinations, timeout=0.5) as http:
        with pytest.raises((httpx.ConnectError, httpx.ConnectTimeout)):
            await http.post(f"http://rebind.test:{receiver.port}/hook", content=b"{}")
    assert rebinding.asked == 1 and receiver.hosts == []


async def test_a_name_that_resolves_to_loopback_is_refused_at_the_connection(
        receiver: Receiver) -> None:
    resolver = Resolver([["127.0.0.1"]])
    destinations = Destinations(allow_private=False, timeout_seconds=5, resolve=resolver)
    async with client(destinations) as http:
        for url in (f"http://looks-public.test:{receiver.port}/hook",
                    f"http://127.0.0.1:{receiver.port}/hook"):
            with pytest.raises(DestinationRefused):
                await http.post(url, content=b"{}")
    assert receiver.hosts == []


async def test_allowed_private_destinations_are_reached_with_their_host_name(
        receiver: Receiver) -> None:
    destinations = Destinations(allow_private=True, timeout_seconds=5,
                                resolve=Resolver([["127.0.0.1"]]))
    async with client(destinations) as http:
        answer = await http.post(f"http://hooks.test:{receiver.port}/hook", content=b"{}")
    assert answer.status_code == 204
    assert receiver.hosts == [f"hooks.test:{receiver.port}"]


async def test_tls_names_the_host_and_checks_its_certificate_by_name(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tls = Receiver(certificate_for("hooks.test", tmp_path))
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))  # trust it, as an operator would
    try:
        destinations = Destinations(allow_private=True, timeout_seconds=5,
                                    resolve=Resolver([["127.0.0.1"]]))
        async with client(destinations) as http:
            answer = await http.post(f"https://hooks.test:{tls.port}/hook", content=b"{}")
            assert answer.status_code == 204
            assert tls.sni == ["hooks.test"]
            assert tls.hosts == [f"hooks.test:{tls.port}"]
            # the certificate names hooks.test, not the address: by address it is refused
            with pytest.raises(httpx.ConnectError):
                await http.post(f"https://127.0.0.1:{tls.port}/hook", content=b"{}")
    finally:
        tls.close()
