"""System checks keep the dev LinkedIn stand-in and weak JWT keys out of production."""

from __future__ import annotations

from django.test import override_settings

from accounts.checks import jwt_signing_key_strong, linkedin_configured

REAL = {
    "DEVTOOLS_ALLOWED": False,
    "SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_OIDC_ENDPOINT": "https://www.linkedin.com/oauth",
    "SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_KEY": "86abcdefghijkl",
    "SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_SECRET": "WPL_AP1.realistic.secret",
}


def ids(errors: list) -> list[str]:
    return [error.id for error in errors]


def test_real_linkedin_passes() -> None:
    with override_settings(**REAL):
        assert linkedin_configured(None) == []


def test_stand_in_refused_without_devtools() -> None:
    with override_settings(
        **{
            **REAL,
            "SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_OIDC_ENDPOINT": "http://127.0.0.1:8000/_dev/oidc",
        }
    ):
        assert ids(linkedin_configured(None)) == ["accounts.E001"]


def test_stand_in_allowed_with_devtools() -> None:
    with override_settings(
        **{
            **REAL,
            "DEVTOOLS_ALLOWED": True,
            "SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_OIDC_ENDPOINT": "http://127.0.0.1:8000/_dev/oidc",
        }
    ):
        assert linkedin_configured(None) == []


def test_missing_or_dummy_keys_refused_without_devtools() -> None:
    with override_settings(**{**REAL, "SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_KEY": ""}):
        assert ids(linkedin_configured(None)) == ["accounts.E002"]
    with override_settings(
        **{
            **REAL,
            "SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_SECRET": "dev-oidc-client-secret-not-a-key",
        }
    ):
        assert ids(linkedin_configured(None)) == ["accounts.E002"]


def test_short_jwt_key_refused() -> None:
    with override_settings(
        SIMPLE_JWT={"SIGNING_KEY": "short", "ALGORITHM": "HS256", "AUDIENCE": "a", "ISSUER": "i"}
    ):
        assert ids(jwt_signing_key_strong(None)) == ["accounts.E003"]


def test_dev_jwt_key_refused_without_devtools() -> None:
    jwt = {
        "SIGNING_KEY": "dev-only-jwt-signing-key-0123456789abcdef",
        "ALGORITHM": "HS256",
        "AUDIENCE": "a",
        "ISSUER": "i",
    }
    with override_settings(DEVTOOLS_ALLOWED=False, SIMPLE_JWT=jwt):
        assert ids(jwt_signing_key_strong(None)) == ["accounts.E004"]


def test_other_algorithm_or_missing_audience_refused() -> None:
    jwt = {"SIGNING_KEY": "k" * 40, "ALGORITHM": "none", "AUDIENCE": "", "ISSUER": "i"}
    with override_settings(SIMPLE_JWT=jwt):
        assert ids(jwt_signing_key_strong(None)) == ["accounts.E005", "accounts.E006"]


def test_current_settings_pass() -> None:
    assert jwt_signing_key_strong(None) == []
    assert linkedin_configured(None) == []
