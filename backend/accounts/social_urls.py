"""The two LinkedIn sign-in routes of social-auth, and nothing else of it, under ``/auth/``.

social-auth's own URL module also mounts disconnect and IdP-launch views the app never uses,
and its two routes answer a method they do not take with an HTML page (a CSRF 403, a 405, or
a sign-in attempt for any method on ``complete/``). Here each route takes exactly the method
the HTTP contract names (docs/api.md) and answers any other with the API's JSON 405.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from social_django import views as social

app_name = "social"  # reverse("social:begin" / "social:complete", ...) as before


def only(method: str, view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """``view`` for ``method``; a JSON 405 with ``Allow`` for any other.

    The wrapper is CSRF-exempt so that a wrong method is told so (405) rather than failing
    the CSRF check first (403); the view it calls keeps its own CSRF protection.
    """

    @csrf_exempt
    def guarded(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if request.method != method:
            response = JsonResponse(
                {
                    "detail": f'Method "{request.method}" not allowed.',
                    "code": "method_not_allowed",
                },
                status=405,
            )
            response["Allow"] = method
            return response
        return view(request, *args, **kwargs)

    return guarded


urlpatterns = [
    # A form POST with the CSRF token (social-auth's view is not CSRF-exempt: checked here).
    path("login/<str:backend>/", only("POST", csrf_protect(social.auth)), name="begin"),
    # LinkedIn sends the browser back with a GET (social-auth's view is CSRF-exempt: the
    # `state` parameter protects it).
    path("complete/<str:backend>/", only("GET", social.complete), name="complete"),
]
