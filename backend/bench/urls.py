"""The app's URLs plus dj-stripe's webhook view (``/djstripe/webhook/<uuid>/``), for comparison.

dj-stripe 2.11 marks ``ProcessWebhookView.dispatch`` csrf-exempt with ``method_decorator``,
but under Django 5.2 ``as_view()`` does not carry that mark, so ``include("djstripe.urls")``
answers Stripe 403 (CSRF cookie not set). The bench mounts the same stock view, only
wrapped in ``csrf_exempt`` as its authors intended.
"""

from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from djstripe.views import ProcessWebhookView

from config.urls import handler404, handler500  # noqa: F401
from config.urls import urlpatterns as app_urlpatterns

urlpatterns = [
    *app_urlpatterns,
    path(
        "djstripe/webhook/<uuid:uuid>/",
        csrf_exempt(ProcessWebhookView.as_view()),
        name="djstripe_webhook_by_uuid",
    ),
]
