"""The client's IP address as the trusted proxies saw it."""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The address the request came from, normalised; ``""`` when unknown.

    Without proxies (``TRUSTED_PROXY_COUNT = 0``) that is ``REMOTE_ADDR``. Behind ``n``
    trusted proxies each appends the address it received the request from to
    ``X-Forwarded-For``, so the client is the ``n``-th entry from the right; anything
    further left was written by the client and is ignored (so prepending forged
    entries changes nothing). A header with fewer than ``n`` entries did not pass
    through all proxies, so ``REMOTE_ADDR`` is used.
    """
    remote = _normalise(request.META.get("REMOTE_ADDR", ""))
    trusted = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)
    if trusted <= 0:
        return remote
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    if len(hops) < trusted:
        return remote
    return _normalise(hops[-trusted]) or remote


def client_network(request: HttpRequest) -> str:
    """What guests are counted by: the IPv4 address, or the IPv6 /64 (one end site)."""
    address = client_ip(request)
    if not address:
        return "unknown"
    ip = ipaddress.ip_address(address)
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


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
