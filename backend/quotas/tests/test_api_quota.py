from datetime import datetime

import pytest
from django.test import RequestFactory

from quotas.selectors import usage_for

FILERS = "/api/filers/"


def _get(client, **extra):
    return client.get(FILERS, **extra)


@pytest.mark.django_db
def test_guest_over_quota_gets_429_with_retry_after(small_quotas, client_for):
    guest = client_for()
    remaining = [_get(guest)["X-RateLimit-Remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    refused = _get(guest)
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) > 0
    assert refused["X-RateLimit-Limit"] == "3"
    assert refused["X-RateLimit-Remaining"] == "0"
    assert int(refused["X-RateLimit-Reset"]) > 0
    body = refused.json()
    assert body["code"] == "quota_exceeded"
    assert "Premium lifts the limit" in body["detail"]
    assert "/premium" in body["detail"]


@pytest.mark.django_db
def test_every_data_endpoint_counts_404s_included(small_quotas, client_for):
    guest = client_for()
    assert guest.get("/api/filers/").status_code == 200
    assert guest.get("/api/filers/999/").status_code == 404
    assert guest.get("/api/filers/998/")["X-RateLimit-Remaining"] == "0"
    assert guest.get("/api/filers/").status_code == 429


@pytest.mark.django_db
def test_refused_by_permission_is_not_counted(small_quotas, client_for):
    guest = client_for()
    for _ in range(5):
        assert guest.get("/api/filers/1/holdings/").status_code == 401
    assert _get(guest)["X-RateLimit-Remaining"] == "2"


@pytest.mark.django_db
def test_premium_is_never_limited(small_quotas, client_for, premium_user):
    small_quotas.API_QUOTA_FREE = 1
    premium = client_for(premium_user)
    for _ in range(6):
        response = _get(premium)
        assert response.status_code == 200
        assert response["X-RateLimit-Limit"] == "unlimited"
        assert "X-RateLimit-Remaining" not in response
    assert premium.get("/api/filers/1/holdings/").status_code == 404  # premium, no filer


@pytest.mark.django_db
def test_forged_forwarded_for_does_not_reset_a_guest(small_quotas, client_for):
    small_quotas.TRUSTED_PROXIES = ["10.0.0.2"]
    guest = client_for()
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    statuses = [
        _get(guest, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.9", **proxy).status_code
        for n in range(5)
    ]
    assert statuses == [200, 200, 200, 429, 429]
    # Another real client behind the same proxy has its own allowance.
    other = _get(guest, HTTP_X_FORWARDED_FOR="203.0.113.10", **proxy)
    assert other.status_code == 200 and other["X-RateLimit-Remaining"] == "2"


@pytest.mark.django_db
def test_a_guest_reaching_the_app_directly_cannot_choose_its_address(small_quotas, client_for):
    """Issue 12, item 6: X-Forwarded-For from a sender that is not our proxy is ignored, so a
    client that reaches gunicorn past NGINX cannot escape the guest quota by naming a new
    address each time (hop counting believed the right-most entry from anyone)."""
    small_quotas.TRUSTED_PROXIES = ["10.0.0.2"]
    guest = client_for()
    direct = {"REMOTE_ADDR": "198.51.100.23"}
    statuses = [
        _get(guest, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}", **direct).status_code for n in range(5)
    ]
    assert statuses == [200, 200, 200, 429, 429]


@pytest.mark.django_db
def test_free_user_is_counted_per_user_across_addresses(small_quotas, client_for, free_user):
    free = client_for(free_user)
    statuses = [_get(free, REMOTE_ADDR=f"198.51.100.{n}").status_code for n in range(7)]
    assert statuses == [200] * 5 + [429, 429]
    assert "for your account" in _get(free).json()["detail"]
    # Guests at one of those addresses are counted on their own.
    assert _get(client_for(), REMOTE_ADDR="198.51.100.1").status_code == 200


@pytest.mark.django_db
def test_usage_for_reports_the_rolling_day(small_quotas, client_for, free_user):
    free = client_for(free_user)
    _get(free)
    _get(free)
    request = RequestFactory().get("/api/account/")
    request.user = free_user
    usage = usage_for(request)
    assert usage["used"] == 2 and usage["limit"] == 5
    resets_at = datetime.fromisoformat(usage["resets_at"])
    assert resets_at.tzinfo is not None
    assert usage_for(request)["used"] == 2  # reading usage is not a request


@pytest.mark.django_db
def test_usage_for_guest_and_premium(small_quotas, client_for, premium_user):
    _get(client_for(), REMOTE_ADDR="198.51.100.77")
    guest_request = RequestFactory().get("/", REMOTE_ADDR="198.51.100.77")
    from django.contrib.auth.models import AnonymousUser

    guest_request.user = AnonymousUser()
    assert usage_for(guest_request)["used"] == 1
    assert usage_for(guest_request)["limit"] == 3

    premium_request = RequestFactory().get("/")
    premium_request.user = premium_user
    assert usage_for(premium_request)["limit"] is None
