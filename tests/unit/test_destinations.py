"""Where webhooks may go: the address rule, resolving and vetting, and the check made
before a webhook is created (no database; names resolve through a fake resolver)."""

from __future__ import annotations

import asyncio
from ipaddress import ip_address

import pytest

from stockline.adapters.destinations import Destinations, system_resolve
from stockline.domain.destinations import (
    DestinationRefused,
    IPAddress,
    Unresolvable,
    check_addresses,
    is_public,
)
from stockline.domain.errors import Forbidden, InvalidInput
from stockline.domain.security import Principal, Role
from stockline.services import webhooks

NOT_PUBLIC = [
    "127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "172.31.255.254", "192.168.1.1",
    "169.254.169.254", "169.254.0.1", "0.0.0.0", "0.1.2.3", "100.64.0.1", "100.127.0.1",
    "192.0.0.1", "192.0.2.1", "198.18.0.1", "198.51.100.1", "203.0.113.9", "224.0.0.1",
    "239.1.1.1", "240.0.0.1", "255.255.255.255",
    "::1", "::", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",
    "::127.0.0.1", "::ffff:0:7f00:1", "64:ff9b::7f00:1", "64:ff9b::a00:1", "64:ff9b:1::1",
    "2002:7f00:1::", "2002:c0a8:101::", "2001::1", "2001:db8::1", "fc00::1", "fd12:3456::1",
    "fe80::1", "fe80::1%1", "fec0::1", "ff02::1", "ff0e::1", "100::1",
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.215.14", "2606:4700::1111",
          "2001:4860:4860::8888", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::"]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_loopback_private_link_local_and_reserved_addresses_are_not_public(
        address: str) -> None:
    assert not is_public(ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_internet_addresses_are_public_also_when_carried_in_ipv6(address: str) -> None:
    assert is_public(ip_address(address))


def test_one_address_that_is_not_public_refuses_the_whole_destination() -> None:
    public, private = ip_address("8.8.8.8"), ip_address("10.0.0.1")
    check_addresses("ok.example", [public], allow_private=False)
    with pytest.raises(DestinationRefused) as refused:
        check_addresses("mixed.example", [public, private], allow_private=False)
    assert "mixed.example" in str(refused.value) and "10.0.0.1" not in str(refused.value)
    check_addresses("mixed.example", [public, private], allow_private=True)
    with pytest.raises(Unresolvable):
        check_addresses("nothing.example", [], allow_private=True)


class FakeResolver:
    """Names to addresses, recording the look-ups. An IP address resolves to itself, as
    with the system's resolver; any other name not in the table does not resolve."""

    def __init__(self, names: dict[str, list[str]], delay: float = 0.0) -> None:
        self.names, self.delay = names, delay
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.asked.append(host)
        await asyncio.sleep(self.delay)
        if host in self.names:
            return [ip_address(a) for a in self.names[host]]
        try:
            return [ip_address(host)]
        except ValueError:
            raise Unresolvable(host) from None


async def test_every_address_a_name_resolves_to_is_vetted() -> None:
    resolver = FakeResolver({"hooks.example": ["203.0.114.7", "2606:4700::1"],
                             "inside.example": ["8.8.8.8", "192.168.0.10"]})
    destinations = Destinations(allow_private=False, timeout_seconds=5, resolve=resolver)
    assert [str(a) for a in await destinations.addresses("hooks.example", 443)] == [
        "203.0.114.7", "2606:4700::1"]
    with pytest.raises(DestinationRefused):
        await destinations.addresses("inside.example", 443)
    with pytest.raises(Unresolvable):
        await destinations.addresses("nowhere.example", 443)


async def test_a_resolver_that_takes_too_long_counts_as_no_answer() -> None:
    slow = FakeResolver({"slow.example": ["8.8.8.8"]}, delay=5.0)
    destinations = Destinations(allow_private=False, timeout_seconds=0.05, resolve=slow)
    with pytest.raises(Unresolvable):
        await destinations.addresses("slow.example", 443)


@pytest.mark.parametrize(("host", "expected"), [
    ("127.0.0.1", ["127.0.0.1"]), ("::1", ["::1"]), ("127.1", ["127.0.0.1"]),
    ("2130706433", ["127.0.0.1"]), ("localhost", None)])
async def test_the_system_resolver_gives_what_a_connection_would_use(
        host: str, expected: list[str] | None) -> None:
    # numeric forms such as 127.1 and 2130706433 are loopback to the socket layer too
    found = await system_resolve(host, 80)
    assert found and all(a.is_loopback for a in found)
    if expected is not None:
        assert [str(a) for a in found] == expected


# -- the check before a webhook is made ---------------------------------------------------------

ADMIN = Principal(id="key_admin", name="admin", role=Role.ADMIN)
CLERK = Principal(id="key_clerk", name="clerk", role=Role.STORE_STAFF)


def refusing(names: dict[str, list[str]]) -> tuple[Destinations, FakeResolver]:
    resolver = FakeResolver(names)
    return Destinations(allow_private=False, timeout_seconds=5, resolve=resolver), resolver


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/hook", "http://10.0.0.8:8080/hook", "http://172.16.5.4/",
    "https://192.168.1.1/x", "http://169.254.169.254/latest/meta-data/", "http://[::1]:9000/",
    "http://[::ffff:127.0.0.1]/", "http://0.0.0.0:8000/", "http://internal.example/hook"])
async def test_a_url_that_leads_to_a_non_public_address_is_refused(url: str) -> None:
    destinations, _ = refusing({"internal.example": ["10.20.30.40"]})
    with pytest.raises(InvalidInput) as refused:
        await webhooks.check_destination(destinations, url, ADMIN)
    assert refused.value.field == "url"
    assert "public" in refused.value.message and "10.20.30.40" not in refused.value.message


async def test_a_public_url_is_taken_and_an_unresolvable_name_is_left_to_delivery() -> None:
    destinations, resolver = refusing({"hooks.example": ["203.0.114.7"]})
    await webhooks.check_destination(destinations, "https://hooks.example/in", ADMIN)
    await webhooks.check_destination(destinations, "https://not-yet.example/in", ADMIN)
    await webhooks.check_destination(destinations, "https://[2606:4700::1111]/in", ADMIN)
    assert resolver.asked == ["hooks.example", "not-yet.example", "2606:4700::1111"]


async def test_a_bad_url_is_refused_before_any_lookup() -> None:
    destinations, resolver = refusing({})
    with pytest.raises(InvalidInput) as refused:
        await webhooks.check_destination(destinations, "ftp://hooks.example/x", ADMIN)
    assert refused.value.field == "url" and resolver.asked == []


async def test_a_caller_who_may_not_manage_webhooks_learns_nothing_of_addresses() -> None:
    destinations, resolver = refusing({"internal.example": ["10.20.30.40"]})
    with pytest.raises(Forbidden):
        await webhooks.check_destination(destinations, "http://internal.example/", CLERK)
    assert resolver.asked == []


async def test_allowing_private_destinations_takes_them_without_a_lookup() -> None:
    resolver = FakeResolver({})
    allowing = Destinations(allow_private=True, timeout_seconds=5, resolve=resolver)
    for url in ("http://127.0.0.1:8080/hook", "http://localhost/hook", "http://10.0.0.8/"):
        await webhooks.check_destination(allowing, url, ADMIN)
    assert resolver.asked == []
