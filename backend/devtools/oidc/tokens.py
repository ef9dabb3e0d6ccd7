"""ID tokens the stand-in signs, plus deliberate faults that tests switch on."""

import base64
import hashlib
import json
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

from .keys import signing_key

ID_TOKEN_TTL_SECONDS = 3600

# Test-only: settings.DEV_OIDC_MISBEHAVE makes the token endpoint hand out a bad id token,
# so tests can prove the relying party rejects it. Never set outside tests.
FAULTS = {"foreign_key", "alg_none", "wrong_aud", "wrong_iss", "expired", "stale_iat"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode()).digest()
    return _b64(digest[: len(digest) // 2])


def id_token_mint(
    *, issuer: str, client_id: str, identity: dict[str, Any], access_token: str
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": client_id,
        "iat": now,
        "exp": now + ID_TOKEN_TTL_SECONDS,
        "at_hash": at_hash(access_token),
        **identity,
    }
    key, kid = signing_key()
    fault = getattr(settings, "DEV_OIDC_MISBEHAVE", "") or ""
    if fault == "wrong_aud":
        claims["aud"] = "someone-elses-client-id"
    elif fault == "wrong_iss":
        claims["iss"] = "https://evil.example/oauth"
    elif fault == "expired":
        claims["iat"], claims["exp"] = now - 7200, now - 3600
    elif fault == "stale_iat":
        claims["iat"] = now - 3600
    elif fault == "foreign_key":
        # Same kid, another key: a forger who copied the header but not the key.
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif fault == "alg_none":
        header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": kid}).encode())
        return f"{header}.{_b64(json.dumps(claims).encode())}."
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})
