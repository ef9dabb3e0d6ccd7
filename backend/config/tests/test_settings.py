"""Production settings refuse the stand-ins and missing secrets; the stack settings are a
loud, test-only exception; the image's gunicorn config loads. Each case is a fresh process
(settings are read once per process), run like the image runs manage.py."""

from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

from config.tests.keys import stripe_key

BACKEND = Path(__file__).resolve().parents[2]

LIVE_KEY = stripe_key("sk", "live", "abcdefghijklmnop1234")
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "test-only-secret-key-4f9c1e7a2b8d3f6e0a5c9b1d7e2f8a3c-0123456789",
    "DJANGO_ALLOWED_HOSTS": "opensecdata.example",
    "STRIPE_SECRET_KEY": "sk_test_settingstest000000000000000",
    "STRIPE_PUBLISHABLE_KEY": "pk_test_settingstest000000000000000",
    "STRIPE_WEBHOOK_SECRET": "whsec_settingstest00000000000000000",
    "JWT_SIGNING_KEY": "test-only-jwt-signing-key-0123456789abcdef0123",
    "SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_KEY": "test-linkedin-client-id",
    "SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_SECRET": "test-linkedin-client-secret",
    "SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_OIDC_ENDPOINT": "https://www.linkedin.com/oauth",
    "DATABASE_URL": "postgres://u:p@127.0.0.1:5432/db",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "STRIPE_API_HOST": "",
    # An SMTP relay and a real sender, or check --deploy warns (billing.W001/W002).
    "EMAIL_HOST": "smtp.mailprovider.example",
    "DEFAULT_FROM_EMAIL": "billing@opensecdata.example",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    # Only what these tests set (and PATH/HOME), so the developer's environment cannot leak in;
    # the repo's .env still may, and every variable that matters is set here explicitly.
    base = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}
    base["VAR_DIR"] = str(BACKEND.parent / "var" / "settings-tests")
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BACKEND,
        env={**base, **PRODUCTION_ENV, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_production_check_deploy_is_clean() -> None:
    result = manage("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_the_offline_stripe_and_the_dev_linkedin() -> None:
    result = manage(
        "check",
        STRIPE_API_HOST="http://127.0.0.1:8420",
        STRIPE_SECRET_KEY="sk_test_offline0000000000000000000000",
        SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_OIDC_ENDPOINT="http://127.0.0.1:8000/_dev/oidc",
        SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_KEY="dev-oidc-client-id-not-a-linkedin-key",
    )
    assert result.returncode != 0
    for code in ("billing.E001", "billing.E002", "accounts.E001", "accounts.E002"):
        assert code in result.stderr, code


@pytest.mark.parametrize(
    "name",
    [
        "DJANGO_SECRET_KEY",
        "STRIPE_WEBHOOK_SECRET",
        "DATABASE_URL",
        "REDIS_URL",
        "DJANGO_ALLOWED_HOSTS",
    ],
)
def test_production_stops_with_a_sentence_naming_a_missing_variable(name: str) -> None:
    result = manage("check", **{name: ""})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"{name} is not set" in result.stderr


def test_production_trusts_only_a_local_proxy_by_default_and_logs_json() -> None:
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings as s; import logging; "
        "print(s.TRUSTED_PROXIES, s.DEBUG, s.DEVTOOLS_ALLOWED, s.SECURE_PROXY_SSL_HEADER); "
        f"logging.getLogger('probe').warning('key %s', {LIVE_KEY!r})",
    )
    assert result.returncode == 0, result.stderr
    assert "['127.0.0.1', '::1'] False False ('HTTP_X_FORWARDED_PROTO', 'https')" in result.stdout
    line = next(x for x in result.stderr.splitlines() if '"logger": "probe"' in x)
    assert '"level": "WARNING"' in line
    assert "sk_live_" not in line and "[redacted]" in line


def test_stack_settings_load_only_with_the_explicit_switch() -> None:
    result = manage("check", DJANGO_SETTINGS_MODULE="config.settings.stack")
    assert result.returncode != 0
    assert "OPENSEC_STACK_E2E=1" in result.stderr


def test_stack_settings_are_production_plus_the_standins_and_say_so() -> None:
    result = manage(
        "shell",
        "-c",
        "from django.conf import settings as s; "
        "print(s.DEBUG, s.DEVTOOLS_ALLOWED, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, "
        "s.SECURE_HSTS_SECONDS, s.TRUSTED_PROXIES, s.STRIPE_JS_URL)",
        DJANGO_SETTINGS_MODULE="config.settings.stack",
        OPENSEC_STACK_E2E="1",
        STRIPE_API_HOST="http://127.0.0.1:8420",
        STRIPE_SECRET_KEY="sk_test_offline0000000000000000000000",
    )
    assert result.returncode == 0, result.stderr
    expected = "False True False False 31536000 ['127.0.0.1', '::1'] /js.stripe.com/v3/"
    assert expected in result.stdout
    assert "TEST-ONLY" in result.stderr
    check = manage(
        "check",
        DJANGO_SETTINGS_MODULE="config.settings.stack",
        OPENSEC_STACK_E2E="1",
        STRIPE_API_HOST="http://127.0.0.1:8420",
        SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_OIDC_ENDPOINT="http://127.0.0.1:1/_dev/oidc",
    )
    assert check.returncode == 0, check.stderr


def test_stack_settings_refuse_live_stripe_keys() -> None:
    result = manage(
        "check",
        DJANGO_SETTINGS_MODULE="config.settings.stack",
        OPENSEC_STACK_E2E="1",
        STRIPE_SECRET_KEY=stripe_key("sk", "live", "0" * 28),
    )
    assert result.returncode != 0
    assert "refuses live Stripe keys" in result.stderr


def test_gunicorn_config_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUNICORN_BIND", "127.0.0.1:9999")
    monkeypatch.setenv("GUNICORN_WORKERS", "3")
    monkeypatch.setenv("GUNICORN_THREADS", "4")
    config = runpy.run_path(str(BACKEND / "config" / "gunicorn.py"))
    assert config["bind"] == ["127.0.0.1:9999"]
    assert config["workers"] == 3
    assert config["worker_class"] == "gthread"
    assert config["wsgi_app"] == "config.wsgi:application"
    assert config["control_socket_disable"] is True
    formatter = config["logconfig_dict"]["formatters"]["json"]["()"]
    assert formatter == "config.jsonlog.JsonFormatter"
    # No access lines unless GUNICORN_ACCESS_LOG asks (NGINX logs requests, without queries).
    assert config["logconfig_dict"]["loggers"]["gunicorn.access"]["handlers"] == []


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        ("x" * 49, "characters long"),
        ("django-insecure-" + "k3J9vQ2mZ7pL0sX4tR8wY1nB6cF5hG" * 2, "placeholder"),
        ("dev-only-insecure-secret-key-do-not-deploy-0123456789abc", "placeholder"),
        ("changeme" * 8, "placeholder"),
        ("0123456789" * 6, "repeats a pattern"),
        ("ab" * 30, "entropy"),
        # Long and unpatterned, but from four characters only (about 120 bits).
        ("acdbbdacdcbacabdbcadbdcabcadcbdabcdbacdbcadbcbadcdabdcbadbcabdcbad", "entropy"),
    ],
)
def test_production_refuses_a_weak_secret_key_at_start(key: str, reason: str) -> None:
    """Issue 12, item 10: like the JWT key, a weak DJANGO_SECRET_KEY stops every process."""
    result = manage("check", DJANGO_SECRET_KEY=key)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "DJANGO_SECRET_KEY" in result.stderr and reason in result.stderr
    assert key not in result.stderr  # the sentence names the problem, never the value


