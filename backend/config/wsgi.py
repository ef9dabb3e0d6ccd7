"""The WSGI application: Django, with a short path for Stripe's webhook deliveries.

gunicorn (config/gunicorn.py, the image, ``make stack``) and ``manage.py runserver``
(``WSGI_APPLICATION``) serve :data:`application`. It hands exactly ``POST
/api/stripe-webhooks/`` to :class:`WebhookHandler` and everything else to Django's own
handler.

Why: the receiver answers Stripe from the signed body alone (billing/webhooks.py). Sessions,
CSRF (the view is exempt), authentication, messages and the sign-in error redirect do
nothing for it, yet they ran on every delivery. :class:`WebhookHandler` runs Django's
request cycle (``request_started``/``request_finished``, so database connections are
recycled and health-checked as usual; errors turned into answers and logged by
``django.request``; ``handler500``) with only the middleware of
:data:`WEBHOOK_MIDDLEWARE` that the answer needs: the security headers (HSTS, nosniff,
Referrer-Policy, COOP, the HTTPS redirect), the ``Host`` check and ``Content-Length``
(CommonMiddleware), ``X-Frame-Options``. So it answers what Django's full path answers, a
little sooner (billing/tests/test_webhooks.py compares the two, case by case).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any, cast

from django.conf import settings
from django.core import signals
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIRequest, get_script_name
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import reverse, set_script_prefix
from django.utils.log import log_response
from django.utils.module_loading import import_string

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

django_application = get_wsgi_application()

# After Django is set up (get_wsgi_application ran django.setup()).
from billing.webhooks import stripe_webhook  # noqa: E402

#: The middleware of settings.MIDDLEWARE that the webhook's answer needs, kept in the order
#: of the settings. Every other one is skipped on purpose (a test lists them: a middleware
#: added to the settings must be decided on here).
WEBHOOK_MIDDLEWARE = frozenset(
    {
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.middleware.clickjacking.XFrameOptionsMiddleware",
    }
)

StartResponse = Callable[..., Any]


class WebhookHandler:
    """A WSGI application for one view, behind only :data:`WEBHOOK_MIDDLEWARE`.

    The same steps as Django's ``WSGIHandler`` and ``BaseHandler.get_response``, minus the
    URL resolving and the middleware the view does not need.
    """

    def __init__(self, view: Callable[[HttpRequest], HttpResponseBase]) -> None:
        handler = convert_exception_to_response(view)
        for path in reversed([m for m in settings.MIDDLEWARE if m in WEBHOOK_MIDDLEWARE]):
            handler = convert_exception_to_response(import_string(path)(handler))
        # Synchronous all the way down (the view and these middleware are sync).
        self.handler = cast(Callable[[HttpRequest], HttpResponse], handler)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        set_script_prefix(get_script_name(environ))
        signals.request_started.send(sender=self.__class__, environ=environ)
        request = WSGIRequest(environ)
        response = self.handler(request)
        if response.status_code >= 400:
            log_response(
                "%s: %s", response.reason_phrase, request.path, response=response, request=request
            )
        headers = [
            *response.items(),
            *(("Set-Cookie", c.output(header="")) for c in response.cookies.values()),
        ]
        start_response(f"{response.status_code} {response.reason_phrase}", headers)
        # The WSGI server closes the response, which sends request_finished.
        return response  # type: ignore[return-value]  # an iterable of bytes


webhook_application = WebhookHandler(stripe_webhook)
#: Where Stripe posts (billing/urls.py), as the server sees the path.
WEBHOOK_PATH = reverse("stripe-webhooks")


def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """``POST /api/stripe-webhooks/`` to :data:`webhook_application`, the rest to Django."""
    if environ.get("PATH_INFO") == WEBHOOK_PATH and environ.get("REQUEST_METHOD") == "POST":
        return webhook_application(environ, start_response)
    return django_application(environ, start_response)
