"""Where a request comes from: the client's address, as far as the site's own proxies vouch.

Anonymous visitors can drop their session cookie at will, so their rate limits and budgets
also count per address. ``X-Forwarded-For`` is anyone's to write: it is read only when
``TRUSTED_PROXIES`` says how many proxies of the site's own append to it, and then only the
entry the outermost of them wrote.
"""

from __future__ import annotations

import ipaddress

from django.http import HttpRequest

from ..conf import conf

# One IPv6 subscriber commonly holds a whole /64: counting single addresses there would let a
# visitor take a fresh one for every request.
IPV6_PREFIX = 64


def _address(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_address(request: HttpRequest) -> str | None:
    """The client's IP address: ``REMOTE_ADDR``, or the entry ``TRUSTED_PROXIES`` places from
    the right of ``X-Forwarded-For``. ``None`` if neither holds an address."""
    remote = _address(request.META.get("REMOTE_ADDR"))
    proxies = conf.TRUSTED_PROXIES
    if proxies <= 0:
        return remote
    header = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in header.split(",") if hop.strip()]
    if len(hops) < proxies:
        return remote  # it did not come through all of our proxies
    return _address(hops[-proxies]) or remote


def address_key(address: str) -> str:
    """What limits count under for ``address``: itself (IPv4), or its /64 network (IPv6)."""
    parsed = ipaddress.ip_address(address)
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        return str(parsed.ipv4_mapped)
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/{IPV6_PREFIX}", strict=False))
    return str(parsed)
