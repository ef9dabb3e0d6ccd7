"""The client's IP address, believing ``X-Forwarded-For`` only from our own proxies."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_ip(request: HttpRequest) -> str:
    """The address the request came from, normalised; ``""`` when unknown.

    ``X-Forwarded-For`` is honoured by *sender*, not by hop count: only when the peer
    (``REMOTE_ADDR``) is one of ``TRUSTED_PROXIES``. Each trusted proxy appends the address it
    received the request from, so the entries are read from the right, skipping addresses
    that are trusted proxies themselves; the first other address is the client. Anything
    further left was written by the client and is ignored. A request that reaches the app
    directly (not from a trusted proxy) is the peer itself, whatever its headers say.
    """
    remote = _normalise(request.META.get("REMOTE_ADDR", ""))
    proxies = trusted_proxies()
    if not proxies or not _trusted(remote, proxies):
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    client = remote
    for hop in reversed(hops):
        address = _normalise(hop)
        if not address:
            break  # a proxy never writes garbage: the client did, stop at the last good hop
        client = address
        if not _trusted(address, proxies):
            break
    return client


def client_network(request: HttpRequest) -> str:
    """What guests are counted by: the IPv4 address, or the IPv6 /64 (one end site)."""
    address = client_ip(request)
    if not address:
        return "unknown"
    ip = ipaddress.ip_address(address)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def trusted_proxies() -> tuple[Network, ...]:
    """``settings.TRUSTED_PROXIES`` parsed (addresses or networks); ImproperlyConfigured on junk."""
    return _parse(tuple(getattr(settings, "TRUSTED_PROXIES", ()) or ()))


@lru_cache(maxsize=8)
def _parse(entries: tuple[str, ...]) -> tuple[Network, ...]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"TRUSTED_PROXIES: {entry!r} is not an IP address or network (e.g. 10.0.0.5 "
                "or 172.29.80.0/28)."
            ) from exc
    return tuple(networks)


def _trusted(address: str, proxies: tuple[Network, ...]) -> bool:
    if not address:
        return False
    ip = ipaddress.ip_address(address)
    return any(ip.version == net.version and ip in net for net in proxies)


def _normalise(value: str) -> str:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "203.0.113.7:51234"
        value = value.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return ""
    if ip.version == 6 and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)