def test_a_generated_secret_key_is_accepted() -> None:
    import secrets

    from config.checks import secret_key_problem

    assert secret_key_problem(secrets.token_urlsafe(50)) is None
    for length in (32, 44, 48, 50, 64, 128):  # `openssl rand -hex 64` and friends
        for _ in range(50):
            assert secret_key_problem(secrets.token_hex(length)) is None
    assert secret_key_problem(PRODUCTION_ENV["DJANGO_SECRET_KEY"]) is None


def test_gunicorn_listens_on_loopback_unless_told() -> None:
    """Issue 12, item 6: only NGINX may reach gunicorn; compose binds its own network."""
    env = {k: v for k, v in os.environ.items() if k != "GUNICORN_BIND"}
    code = "import runpy; print(runpy.run_path('config/gunicorn.py')['bind'])"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=BACKEND, env=env, capture_output=True, text=True,
        timeout=60, check=True,
    )  # fmt: skip
    assert result.stdout.strip() == "['127.0.0.1:8000']"


def test_compose_lets_only_nginx_reach_gunicorn_and_trusts_only_nginx() -> None:
    """Issue 12, item 6, in docker-compose.yml: gunicorn publishes no port, listens on a network
    only NGINX (and itself) joins, and Django believes X-Forwarded-For from NGINX's fixed address
    only — not the network, whose gateway is the host."""
    import ipaddress

    import yaml

    compose = yaml.safe_load((BACKEND.parent / "docker-compose.yml").read_text())
    services = compose["services"]
    backend, nginx = services["backend"], services["nginx"]
    assert "ports" not in backend
    assert backend["environment"]["GUNICORN_BIND"] == "0.0.0.0:8000"
    assert set(backend["networks"]) == {"default", "edge"}
    assert set(nginx["networks"]) == {"edge"}
    on_edge = {name for name, s in services.items() if "edge" in (s.get("networks") or [])}
    assert on_edge == {"backend", "nginx"}
    (ipam,) = compose["networks"]["edge"]["ipam"]["config"]

    def default(value: str) -> str:  # "${NAME:-default}" -> "default"
        return value.split(":-", 1)[1].rstrip("}") if ":-" in value else value

    nginx_address = ipaddress.ip_address(default(nginx["networks"]["edge"]["ipv4_address"]))
    subnet = ipaddress.ip_network(default(ipam["subnet"]))
    dynamic = ipaddress.ip_network(default(ipam["ip_range"]))
    assert backend["environment"]["TRUSTED_PROXIES"] == nginx["networks"]["edge"]["ipv4_address"]
    assert nginx_address in subnet and nginx_address not in dynamic  # nobody else can take it
    assert nginx_address != next(subnet.hosts())  # the gateway (.1) is the host
    for name, service in services.items():
        if name != "nginx":
            assert "ports" not in service, name
