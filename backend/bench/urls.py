"""The app's URLs plus ``djstripe.urls`` (``/djstripe/webhook/<uuid>/``), for the comparison."""

from django.urls import include, path

from config.urls import handler404, handler500  # noqa: F401
from config.urls import urlpatterns as app_urlpatterns

urlpatterns = [
    *app_urlpatterns,
    path("djstripe/", include("djstripe.urls", namespace="djstripe")),
]
