"""System checks of billing (billing/checks.py): the e-mail settings ``check --deploy`` looks
at (the Stripe stand-in checks are run under production settings in config/tests)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.test import override_settings

from billing.checks import email_configured

BACKEND = Path(__file__).resolve().parents[2]
SMTP = "django.core.mail.backends.smtp.EmailBackend"
CONFIGURED = {
    "EMAIL_BACKEND": SMTP,
    "EMAIL_HOST": "smtp.mailprovider.example",
    "EMAIL_HOST_USER": "apikey",
    "EMAIL_HOST_PASSWORD": "not-a-real-password",
    "EMAIL_USE_TLS": True,
    "DEFAULT_FROM_EMAIL": "Open SEC Data <billing@opensecdata.example>",
}


def ids(warnings: list) -> list[str]:
    return [warning.id for warning in warnings]


def test_a_configured_relay_passes() -> None:
    with override_settings(**CONFIGURED):
        assert email_configured(None) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"EMAIL_HOST": ""}, ["billing.W001"]),
        ({"DEFAULT_FROM_EMAIL": "Open SEC Data <billing@localhost>"}, ["billing.W002"]),
        ({"DEFAULT_FROM_EMAIL": "webmaster@localhost"}, ["billing.W002"]),  # Django's default
        ({"EMAIL_USE_TLS": False}, ["billing.W003"]),  # the password in clear
        ({"EMAIL_USE_TLS": False, "EMAIL_HOST": "127.0.0.1"}, []),  # a relay on this host
        ({"EMAIL_USE_TLS": False, "EMAIL_HOST_PASSWORD": ""}, []),  # nothing secret to send
    ],
)
def test_each_problem_is_named(change: dict, expected: list[str]) -> None:
    with override_settings(**{**CONFIGURED, **change}):
        found = email_configured(None)
    assert ids(found) == expected
    for warning in found:
        assert "not-a-real-password" not in warning.msg + (warning.hint or "")


def test_only_with_deploy_and_production_reads_the_environment() -> None:
    """Under production settings: EMAIL_USE_TLS is on unless said otherwise, a blank port is
    the default, and `check --deploy` names a missing relay (W001) but plain `check` does not."""
    env = {
        "PATH": "/usr/bin:/bin",
        "VAR_DIR": str(BACKEND.parent / "var" / "settings-tests"),
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": "test-only-secret-key-4f9c1e7a2b8d3f6e0a5c9b1d7e2f8a3c-0123456789",
        "DJANGO_ALLOWED_HOSTS": "opensecdata.example",
        "STRIPE_SECRET_KEY": "sk_test_checkstest00000000000000000",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_checkstest00000000000000000",
        "STRIPE_WEBHOOK_SECRET": "whsec_checkstest000000000000000000",
        "JWT_SIGNING_KEY": "test-only-jwt-signing-key-0123456789abcdef0123",
        "SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_KEY": "test-linkedin-client-id",
        "SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_SECRET": "test-linkedin-client-secret",
        "SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_OIDC_ENDPOINT": "https://www.linkedin.com/oauth",
        "DATABASE_URL": "postgres://u:p@127.0.0.1:5432/db",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "STRIPE_API_HOST": "",
        "EMAIL_HOST": "",
        "EMAIL_PORT": "",
        "EMAIL_USE_TLS": "",
        "DEFAULT_FROM_EMAIL": "billing@opensecdata.example",
    }

    def manage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=BACKEND, env=env,
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    shown = manage(
        "shell", "-c", "from django.conf import settings as s; print(s.EMAIL_USE_TLS, s.EMAIL_PORT)"
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip().endswith("True 587")
    assert manage("check").returncode == 0
    deploy = manage("check", "--deploy", "--fail-level", "WARNING")
    assert deploy.returncode != 0 and "billing.W001" in deploy.stderr
    env["EMAIL_HOST"] = "smtp.mailprovider.example"
    assert "billing.W00" not in manage("check", "--deploy").stderr
