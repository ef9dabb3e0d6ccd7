"""URL map. API under /api/, social sign-in under /auth/, Django admin under /admin/."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularSwaggerSplitView

from config.exceptions import json_400, json_404, json_500
from config.schema_view import SchemaView

urlpatterns = [
    path("admin/", admin.site.urls),
    path("auth/", include("accounts.social_urls", namespace="social")),
    path("api/schema/", SchemaView.as_view(), name="schema"),
    # Split view: the page's start-up script is served from ?script (no inline script), and
    # Swagger UI itself from our static files (SWAGGER_UI_DIST = "SIDECAR"): a strict CSP holds.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="swagger-ui"),
    path("api/", include("accounts.urls")),
    path("api/", include("billing.urls")),
    path("api/", include("filings.urls")),
]

if settings.DEVTOOLS_ALLOWED:
    # Local stand-ins (the dev LinkedIn provider). Never mounted in production:
    # billing/checks.py refuses the stand-ins when DEVTOOLS_ALLOWED is off.
    from devtools.stripe_proxy import stripe_proxy

    urlpatterns += [
        path("_dev/", include("devtools.urls")),
        # The Stripe.js stand-in and its API calls, same-origin (only with STRIPE_JS_URL
        # pointing at /js.stripe.com/v3/, i.e. offline; real Stripe.js talks to Stripe).
        path("js.stripe.com/v3/", stripe_proxy, {"path": "js.stripe.com/v3/"}),
        path("v1/<path:path>", stripe_proxy),
    ]

# Any other /api/ path: a JSON 404, also with DEBUG on (never Django's debug page).
urlpatterns.append(re_path(r"^api/", json_404))

if settings.SERVE_SPA:
    from config.spa import spa

    # Last: every path the backend does not own belongs to the web app's router.
    urlpatterns.append(
        re_path(r"^(?!api/|auth/|admin/|static/|_dev/|v1/|js\.stripe\.com/)(?P<path>.*)$", spa)
    )

handler400 = json_400
handler404 = json_404
handler500 = json_500
