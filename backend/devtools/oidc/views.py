"""The dev LinkedIn stand-in's endpoints (discovery, JWKS, authorize, token, userinfo)."""

import base64
import hashlib
import hmac
import re
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from . import store
from .keys import public_jwk
from .tokens import id_token_mint

DEMO_NAME = "Dana Demo"
DEMO_EMAIL = "dana.demo@example.com"
BACKEND_NAME = "linkedin-openidconnect"
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def issuer(request: HttpRequest) -> str:
    """The issuer the relying party was told about (its OIDC_ENDPOINT), else this host's."""
    configured = getattr(settings, "SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_OIDC_ENDPOINT", "") or ""
    if configured.rstrip("/").endswith("/_dev/oidc"):
        return configured.rstrip("/")
    return request.build_absolute_uri("/_dev/oidc")


def sub_for(email: str) -> str:
    """A stable, LinkedIn-looking subject derived from the e-mail address."""
    digest = hashlib.sha256(email.strip().lower().encode()).digest()
    return base64.urlsafe_b64encode(digest[:9]).decode()


def _client_ok(client_id: str | None, client_secret: str | None = None) -> bool:
    expected_id = getattr(settings, "SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_KEY", "") or ""
    if not expected_id or not hmac.compare_digest(client_id or "", expected_id):
        return False
    if client_secret is None:
        return True
    expected_secret = getattr(settings, "SOCIAL_AUTH_LINKEDIN_OPENIDCONNECT_SECRET", "") or ""
    return bool(expected_secret) and hmac.compare_digest(client_secret, expected_secret)


def _redirect_uri_ok(uri: str) -> bool:
    """Like a LinkedIn app's registered redirect URL: only the sign-in callback path."""
    parts = urlsplit(uri)
    return (
        parts.scheme in ("http", "https")
        and bool(parts.netloc)
        and parts.path == reverse("social:complete", args=[BACKEND_NAME])
        and not parts.fragment
    )


def _auth_params(data: Any) -> tuple[dict[str, str], str | None]:
    params = {
        name: data.get(name, "")
        for name in (
            "client_id",
            "redirect_uri",
            "response_type",
            "scope",
            "state",
            "nonce",
            "code_challenge",
            "code_challenge_method",
        )
    }
    if not _client_ok(params["client_id"]):
        return params, "Unknown client_id."
    if not _redirect_uri_ok(params["redirect_uri"]):
        return params, "redirect_uri is not a registered sign-in callback."
    if params["response_type"] != "code":
        return params, "Only response_type=code is supported."
    if "openid" not in params["scope"].split():
        return params, "The scope must include openid."
    if params["code_challenge"] and params["code_challenge_method"] != "S256":
        return params, "Only the S256 code challenge method is supported."
    return params, None


def _back_to_client(params: dict[str, str], **values: str) -> HttpResponseRedirect:
    if params["state"]:
        values["state"] = params["state"]
    separator = "&" if "?" in params["redirect_uri"] else "?"
    return HttpResponseRedirect(f"{params['redirect_uri']}{separator}{urlencode(values)}")


@require_GET
def discovery(request: HttpRequest) -> JsonResponse:
    base = issuer(request)
    return JsonResponse(
        {
            "issuer": base,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "userinfo_endpoint": f"{base}/userinfo",
            "jwks_uri": f"{base}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "claims_supported": [
                "iss",
                "aud",
                "iat",
                "exp",
                "sub",
                "name",
                "given_name",
                "family_name",
                "email",
                "email_verified",
                "locale",
            ],
            "code_challenge_methods_supported": ["S256"],
        }
    )


@require_GET
def jwks(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"keys": [public_jwk()]})


