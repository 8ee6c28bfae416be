"""Where webhooks may go: no server-side request forgery through an endpoint URL.

An endpoint is an address an admin typed, and the worker sends to it from inside the network. So
unless ``CARECENTER_WEBHOOKS_ALLOW_PRIVATE=true``, an endpoint whose host resolves to any loopback,
private, link-local, shared, multicast or otherwise non-public address is refused, when it is
registered and again at every delivery (a name may resolve differently later). At delivery the
worker connects to an address it checked (never resolving again), so a name that changes between
check and connect ("DNS rebinding") gains nothing.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit

MAX_URL = 2000


class RefusedAddress(ValueError):
    """The URL is not one webhooks may be sent to (the message says why)."""


def check_url(url: object) -> SplitResult:
    """The parts of a URL webhooks could go to, if it is well-formed: http(s), a host, no user or fragment."""
    if not isinstance(url, str) or not url.strip():
        raise RefusedAddress("url must be an http:// or https:// URL")
    if len(url) > MAX_URL:
        raise RefusedAddress(f"url must be at most {MAX_URL} characters")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RefusedAddress("url must be an http:// or https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise RefusedAddress("url must not carry a user name or password (the signature authenticates carecenter)")
    if parts.fragment:
        raise RefusedAddress("url must not have a #fragment")
    if any(ch.isspace() for ch in url.strip()):
        raise RefusedAddress("url must not contain spaces")
    try:
        parts.port  # noqa: B018  (raises ValueError for a port out of range)
    except ValueError:
        raise RefusedAddress("url has an invalid port") from None
    return parts


def port_of(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def is_public(address: str) -> bool:
    """Whether an IP address is one on the public internet (not loopback, private, link-local, ...)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def addresses(host: str, port: int, allow_private: bool) -> list[str]:
    """Every address ``host`` resolves to, checked; RefusedAddress if it resolves to none or to any non-public one."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise RefusedAddress(f"the host {host} cannot be resolved: {error}") from None
    resolved = list(dict.fromkeys(str(info[4][0]) for info in found))
    if not resolved:
        raise RefusedAddress(f"the host {host} resolves to no address")
    if not allow_private:
        for address in resolved:
            if not is_public(address):
                raise RefusedAddress(
                    f"the host {host} resolves to {address}, a loopback or private address; "
                    "webhooks go to public addresses only (unless CARECENTER_WEBHOOKS_ALLOW_PRIVATE=true)"
                )
    return resolved
