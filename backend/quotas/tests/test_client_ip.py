import pytest
from django.core.checks import registry
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from quotas.checks import trusted_proxies_valid
from quotas.client_ip import client_ip, client_network

NGINX = "10.0.0.2"


def _request(remote=NGINX, forwarded=None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_without_trusted_proxies_remote_addr_is_used_and_the_header_ignored(settings):
    settings.TRUSTED_PROXIES = []
    assert client_ip(_request(forwarded="203.0.113.5")) == NGINX


@pytest.mark.parametrize(
    ("proxies", "remote", "forwarded", "expected"),
    [
        ([NGINX], NGINX, "203.0.113.5", "203.0.113.5"),
        # Entries the client prepended are left of what the proxy appended.
        ([NGINX], NGINX, "1.2.3.4, 203.0.113.5", "203.0.113.5"),
        ([NGINX], NGINX, "9.9.9.9,8.8.8.8, 203.0.113.5", "203.0.113.5"),
        # Two proxies of ours (a load balancer, then NGINX): skip the trusted hops.
        (["10.0.0.0/24"], NGINX, "1.2.3.4, 203.0.113.5, 10.0.0.7", "203.0.113.5"),
        # A sender that is not ours: its header is ignored, whatever it says.
        ([NGINX], "198.51.100.10", "203.0.113.5", "198.51.100.10"),
        (["10.0.0.0/24"], "10.0.1.1", "203.0.113.5", "10.0.1.1"),
        # From our proxy without a header (its own health check): the proxy.
        ([NGINX], NGINX, "", NGINX),
        ([NGINX], NGINX, "not-an-ip", NGINX),
        # Garbage left of a good entry was written by the client: stop at the good one.
        (["10.0.0.0/24"], NGINX, "junk, 203.0.113.5, 10.0.0.7", "203.0.113.5"),
        ([NGINX], NGINX, "203.0.113.5:4711", "203.0.113.5"),
        ([NGINX], NGINX, "[2001:db8::1]:443", "2001:db8::1"),
        (["::1", "127.0.0.1"], "::1", "2001:db8::7", "2001:db8::7"),
    ],
)
def test_forwarded_for_is_believed_only_from_trusted_senders(
    settings, proxies, remote, forwarded, expected
):
    settings.TRUSTED_PROXIES = proxies
    assert client_ip(_request(remote=remote, forwarded=forwarded)) == expected


def test_a_bad_trusted_proxies_entry_is_a_system_check_error(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.2", "nginx"]
    with pytest.raises(ImproperlyConfigured, match="nginx"):
        client_ip(_request())
    assert trusted_proxies_valid in registry.registry.get_checks()
    assert [e.id for e in trusted_proxies_valid(None)] == ["quotas.E001"]


def test_ipv6_guests_are_counted_per_64(settings):
    settings.TRUSTED_PROXIES = []
    a = client_network(_request(remote="2001:db8:1:2::1"))
    b = client_network(_request(remote="2001:db8:1:2:ffff::9"))
    assert a == b == "2001:db8:1:2::/64"
    assert client_network(_request(remote="::ffff:198.51.100.7")) == "198.51.100.7"
