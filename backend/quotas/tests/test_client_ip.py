import pytest
from django.test import RequestFactory

from quotas.client_ip import client_ip, client_network


def _request(remote="198.51.100.10", forwarded=None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_without_proxies_remote_addr_is_used_and_the_header_ignored(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(_request(forwarded="203.0.113.5")) == "198.51.100.10"


@pytest.mark.parametrize(
    ("count", "forwarded", "expected"),
    [
        (1, "203.0.113.5", "203.0.113.5"),
        # Entries the client prepended are left of what the proxy appended.
        (1, "1.2.3.4, 203.0.113.5", "203.0.113.5"),
        (1, "9.9.9.9,8.8.8.8, 203.0.113.5", "203.0.113.5"),
        (2, "1.2.3.4, 203.0.113.5, 10.0.0.2", "203.0.113.5"),
        # Fewer entries than proxies: the request did not come through them.
        (2, "203.0.113.5", "198.51.100.10"),
        (1, "", "198.51.100.10"),
        (1, "not-an-ip", "198.51.100.10"),
        (1, "203.0.113.5:4711", "203.0.113.5"),
        (1, "[2001:db8::1]:443", "2001:db8::1"),
    ],
)
def test_behind_trusted_proxies_the_nth_from_the_right(settings, count, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = count
    assert client_ip(_request(forwarded=forwarded)) == expected


def test_ipv6_guests_are_counted_per_64(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    a = client_network(_request(remote="2001:db8:1:2::1"))
    b = client_network(_request(remote="2001:db8:1:2:ffff::9"))
    assert a == b == "2001:db8:1:2::/64"
    assert client_network(_request(remote="::ffff:198.51.100.7")) == "198.51.100.7"
