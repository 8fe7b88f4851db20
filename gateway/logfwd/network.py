"""Which addresses a log-forwarding destination may reach: public ones, plus networks the operator allows.

A destination's host is tenant-supplied, so it is resolved and every address it resolves to is checked
before connecting (DESIGN.md §4); the connection then goes to the checked address, not to a second
lookup, so a name cannot be re-pointed between the check and the connection.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from dataclasses import dataclass

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class EgressRefused(Exception):
    """The destination may not be reached; the message says why and which setting would allow it."""


@dataclass(frozen=True, slots=True)
class EgressPolicy:
    """`allow_http`: plain http:// destinations are allowed (tests); `allow_networks`: non-public networks
    a destination may resolve to (e.g. 127.0.0.1/32 for a test's loopback receiver)."""

    allow_http: bool = False
    allow_networks: tuple[Network, ...] = ()

    @classmethod
    def from_settings(cls, allow_http: bool, allow_networks: Sequence[str]) -> EgressPolicy:
        try:
            networks = tuple(ipaddress.ip_network(text, strict=False) for text in allow_networks)
        except ValueError as error:
            raise ValueError(f"logfwd.allow_networks: {error}; expected CIDRs such as \"127.0.0.1/32\"") from None
        return cls(allow_http, networks)

    def check_scheme(self, scheme: str) -> None:
        if scheme == "https" or (scheme == "http" and self.allow_http):
            return
        if scheme == "http":
            raise EgressRefused("plain http:// destinations are not allowed; use https:// (logfwd.allow_http)")
        raise EgressRefused(f"the URL scheme '{scheme}' is not supported; use https://")

    def check_address(self, address: Address) -> None:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.allow_networks):
            return
        if not address.is_global or address.is_multicast:
            raise EgressRefused(
                f"the destination resolves to {address}, a loopback, private, link-local or reserved address;"
                " only public addresses are reached unless logfwd.allow_networks includes it"
            )

    def check_host(self, host: str) -> None:
        """At configuration time: refuse a literal address or `localhost` that could never be reached."""
        literal = _literal(host)
        if literal is not None:
            self.check_address(literal)
        elif host.lower().rstrip(".") == "localhost" or host.lower().endswith(".localhost"):
            self.check_address(ipaddress.ip_address("127.0.0.1"))

    async def resolve(self, host: str, port: int, timeout_s: float) -> Address:
        """The address to connect to: the first one `host` resolves to, once all of them are checked."""
        literal = _literal(host)
        if literal is not None:
            self.check_address(literal)
            return literal
        try:
            async with asyncio.timeout(timeout_s):
                found = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except TimeoutError:
            raise EgressRefused(f"resolving {host} took longer than {timeout_s:g}s") from None
        except OSError as error:
            raise EgressRefused(f"cannot resolve {host}: {error.strerror or error}") from None
        addresses = [ipaddress.ip_address(entry[4][0]) for entry in found]
        if not addresses:
            raise EgressRefused(f"{host} resolves to no address")
        for address in addresses:
            self.check_address(address)
        return addresses[0]


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