@never_cache
@require_http_methods(["GET", "POST"])
def authorize(request: HttpRequest) -> HttpResponse:
    """GET: the "Sign in as" page. POST (CSRF-protected form): sign in or cancel."""
    data = request.GET if request.method == "GET" else request.POST
    params, problem = _auth_params(data)
    if problem:
        # Never redirect to an unvalidated redirect_uri: say so here instead.
        return render(request, "devtools/oidc/error.html", {"problem": problem}, status=400)

    if request.method == "GET":
        context = {"params": params, "name": DEMO_NAME, "email": DEMO_EMAIL, "sub": ""}
        return render(request, "devtools/oidc/authorize.html", context)

    if "cancel" in request.POST:
        return _back_to_client(
            params,
            error="user_cancelled_login",
            error_description="The user cancelled LogIn",
        )

    name = request.POST.get("name", "").strip()[:200]
    email = request.POST.get("email", "").strip()[:254]
    sub = request.POST.get("sub", "").strip()[:128] or sub_for(email)
    if not name or not EMAIL_RE.match(email):
        context = {
            "params": params,
            "name": name,
            "email": email,
            "sub": request.POST.get("sub", ""),
            "problem": "Enter a name and a valid e-mail address.",
        }
        return render(request, "devtools/oidc/authorize.html", context, status=400)
    given, _, family = name.partition(" ")
    identity = {
        "sub": sub,
        "name": name,
        "given_name": given,
        "family_name": family,
        "email": email,
        "email_verified": True,
        "locale": {"country": "US", "language": "en"},
    }
    grant = {
        "client_id": params["client_id"],
        "redirect_uri": params["redirect_uri"],
        "nonce": params["nonce"],
        "code_challenge": params["code_challenge"],
        "identity": identity,
    }
    return _back_to_client(params, code=store.code_create(grant))


def _token_error(error: str, description: str, status: int = 400) -> JsonResponse:
    response = JsonResponse({"error": error, "error_description": description}, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _client_credentials(request: HttpRequest) -> tuple[str, str]:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header.startswith("Basic "):
        try:
            decoded = base64.b64decode(header[6:]).decode()
        except ValueError:
            return "", ""
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    return request.POST.get("client_id", ""), request.POST.get("client_secret", "")


@csrf_exempt  # server-to-server; authenticated by the client secret
@require_POST
def token(request: HttpRequest) -> JsonResponse:
    client_id, client_secret = _client_credentials(request)
    if not _client_ok(client_id, client_secret):
        return _token_error("invalid_client", "Client authentication failed.", status=401)
    if request.POST.get("grant_type") != "authorization_code":
        return _token_error("unsupported_grant_type", "Only authorization_code is supported.")
    grant = store.code_redeem(request.POST.get("code", ""))
    if grant is None:
        return _token_error("invalid_grant", "The code is unknown, expired or already used.")
    if grant["client_id"] != client_id or grant["redirect_uri"] != request.POST.get("redirect_uri"):
        return _token_error("invalid_grant", "redirect_uri or client does not match the code.")
    if grant["code_challenge"]:
        verifier = request.POST.get("code_verifier", "")
        computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        if not hmac.compare_digest(computed.rstrip(b"=").decode(), grant["code_challenge"]):
            return _token_error("invalid_grant", "The code_verifier does not match.")
    identity = dict(grant["identity"])
    access_token = store.access_token_create(identity)
    if grant["nonce"]:
        identity["nonce"] = grant["nonce"]
    id_token = id_token_mint(
        issuer=issuer(request), client_id=client_id, identity=identity, access_token=access_token
    )
    response = JsonResponse(
        {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": store.ACCESS_TOKEN_TTL_SECONDS,
            "scope": "openid profile email",
            "id_token": id_token,
        }
    )
    response["Cache-Control"] = "no-store"
    return response


@csrf_exempt
@require_http_methods(["GET", "POST"])
def userinfo(request: HttpRequest) -> JsonResponse:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    identity = store.access_token_identity(header[7:]) if header.startswith("Bearer ") else None
    if identity is None:
        response = JsonResponse(
            {"error": "invalid_token", "error_description": "Unknown or expired access token."},
            status=401,
        )
        response["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response
    return JsonResponse(identity)
