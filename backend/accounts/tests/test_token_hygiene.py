"""Token hygiene (issue 12, item 8): issuing is throttled, expired refresh tokens are flushed
on a schedule, and an empty refresh token is a declared 400."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import tasks
from accounts.models import User
from config.celery import app as celery_app

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_rate_limits() -> None:
    cache.clear()


def browser(user: User) -> APIClient:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    client.get("/api/auth/csrf/")
    client.credentials(HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value)
    return client


def test_issuing_tokens_is_throttled_per_user(settings):
    settings.ACCOUNTS_RATE_TOKEN_ISSUE = "3/hour"
    user = User.objects.create_user(username="li-issuer", email="i@example.com")
    client = browser(user)
    assert [client.post("/api/auth/token/").status_code for _ in range(3)] == [201] * 3
    refused = client.post("/api/auth/token/")
    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert OutstandingToken.objects.filter(user=user).count() == 3  # nothing issued on the 429
    other = User.objects.create_user(username="li-other", email="o@example.com")
    assert browser(other).post("/api/auth/token/").status_code == 201


@pytest.mark.parametrize(
    "body", [{"refresh": ""}, {"refresh": "   "}, {"refresh": "\f"}, {"refresh": "a.b\u0000.c"}, {}]
)
@pytest.mark.parametrize("path", ["/api/auth/token/refresh/", "/api/auth/token/revoke/"])
def test_an_empty_or_missing_refresh_token_is_a_json_400(path, body):
    response = APIClient().post(path, body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["detail"].startswith("refresh:")


def _outstanding(user: User, *, expired: bool, blacklisted: bool) -> RefreshToken:
    token = RefreshToken.for_user(user)
    row = OutstandingToken.objects.get(jti=token["jti"])
    if expired:
        row.expires_at = timezone.now() - timedelta(minutes=1)
        row.save(update_fields=["expires_at"])
    if blacklisted:
        BlacklistedToken.objects.create(token=row)
    return token


def test_the_nightly_flush_removes_expired_tokens_and_keeps_live_blacklist_entries():
    user = User.objects.create_user(username="li-flush", email="f@example.com")
    _outstanding(user, expired=True, blacklisted=False)
    _outstanding(user, expired=True, blacklisted=True)
    revoked = _outstanding(user, expired=False, blacklisted=True)
    live = _outstanding(user, expired=False, blacklisted=False)

    assert tasks.flush_expired_tokens.apply().get() == 2

    assert set(OutstandingToken.objects.values_list("jti", flat=True)) == {
        revoked["jti"],
        live["jti"],
    }
    assert BlacklistedToken.objects.count() == 1
    # A revoked token that has not expired stays refused after the flush.
    refused = APIClient().post("/api/auth/token/refresh/", {"refresh": str(revoked)}, format="json")
    assert refused.status_code == 401


def test_the_flush_is_on_celery_beats_schedule():
    entry = settings.CELERY_BEAT_SCHEDULE["accounts-flush-expired-tokens"]
    assert entry["task"] == tasks.flush_expired_tokens.name == "accounts.flush_expired_tokens"
    celery_app.loader.import_default_modules()  # what a worker does at start (autodiscovery)
    assert "accounts.flush_expired_tokens" in celery_app.tasks
