"""Resolving where a request goes, and connecting only to addresses that were vetted.

The rule (which addresses are public) is the domain's; this module applies it where the
network is: when a webhook is made (its URL's host, resolved then) and on every
connection a delivery opens. A delivery resolves its host once, vets every address and
connects to one of those very addresses: nothing resolves the name a second time, so a
DNS answer that changes between the check and the connection (DNS rebinding) cannot
steer it elsewhere. The URL is left as it is, so the ``Host`` header, TLS SNI and the
certificate check all still go by the name.
"""

from __future__ import annotations

import asyncio
import socket
import typing
from collections.abc import Awaitable, Callable
from ipaddress import ip_address

import httpcore
import httpx

from stockline.domain.destinations import IPAddress, Unresolvable, check_addresses
from stockline.domain.errors import InvalidInput

Resolve = Callable[[str, int], Awaitable[list[IPAddress]]]
_DEFAULT_PORTS = {"http": 80, "https": 443}


async def system_resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the system resolver gives (an IP address resolves to itself)."""
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port,
                                                             type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Unresolvable(host) from exc
    addresses: list[IPAddress] = []
    for *_, sockaddr in found:
        address = ip_address(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class Destinations:
    """Resolves hosts and vets their addresses by the domain's rule."""

    def __init__(self, *, allow_private: bool, timeout_seconds: float,
                 resolve: Resolve = system_resolve) -> None:
        self.allow_private = allow_private
        self._timeout, self._resolve = timeout_seconds, resolve

    async def addresses(self, host: str, port: int) -> list[IPAddress]:
        """The host's addresses, all vetted: ``DestinationRefused`` when one is not
        allowed, ``Unresolvable`` when there is none (or not within the timeout)."""
        try:
            async with asyncio.timeout(self._timeout):
                found = await self._resolve(host, port)
        except TimeoutError:
            raise Unresolvable(host) from None
        check_addresses(host, found, allow_private=self.allow_private)
        return found

    async def check(self, url: str) -> None:
        """Vet the host of a URL as a delivery would connect to it (see ``addresses``)."""
        if self.allow_private:
            return  # every address is allowed: nothing to resolve
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise InvalidInput("url", f"is not a valid URL ({exc})") from None
        await self.addresses(parsed.raw_host.decode("ascii"),
                             parsed.port or _DEFAULT_PORTS.get(parsed.scheme, 443))

    def transport(self, limits: httpx.Limits) -> httpx.AsyncBaseTransport:
        """An httpx transport whose every connection goes to an address vetted here."""
        return _VettedTransport(_VettedBackend(self), limits)


class _VettedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, resolving and vetting each host before connecting.

    Its methods take ``timeout`` because that is the interface httpcore calls.
    """

    def __init__(self, destinations: Destinations) -> None:
        self._destinations = destinations
        self._network = httpcore.AnyIOBackend()

    async def connect_tcp(
            self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109
            local_address: str | None = None,
            socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._destinations.addresses(host, port)
        for address in addresses[:-1]:  # the next one when one cannot be reached
            try:
                return await self._network.connect_tcp(
                    str(address), port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout):
                continue
        return await self._network.connect_tcp(
            str(addresses[-1]), port, timeout=timeout, local_address=local_address,
            socket_options=socket_options)

    async def connect_unix_socket(
            self, path: str, timeout: float | None = None,  # noqa: ASYNC109
            socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("deliveries go over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._network.sleep(seconds)


class _VettedTransport(httpx.AsyncHTTPTransport):
    """httpx's own HTTP transport over the vetting backend.

    httpx builds its connection pool without a way to name the network backend, so the
    pool is made again here with the same settings and the backend. Given a transport,
    httpx also ignores proxy variables (``HTTPS_PROXY``): deliveries connect directly,
    or a proxy would resolve and reach what the check refused.
    """

    def __init__(self, backend: httpcore.AsyncNetworkBackend, limits: httpx.Limits) -> None:
        super().__init__(limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend)
