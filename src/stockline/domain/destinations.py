"""Where Stockline sends requests that users aim: public internet addresses only.

A webhook's URL is chosen by whoever manages webhooks, but the request comes from inside
Stockline's network. Aimed at loopback, a private network or a cloud metadata service
(169.254.169.254), it would reach what only the server itself can reach. So every
address a destination has, given as is or resolved from its name, must be public; the
operator may allow other addresses (``STOCKLINE_WEBHOOK_ALLOW_PRIVATE``) for tests and
receivers on their own network.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, IPv6Network

IPAddress = IPv4Address | IPv6Address

# Fixed reasons for the delivery log: they never carry what the remote side said or
# which way a connection failed, so the log cannot be used to map a network.
NOT_ALLOWED = "destination not allowed"
COULD_NOT_CONNECT = "could not connect"
CONNECTION_FAILED = "connection failed before an answer"

_NAT64 = IPv6Network("64:ff9b::/96")  # RFC 6052: the last 32 bits are an IPv4 address


@dataclass(slots=True)
class DestinationRefused(Exception):
    """A destination with an address that is not public, while only public ones are allowed.

    Which address it was is kept out of the message: the refusal is shown to users, and
    what an internal name resolves to is none of their business.
    """

    host: str

    def __str__(self) -> str:
        return (f"'{self.host}' is, or resolves to, an address that is not public "
                "(loopback, private, link-local, shared, multicast or reserved)")


class Unresolvable(Exception):  # noqa: N818 (a state, like the domain's NotFound)
    """A host name that resolved to no address (or not in time)."""


def is_public(address: IPAddress) -> bool:
    """Whether the address is a unicast one of the public internet.

    IPv6 forms that carry an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, NAT64
    ``64:ff9b::a.b.c.d``, 6to4 ``2002:...``) are judged by that address; the ones the
    standard library calls global but that are not (site-local ``fec0::/10``,
    multicast, the reserved ``::/8`` holding IPv4-compatible forms) are refused.
    """
    embedded = _embedded_ipv4(address) if isinstance(address, IPv6Address) else None
    if embedded is not None:
        return is_public(embedded)
    if isinstance(address, IPv6Address) and address.is_site_local:
        return False
    return address.is_global and not (address.is_multicast or address.is_reserved)


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFF_FFFF)
    return address.sixtofour


def check_addresses(host: str, addresses: list[IPAddress], *, allow_private: bool) -> None:
    """Refuse (``DestinationRefused``) unless every address is public, or others are allowed.

    One address that is not public is enough: the connection could go to any of them.
    """
    if not addresses:
        raise Unresolvable(host)
    if not allow_private and not all(is_public(a) for a in addresses):
        raise DestinationRefused(host)
