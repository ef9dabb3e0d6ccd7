"""The stand-in's RSA signing key: created once, shared by every process through a file."""

import base64
import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings


def key_path() -> Path:
    configured = getattr(settings, "DEV_OIDC_KEY_FILE", "")
    return Path(configured) if configured else Path(settings.VAR_DIR) / "dev-oidc-signing-key.pem"


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _create(path: Path) -> None:
    """Write a new key with O_EXCL: if two processes race, exactly one file wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    try:
        os.link(tmp, path)  # atomic and fails if another process got there first
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


@lru_cache(maxsize=4)
def _load(path_str: str) -> tuple[Any, dict[str, Any]]:
    path = Path(path_str)
    if not path.exists():
        _create(path)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey), "the dev OIDC key must be RSA"
    numbers = key.public_key().public_numbers()
    jwk = {"kty": "RSA", "e": _b64(numbers.e), "n": _b64(numbers.n)}
    # RFC 7638 thumbprint as the key id.
    canonical = json.dumps(jwk, sort_keys=True, separators=(",", ":")).encode()
    kid = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()
    return key, {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}


def signing_key() -> tuple[Any, str]:
    """(private key, kid)."""
    key, jwk = _load(str(key_path()))
    return key, jwk["kid"]


def public_jwk() -> dict[str, Any]:
    return dict(_load(str(key_path()))[1])
