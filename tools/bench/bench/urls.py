"""The app's URLs plus dj-stripe's webhook view (``/djstripe/webhook/<uuid>/``), for comparison.

The stock view (csrf-exempt by dj-stripe itself); ``csrf_exempt`` here only makes sure.
"""

from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from djstripe.views import ProcessWebhookView

from config.urls import handler404, handler500  # noqa: F401
from config.urls import urlpatterns as app_urlpatterns

urlpatterns = [
    # First: the app's list ends with the SPA's catch-all.
    path(
        "djstripe/webhook/<uuid:uuid>/",
        csrf_exempt(ProcessWebhookView.as_view()),
        name="djstripe_webhook_by_uuid",
    ),
    *app_urlpatterns,
]
