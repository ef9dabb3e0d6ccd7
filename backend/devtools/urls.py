"""Mounted only when settings.DEVTOOLS_ALLOWED (local and test settings)."""

from django.urls import include, path

urlpatterns: list = [
    # The dev LinkedIn: an OpenID Connect provider the real social-auth backend talks to.
    path("oidc/", include("devtools.oidc.urls")),
]
